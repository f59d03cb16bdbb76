import { type Algorithm, hash, verify } from '@node-rs/argon2';
import { normalisePassword } from './password-normalisation';

// `Algorithm` is a const enum, which isolated modules cannot read at run time: 2 is Argon2id.
const ARGON2ID = 2 as Algorithm.Argon2id;

/**
 * argon2id at OWASP's recommended floor or above (m ≥ 19 MiB, t ≥ 2); every option explicit
 * so a library default change cannot weaken stored hashes. (@node-rs/argon2: the RustCrypto
 * implementation as a prebuilt N-API module, no compiler needed at install.)
 */
export const PASSWORD_HASH_OPTIONS = {
  algorithm: ARGON2ID,
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
  outputLen: 32,
} as const;

// PHC string format: $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>
const ARGON2ID_PHC =
  /^\$argon2id\$v=19\$m=([0-9]{1,10}),t=([0-9]{1,10}),p=([0-9]{1,3})\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/;

/** Hashes the NFKC form, so the same password typed on two keyboards verifies (NIST SP 800-63B §5.1.1.2). */
export function hashPassword(password: string): Promise<string> {
  return hash(normalisePassword(password), PASSWORD_HASH_OPTIONS);
}

/** Constant-time inside argon2; false (never an exception) for a malformed stored hash. */
export async function verifyPassword(storedHash: string, password: string): Promise<boolean> {
  try {
    return await verify(storedHash, normalisePassword(password));
  } catch {
    return false;
  }
}

/**
 * True when a stored hash is weaker than today's parameters (or not argon2id at all, or
 * unreadable): the login flow re-hashes the password it has just verified, so raising the
 * cost later upgrades every active user without a reset.
 */
export function needsRehash(storedHash: string): boolean {
  const match = ARGON2ID_PHC.exec(storedHash);
  if (match === null) return true;
  const [memoryKiB, passes, lanes] = [Number(match[1]), Number(match[2]), Number(match[3])];
  return (
    memoryKiB < PASSWORD_HASH_OPTIONS.memoryCost ||
    passes < PASSWORD_HASH_OPTIONS.timeCost ||
    lanes < PASSWORD_HASH_OPTIONS.parallelism
  );
}
