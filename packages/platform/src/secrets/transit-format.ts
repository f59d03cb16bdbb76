import { createPublicKey, verify as verifySignature } from 'node:crypto';
import type { TransitPublicKey } from './secrets-provider';

export type TransitPrefix = 'vault' | 'local';

export interface VersionedValue {
  prefix: TransitPrefix;
  version: number;
  payload: Buffer;
}

// Vault's wire format for ciphertexts and signatures: `vault:v<version>:<standard base64>`.
const VERSIONED = /^(vault|local):v([1-9][0-9]{0,8}):([A-Za-z0-9+/]+={0,2})$/;

export function formatVersioned(prefix: TransitPrefix, version: number, payload: Buffer): string {
  return `${prefix}:v${version}:${payload.toString('base64')}`;
}

/** Null when the string is not a well-formed versioned value (callers decide whether that is an error). */
export function parseVersioned(value: string): VersionedValue | null {
  const match = VERSIONED.exec(value);
  if (match === null) return null;
  const payload = Buffer.from(match[3]!, 'base64');
  // Reject non-canonical base64 so one payload has one spelling.
  if (payload.toString('base64') !== match[3]) return null;
  return { prefix: match[1] as TransitPrefix, version: Number(match[2]), payload };
}

// SubjectPublicKeyInfo DER prefix of an Ed25519 key (RFC 8410 §4): the raw 32 bytes follow it.
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const ED25519_PUBLIC_KEY_BYTES = 32;

export function ed25519PublicKeyFromRaw(raw: Buffer) {
  return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

export function rawEd25519PublicKey(spkiDer: Buffer): Buffer {
  return spkiDer.subarray(spkiDer.length - ED25519_PUBLIC_KEY_BYTES);
}

/**
 * Verifies a transit Ed25519 signature with published public keys only — what a third party
 * holding `publicKeys(name)` does, without access to Vault or the local state.
 */
export function verifyWithPublicKeys(publicKeys: TransitPublicKey[], data: Buffer, signature: string): boolean {
  const parsed = parseVersioned(signature);
  if (parsed === null) return false;
  const entry = publicKeys.find((key) => key.version === parsed.version);
  if (entry === undefined) return false;
  const raw = Buffer.from(entry.publicKey, 'base64');
  if (raw.length !== ED25519_PUBLIC_KEY_BYTES) return false;
  return verifySignature(null, data, ed25519PublicKeyFromRaw(raw), parsed.payload);
}
