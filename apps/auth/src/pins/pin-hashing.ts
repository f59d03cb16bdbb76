import bcrypt from 'bcryptjs';

/**
 * Seed 001: "Bcrypt for password and PIN hashing at min 12 rounds". bcryptjs is bcrypt in
 * plain JavaScript (no native build); its hashes are the standard $2b$ format.
 */
export const PIN_BCRYPT_COST = 12;
const BCRYPT_HASH = /^\$2[aby]\$([0-9]{2})\$[./A-Za-z0-9]{53}$/;
// A PIN is at most 6 digits; anything longer is refused before bcrypt spends 250 ms on it.
const PIN_INPUT_LENGTH_MAX = 16;

export function hashPin(pin: string): Promise<string> {
  return bcrypt.hash(pin, PIN_BCRYPT_COST);
}

/** False (never an exception) for a malformed hash or oversized input; bcrypt compares in constant time. */
export async function verifyPin(storedHash: string, pin: string): Promise<boolean> {
  if (pin.length > PIN_INPUT_LENGTH_MAX || !BCRYPT_HASH.test(storedHash)) return false;
  try {
    return await bcrypt.compare(pin, storedHash);
  } catch {
    return false;
  }
}

/** True when the stored hash is unreadable or cheaper than today's cost: re-hash after a verified PIN. */
export function pinNeedsRehash(storedHash: string): boolean {
  const match = BCRYPT_HASH.exec(storedHash);
  return match === null || Number(match[1]) < PIN_BCRYPT_COST;
}
