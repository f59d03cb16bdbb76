import { randomBytes } from 'node:crypto';
import { ACCESS_TOKEN_TTL_SECONDS_MAX, type PublicJwk } from '@strongroom/contracts';
import { exportJWK, generateKeyPair, type JWK } from 'jose';

/** A token-signing key and its life: published before use, used, then published until its tokens expire. */
export interface SigningKey {
  kid: string;
  /** RS256 for new keys; rings made before keep their ES256 keys until those retire. */
  alg: SigningAlgorithm;
  privateJwk: JWK;
  publicJwk: PublicJwk;
  createdAt: string;
  /** Signs from this moment: verifiers have had time to fetch it (JWKS cache TTL). */
  activatesAt: string;
  /** Stops signing when the next key activates. */
  retiresAt?: string;
}

export type SigningAlgorithm = 'RS256' | 'ES256';
/**
 * Seed 003: "JWT-formatted with RS256 signatures". RSA also verifies ~3x faster than ECDSA
 * P-256 (every service verifies every token it has not seen), at the price of a slower
 * signature in auth; 2048-bit keys (NIST SP 800-57: acceptable through 2030, rotated every 90 days).
 */
export const SIGNING_ALGORITHM: SigningAlgorithm = 'RS256';
const RSA_MODULUS_BITS = 2048;

/** Longer than any verifier's JWKS cache (platform JwksCache: 300 s), so no verifier meets an unknown kid. */
export const PUBLISH_LEAD_SECONDS = 10 * 60;
/** Seed 003: signing keys rotate automatically; 90 days like the data keys. */
export const SIGNING_KEY_ROTATION_DAYS = 90;
const DAY_MS = 86_400_000;

export async function newSigningKey(now: Date, activatesAt: Date): Promise<SigningKey> {
  const alg = SIGNING_ALGORITHM;
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, modulusLength: RSA_MODULUS_BITS });
  const kid = randomBytes(12).toString('base64url');
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } as PublicJwk;
  return {
    kid,
    alg,
    privateJwk: { ...(await exportJWK(privateKey)), kid, alg, use: 'sig' },
    publicJwk,
    createdAt: now.toISOString(),
    activatesAt: activatesAt.toISOString(),
  };
}

/** The key that signs now: the newest one already active. */
export function currentKey(keys: readonly SigningKey[], now: Date): SigningKey | undefined {
  return keys
    .filter((key) => Date.parse(key.activatesAt) <= now.getTime())
    .sort((a, b) => Date.parse(b.activatesAt) - Date.parse(a.activatesAt))[0];
}

/** What JWKS shows: the next key before it signs, the current one, and retired ones until their last token expires. */
export function publishedKeys(keys: readonly SigningKey[], now: Date): PublicJwk[] {
  const stillVerifiable = (key: SigningKey) =>
    key.retiresAt === undefined || Date.parse(key.retiresAt) + ACCESS_TOKEN_TTL_SECONDS_MAX * 1000 > now.getTime();
  return keys.filter(stillVerifiable).map((key) => key.publicJwk);
}

export function rotationDue(keys: readonly SigningKey[], now: Date): boolean {
  const newest = [...keys].sort((a, b) => Date.parse(b.activatesAt) - Date.parse(a.activatesAt))[0];
  return newest === undefined || Date.parse(newest.activatesAt) + SIGNING_KEY_ROTATION_DAYS * DAY_MS <= now.getTime();
}

/**
 * Adds the next key, active after the publish lead (immediately when there is no key at all,
 * since nothing can have been signed yet), retires the current one at that moment, and drops
 * keys no token can still need.
 */
export async function rotate(keys: readonly SigningKey[], now: Date): Promise<SigningKey[]> {
  const current = currentKey(keys, now);
  const activatesAt = current === undefined ? now : new Date(now.getTime() + PUBLISH_LEAD_SECONDS * 1000);
  const next = await newSigningKey(now, activatesAt);
  const kept = keys
    .map((key) => (key.retiresAt === undefined ? { ...key, retiresAt: next.activatesAt } : key))
    .filter((key) => Date.parse(key.retiresAt!) + ACCESS_TOKEN_TTL_SECONDS_MAX * 1000 > now.getTime());
  return [...kept, next];
}
