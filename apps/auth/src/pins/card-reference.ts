import { isCardNumber, normaliseCardNumber } from '@strongroom/platform';

/**
 * A keyed, deterministic hash of a normalised card number (the platform Tokenizer's token, or
 * a PepperedHasher with its own domain): lookups by card without storing the number.
 */
export interface CardNumberHasher {
  hash(normalisedCardNumber: string): Promise<string>;
}

export interface CardReference {
  cardNumberHash: string;
  /** Kept in clear for display (`•••• 4242`). */
  last4: string;
}

export type CardReferenceResult = { ok: true; card: CardReference } | { ok: false; reason: 'invalid_card_number' };

// Longer input is refused before normalising; a PAN with grouping is well under this.
const CARD_INPUT_LENGTH_MAX = 64;

/**
 * Seed 001: "Card numbers are never stored raw — only a … hash plus the last four digits".
 * A keyed hash rather than the seed's bcrypt, deliberately: next to the stored last4 and a
 * guessable issuer prefix, a PAN leaves ~10^5-10^6 Luhn-valid candidates, which a stolen table
 * lets anyone try offline against a salted bcrypt hash in hours; an HMAC under a key kept in the
 * secrets provider (DESIGN "Tokenization") cannot be tried without that key, and being
 * deterministic it finds a card already registered (bcrypt's salt would not). The number itself
 * appears in no result and no error.
 */
export async function cardReference(cardNumber: string, hasher: CardNumberHasher): Promise<CardReferenceResult> {
  if (cardNumber.length > CARD_INPUT_LENGTH_MAX) return { ok: false, reason: 'invalid_card_number' };
  const normalised = normaliseCardNumber(cardNumber);
  if (!isCardNumber(normalised)) return { ok: false, reason: 'invalid_card_number' };
  return { ok: true, card: { cardNumberHash: await hasher.hash(normalised), last4: normalised.slice(-4) } };
}
