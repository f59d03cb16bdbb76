import type { AuditEventInput } from '@strongroom/contracts';
import { AUTH_SERVICE_ACTOR, type AuditTrail, authAuditEvent } from '../auth-audit';
import type { PinLockState, PinOutcome } from '../pins/pin-lock';

/**
 * The audit events of cards and PINs (issue 7): a card is named by its id, never by its number
 * or its last digits, and a PIN never appears.
 */
export type PinAction = 'auth.card.verify-pin' | 'auth.card.change-pin';
export type CardAction = PinAction | 'auth.card.register' | 'auth.card.unlock';

export function cardAuditEvent(
  trail: AuditTrail,
  tenantId: string,
  cardId: string,
  fact: {
    action: CardAction | 'auth.card.lock';
    outcome?: AuditEventInput['outcome'];
    reason?: string;
    details?: AuditEventInput['details'];
    at?: Date;
    actor?: AuditEventInput['actor'];
  },
): AuditEventInput {
  const { at, ...rest } = fact;
  return authAuditEvent(trail, {
    tenantId,
    resource: { type: 'card', id: cardId },
    ...(at !== undefined ? { occurredAt: at.toISOString() } : {}),
    ...rest,
  });
}

/**
 * What a PIN attempt that changed the card records: a wrong PIN (with the count), the lock it
 * caused (auth's own act, by the rule of seed 001), a PIN changed. A right PIN, not at all.
 */
export function pinAttemptAuditEvents(
  trail: AuditTrail,
  tenantId: string,
  cardId: string,
  action: PinAction,
  outcome: PinOutcome,
  next: PinLockState,
  at: Date,
): AuditEventInput[] {
  const wrongPin = (details: AuditEventInput['details']) =>
    cardAuditEvent(trail, tenantId, cardId, { action, outcome: 'failure', reason: 'wrong_pin', details, at });
  switch (outcome.kind) {
    case 'rejected':
      return [
        wrongPin({ consecutiveFailures: next.consecutiveFailures, attemptsRemaining: outcome.attemptsRemaining }),
      ];
    case 'locked_now':
      return [
        wrongPin({ consecutiveFailures: next.consecutiveFailures, attemptsRemaining: 0 }),
        cardAuditEvent(trail, tenantId, cardId, {
          action: 'auth.card.lock',
          actor: AUTH_SERVICE_ACTOR,
          details: { consecutiveFailures: next.consecutiveFailures },
          at,
        }),
      ];
    case 'accepted':
      return action === 'auth.card.change-pin' ? [cardAuditEvent(trail, tenantId, cardId, { action, at })] : [];
    default:
      return [];
  }
}
