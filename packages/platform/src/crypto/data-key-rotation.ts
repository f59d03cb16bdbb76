// Seed 003: "Encryption keys managed through HSM with automatic rotation every 90 days."
export const DATA_KEY_ROTATION_PERIOD_DAYS = 90;
const DAY_MS = 24 * 60 * 60 * 1000;

/** True once a data key has encrypted new data for the whole rotation period. */
export function dueForRotation(
  key: { createdAt: Date },
  now: Date = new Date(),
  periodDays: number = DATA_KEY_ROTATION_PERIOD_DAYS,
): boolean {
  return now.getTime() - key.createdAt.getTime() >= periodDays * DAY_MS;
}
