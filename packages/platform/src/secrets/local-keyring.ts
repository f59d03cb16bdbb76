import {
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  generateKeyPairSync,
  randomBytes,
  sign,
  verify as verifySignature,
} from 'node:crypto';
import { z } from 'zod';
import { SecretsError } from './secrets-error';
import type { TransitCipherOptions, TransitKeyType, TransitPublicKey } from './secrets-provider';
import { ed25519PublicKeyFromRaw, formatVersioned, parseVersioned, rawEd25519PublicKey } from './transit-format';

const AES_KEY_BYTES = 32;
// aes256-gcm96: a 96-bit nonce (NIST SP 800-38D §8.2.2), as Vault's key type name says.
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export const keyVersionSchema = z.object({
  version: z.number().int().positive(),
  createdTime: z.string(),
  /** aes256-gcm96: the raw key, base64. */
  key: z.string().optional(),
  /** ed25519: PKCS#8 DER private key and raw public key, base64. */
  privateKey: z.string().optional(),
  publicKey: z.string().optional(),
});
export const keyringSchema = z.object({
  name: z.string(),
  type: z.enum(['aes256-gcm96', 'ed25519']),
  latestVersion: z.number().int().positive(),
  versions: z.array(keyVersionSchema),
});
export type Keyring = z.infer<typeof keyringSchema>;
type KeyVersion = z.infer<typeof keyVersionSchema>;

export function newKeyVersion(type: TransitKeyType, version: number, now: Date): KeyVersion {
  const createdTime = now.toISOString();
  if (type === 'aes256-gcm96') return { version, createdTime, key: randomBytes(AES_KEY_BYTES).toString('base64') };
  const pair = generateKeyPairSync('ed25519');
  return {
    version,
    createdTime,
    privateKey: pair.privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64'),
    publicKey: rawEd25519PublicKey(pair.publicKey.export({ format: 'der', type: 'spki' })).toString('base64'),
  };
}

/** Vault's layout for aes256-gcm96: base64(nonce || ciphertext || tag). */
export function sealWithKeyring(ring: Keyring, plaintext: Buffer, options: TransitCipherOptions = {}): string {
  const entry = versionOf(ring, ring.latestVersion, 'aes256-gcm96');
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', Buffer.from(entry.key!, 'base64'), nonce, { authTagLength: TAG_BYTES });
  if (options.context !== undefined) cipher.setAAD(options.context);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return formatVersioned('local', entry.version, Buffer.concat([nonce, body, cipher.getAuthTag()]));
}

export function openWithKeyring(ring: Keyring, ciphertext: string, options: TransitCipherOptions = {}): Buffer {
  const parsed = parseVersioned(ciphertext);
  if (parsed === null || parsed.prefix !== 'local' || parsed.payload.length < NONCE_BYTES + TAG_BYTES) {
    throw SecretsError.invalid('The ciphertext is malformed', { key: ring.name });
  }
  const entry = versionOf(ring, parsed.version, 'aes256-gcm96');
  const { payload } = parsed;
  try {
    const decipher = createDecipheriv(
      'aes-256-gcm',
      Buffer.from(entry.key!, 'base64'),
      payload.subarray(0, NONCE_BYTES),
      {
        authTagLength: TAG_BYTES,
      },
    );
    if (options.context !== undefined) decipher.setAAD(options.context);
    decipher.setAuthTag(payload.subarray(payload.length - TAG_BYTES));
    return Buffer.concat([
      decipher.update(payload.subarray(NONCE_BYTES, payload.length - TAG_BYTES)),
      decipher.final(),
    ]);
  } catch {
    throw SecretsError.invalid('cipher: message authentication failed', { key: ring.name });
  }
}

export function signWithKeyring(ring: Keyring, data: Buffer): string {
  const entry = versionOf(ring, ring.latestVersion, 'ed25519');
  const privateKey = createPrivateKey({ key: Buffer.from(entry.privateKey!, 'base64'), format: 'der', type: 'pkcs8' });
  return formatVersioned('local', entry.version, sign(null, data, privateKey));
}

export function verifyWithKeyring(ring: Keyring, data: Buffer, signature: string): boolean {
  if (ring.type !== 'ed25519') throw SecretsError.invalid(`key type ${ring.type} does not support verification`);
  const parsed = parseVersioned(signature);
  if (parsed === null || parsed.prefix !== 'local') return false;
  const entry = ring.versions.find((v) => v.version === parsed.version);
  if (entry?.publicKey === undefined) return false;
  return verifySignature(null, data, ed25519PublicKeyFromRaw(Buffer.from(entry.publicKey, 'base64')), parsed.payload);
}

export function publicKeysOf(ring: Keyring): TransitPublicKey[] {
  if (ring.type !== 'ed25519')
    throw SecretsError.invalid(`key type ${ring.type} has no public key`, { key: ring.name });
  return ring.versions.map((v) => ({ version: v.version, publicKey: v.publicKey!, createdTime: v.createdTime }));
}

function versionOf(ring: Keyring, version: number, type: TransitKeyType): KeyVersion {
  if (ring.type !== type) {
    throw SecretsError.invalid(`key type ${ring.type} does not support this operation`, { key: ring.name });
  }
  const entry = ring.versions.find((v) => v.version === version);
  if (entry === undefined) throw SecretsError.invalid('invalid key version', { key: ring.name, version });
  return entry;
}
