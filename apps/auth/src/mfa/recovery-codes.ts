import { randomInt } from 'node:crypto';

/**
 * Hashes high-entropy secrets; the platform's PepperedHasher (HMAC-SHA256 under a pepper,
 * constant-time verify) satisfies it, as does any test double.
 */
export interface SecretHasher {
  hash(value: string): Promise<string>;
  verify(value: string, hashed: string): Promise<boolean>;
}

export interface StoredRecoveryCode {
  hash: string;
  /** ISO-8601 time it was redeemed; a used code never verifies again. */
  usedAt: string | null;
}

export interface GeneratedRecoveryCodes {
  /** Shown to the user once, never stored or logged. */
  codes: string[];
  stored: StoredRecoveryCode[];
}

export type RecoveryCodeRedemption =
  | { ok: true; stored: StoredRecoveryCode[]; remaining: number }
  | { ok: false; reason: 'malformed_code' | 'invalid_code' };

export const RECOVERY_CODE_COUNT = 10;
// Crockford base32 without I, L, O, U: nothing a user can misread when typing from paper.
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const CODE_CHARACTERS = 10;
const CANONICAL_CODE = /^[0-9A-HJKMNP-TV-Z]{10}$/;
// Longer input is refused before hashing: an attacker's megabyte never reaches the HMAC.
const INPUT_LENGTH_MAX = 32;

/**
 * Ten single-use codes of 50 bits each (10 × 5 bits): unguessable under the login throttle,
 * short enough to type. Stored hashed (issue 4), so a database leak does not bypass MFA.
 */
export async function generateRecoveryCodes(hasher: SecretHasher): Promise<GeneratedRecoveryCodes> {
  const canonical = Array.from({ length: RECOVERY_CODE_COUNT }, randomCanonicalCode);
  const hashes = await Promise.all(canonical.map((code) => hasher.hash(code)));
  return {
    codes: canonical.map((code) => `${code.slice(0, 5)}-${code.slice(5)}`),
    stored: hashes.map((hash) => ({ hash, usedAt: null })),
  };
}

/**
 * Redeems one code: every stored hash is checked (no early exit, so timing does not reveal
 * which slot matched), a used code is treated like an unknown one, and the returned list
 * marks the match used — the service persists it with a compare-and-set on the old list so
 * two concurrent redemptions of one code cannot both succeed.
 */
export async function redeemRecoveryCode(
  hasher: SecretHasher,
  stored: readonly StoredRecoveryCode[],
  input: string,
  now: Date,
): Promise<RecoveryCodeRedemption> {
  const code = canonicalRecoveryCode(input);
  if (code === null) return { ok: false, reason: 'malformed_code' };
  const matches = await Promise.all(stored.map((entry) => hasher.verify(code, entry.hash)));
  const index = matches.findIndex((match, i) => match && stored[i]?.usedAt === null);
  if (index === -1) return { ok: false, reason: 'invalid_code' };
  const updated = stored.map((entry, i) => (i === index ? { ...entry, usedAt: now.toISOString() } : { ...entry }));
  return { ok: true, stored: updated, remaining: updated.filter((entry) => entry.usedAt === null).length };
}

/** Upper case, without the spaces and dashes people type; O→0 and I/L→1 as Crockford base32 reads them. */
export function canonicalRecoveryCode(input: string): string | null {
  if (input.length > INPUT_LENGTH_MAX) return null;
  const code = input.replace(/[\s-]/g, '').toUpperCase().replace(/O/g, '0').replace(/[IL]/g, '1');
  return CANONICAL_CODE.test(code) ? code : null;
}

function randomCanonicalCode(): string {
  let code = '';
  for (let i = 0; i < CODE_CHARACTERS; i += 1) code += ALPHABET[randomInt(ALPHABET.length)];
  return code;
}
