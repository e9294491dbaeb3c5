import { randomUUID } from "node:crypto";

const jobIdPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Whether `s` has the shape of a job id: a lowercase UUID as made by crypto.randomUUID. */
export function isJobId(s: string): boolean {
  return jobIdPattern.test(s);
}

/** A fresh job id. */
export function newJobId(): string {
  return randomUUID();
}
