/** The lower-case names of job states used in flags, tables and JSON. */
export const stateNames = ["queued", "running", "exited", "stopped", "failed"] as const;

/** A job state by its lower-case name. */
export type StateName = (typeof stateNames)[number];
