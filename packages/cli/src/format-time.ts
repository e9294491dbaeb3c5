/** A point in time for people, in UTC to the second: "2026-11-23 18:40:01 UTC". */
export function formatTime(date: Date): string {
  return `${date.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}
