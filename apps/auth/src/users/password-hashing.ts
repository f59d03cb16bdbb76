import { type Algorithm, hash, verify } from '@node-rs/argon2';

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

export function hashPassword(password: string): Promise<string> {
  return hash(password, PASSWORD_HASH_OPTIONS);
}

/** Constant-time inside argon2; false (never an exception) for a malformed stored hash. */
export async function verifyPassword(storedHash: string, password: string): Promise<boolean> {
  try {
    return await verify(storedHash, password);
  } catch {
    return false;
  }
}
