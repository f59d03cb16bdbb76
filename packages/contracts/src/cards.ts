import { z } from 'zod';
import { defineEvent, defineRequest } from './contract';
import { tenantIdSchema } from './tenants';

/**
 * Cards and their PINs (issue 4, seed 001): "Three failed card-PIN attempts auto-lock the card",
 * until an admin unlocks it; "Card numbers are never stored raw". No reply, error or event ever
 * carries a card number or a PIN: a card is named by its id and shown by its last four digits.
 */

/** Seed 001: the third consecutive wrong PIN locks the card. */
export const CARD_PIN_ATTEMPTS_MAX = 3;

/**
 * Why a PIN was refused, `details.reason` of the error (stable, for SDKs and the gateway):
 * `wrong_pin` is UNAUTHENTICATED with `details.attemptsRemaining` (1..2), `card_locked` is
 * FORBIDDEN, both for the attempt that locks the card and for every attempt while it is locked.
 */
export const CARD_PIN_REFUSALS = {
  wrong_pin: { code: 'UNAUTHENTICATED', message: 'The PIN is not correct' },
  card_locked: { code: 'FORBIDDEN', message: 'The card is locked after repeated wrong PINs; an admin must unlock it' },
} as const;
export type CardPinRefusal = keyof typeof CARD_PIN_REFUSALS;

/**
 * Digits grouped by spaces or dashes, as typed; the service normalises it and checks length
 * (12-19 digits) and the Luhn digit, answering VALIDATION `invalid_card_number` without echoing it.
 */
export const cardNumberInputSchema = z
  .string()
  .max(64)
  .regex(/^[0-9][0-9 -]*[0-9]$/, 'a card number is digits, optionally grouped by spaces or dashes');

/** Shape only (4-6 ASCII digits); a new PIN must also pass the PIN policy (no 0000, no 1234). */
export const pinSchema = z.string().regex(/^[0-9]{4,6}$/, 'a PIN is 4 to 6 digits');

/** A card as the API shows it: never its number, its keyed reference or its PIN hash. */
export const cardSchema = z
  .object({
    cardId: z.uuid(),
    tenantId: tenantIdSchema,
    ownerUserId: z.string().nullable(),
    /** For display (`•••• 4242`). */
    last4: z.string().regex(/^[0-9]{4}$/),
    locked: z.boolean(),
    createdAt: z.iso.datetime(),
  })
  .strict();
export type Card = z.infer<typeof cardSchema>;

const cardReference = z.object({ tenantId: tenantIdSchema, cardId: z.uuid() }).strict();

export const registerCard = defineRequest({
  subject: 'auth.v1.cards.register',
  request: z
    .object({
      tenantId: tenantIdSchema,
      cardNumber: cardNumberInputSchema,
      /** The initial PIN; VALIDATION with `details.violations` when the PIN policy refuses it. */
      pin: pinSchema,
      ownerUserId: z.string().min(1).max(200).optional(),
    })
    .strict(),
  response: cardSchema.extend({ locked: z.literal(false) }),
  permission: 'auth.cards.register',
  summary: 'Register a card and its initial PIN (stored as a keyed reference + last4 and a bcrypt hash)',
});

export const verifyCardPin = defineRequest({
  subject: 'auth.v1.cards.verify-pin',
  request: cardReference.extend({ pin: pinSchema }).strict(),
  response: z.object({ outcome: z.literal('accepted') }).strict(),
  permission: 'auth.cards.verify-pin',
  summary:
    'Check a card PIN: UNAUTHENTICATED wrong_pin (attemptsRemaining), FORBIDDEN card_locked on the third failure and after',
});

export const changeCardPin = defineRequest({
  subject: 'auth.v1.cards.change-pin',
  /** `pin` is the current PIN: a wrong one counts toward the lock exactly as in verify-pin. */
  request: cardReference.extend({ pin: pinSchema, newPin: pinSchema }).strict(),
  response: z.object({ outcome: z.literal('changed') }).strict(),
  permission: 'auth.cards.change-pin',
  summary: 'Change a card PIN, proving the current one (a wrong one counts toward the lock)',
});

export const unlockCard = defineRequest({
  subject: 'auth.v1.cards.unlock',
  request: cardReference,
  response: cardSchema,
  permission: 'auth.cards.unlock',
  summary: 'Unlock a card and clear its failure count (idempotent; admins)',
});

export const cardLocked = defineEvent({
  subject: 'evt.auth.v1.cards.locked',
  payload: z
    .object({
      cardId: z.uuid(),
      tenantId: tenantIdSchema,
      ownerUserId: z.string().nullable(),
      consecutiveFailures: z.number().int().min(CARD_PIN_ATTEMPTS_MAX),
      lockedAt: z.iso.datetime(),
      /** The principal whose wrong PIN locked it (a user id or service subject). */
      actor: z.string().min(1),
    })
    .strict(),
  summary: 'A card locked itself after three consecutive wrong PINs (no PIN, no card number)',
});

export const cardUnlocked = defineEvent({
  subject: 'evt.auth.v1.cards.unlocked',
  payload: z
    .object({
      cardId: z.uuid(),
      tenantId: tenantIdSchema,
      ownerUserId: z.string().nullable(),
      unlockedAt: z.iso.datetime(),
      actor: z.string().min(1),
    })
    .strict(),
  summary: 'An admin unlocked a locked card (no PIN, no card number)',
});
