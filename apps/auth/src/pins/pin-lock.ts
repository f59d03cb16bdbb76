/** Seed 001: "Three failed card-PIN attempts auto-lock the card" (issue 4: until an admin unlocks). */
export const PIN_FAILURES_BEFORE_LOCK = 3;

export interface PinLockState {
  /** Consecutive failures since the last success or unlock; 0..PIN_FAILURES_BEFORE_LOCK. */
  consecutiveFailures: number;
  /** ISO-8601 time the card was locked, or null while it is usable. */
  lockedAt: string | null;
}

export const PIN_LOCK_INITIAL: PinLockState = { consecutiveFailures: 0, lockedAt: null };

export type PinEvent =
  | { type: 'pin_verified' }
  | { type: 'pin_rejected'; at: Date }
  | { type: 'admin_unlocked'; at: Date };

export type PinOutcome =
  | { kind: 'accepted' }
  | { kind: 'rejected'; attemptsRemaining: number }
  | { kind: 'locked_now' }
  | { kind: 'refused_locked' }
  | { kind: 'unlocked' };

export interface PinTransition {
  state: PinLockState;
  outcome: PinOutcome;
}

/** Callers check this before spending a bcrypt verify: a locked card answers "locked" for any PIN. */
export function pinAttemptAllowed(state: PinLockState): boolean {
  return state.lockedAt === null;
}

/**
 * The whole lock rule as a pure transition, so the service stores the new state in the same
 * statement that reads the old one (`UPDATE … WHERE consecutive_failures = $old`) and two
 * concurrent wrong PINs cannot both count as the second failure.
 */
export function applyPinEvent(state: PinLockState, event: PinEvent): PinTransition {
  if (event.type === 'admin_unlocked') {
    return { state: PIN_LOCK_INITIAL, outcome: { kind: 'unlocked' } };
  }
  // A locked card stays locked whatever is typed: even the right PIN does not unlock it.
  if (state.lockedAt !== null) return { state, outcome: { kind: 'refused_locked' } };
  if (event.type === 'pin_verified') return { state: PIN_LOCK_INITIAL, outcome: { kind: 'accepted' } };
  const consecutiveFailures = Math.min(Math.max(state.consecutiveFailures, 0) + 1, PIN_FAILURES_BEFORE_LOCK);
  if (consecutiveFailures >= PIN_FAILURES_BEFORE_LOCK) {
    return { state: { consecutiveFailures, lockedAt: event.at.toISOString() }, outcome: { kind: 'locked_now' } };
  }
  return {
    state: { consecutiveFailures, lockedAt: null },
    outcome: { kind: 'rejected', attemptsRemaining: PIN_FAILURES_BEFORE_LOCK - consecutiveFailures },
  };
}
