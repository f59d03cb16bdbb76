import {
  createCipheriv,
  createDecipheriv,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign,
  verify,
} from 'node:crypto';
import { decodeBase64Field, type JsonObject, VaultHttpError } from './vault-http-error';

type KeyType = 'aes256-gcm96' | 'ed25519';

interface KeyVersion {
  creationTime: Date;
  aesKey?: Buffer;
  privateKey?: KeyObject;
  publicKey?: KeyObject;
}

interface TransitKey {
  name: string;
  type: KeyType;
  latestVersion: number;
  versions: Map<number, KeyVersion>;
}

const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/**
 * The Transit secrets engine subset, with real cryptography: aes256-gcm96 ciphertexts are
 * `vault:v<N>:base64(nonce || ciphertext || tag)` with optional `associated_data`, ed25519
 * signatures are `vault:v<N>:base64(signature)`, public keys are raw 32 bytes in base64.
 */
export class TransitEngine {
  private readonly keys = new Map<string, TransitKey>();

  createKey(name: string, body: JsonObject): JsonObject {
    const type = (body.type ?? 'aes256-gcm96') as string;
    if (type !== 'aes256-gcm96' && type !== 'ed25519') throw VaultHttpError.badRequest(`unknown key type: ${type}`);
    // Vault answers success for an existing key and leaves it unchanged.
    if (!this.keys.has(name)) {
      this.keys.set(name, { name, type, latestVersion: 1, versions: new Map([[1, newVersion(type)]]) });
    }
    return this.readKey(name);
  }

  readKey(name: string): JsonObject {
    const key = this.keys.get(name);
    if (key === undefined) throw VaultHttpError.notFound();
    const keys: JsonObject = {};
    for (const [version, entry] of key.versions) {
      keys[String(version)] =
        key.type === 'ed25519'
          ? {
              creation_time: entry.creationTime.toISOString(),
              name: 'ed25519',
              public_key: entry.publicKey!.export({ format: 'der', type: 'spki' }).subarray(-32).toString('base64'),
            }
          : Math.floor(entry.creationTime.getTime() / 1000);
    }
    const symmetric = key.type === 'aes256-gcm96';
    return {
      allow_plaintext_backup: false,
      auto_rotate_period: 0,
      deletion_allowed: false,
      derived: false,
      exportable: false,
      imported_key: false,
      keys,
      latest_version: key.latestVersion,
      min_available_version: 0,
      min_decryption_version: 1,
      min_encryption_version: 0,
      name: key.name,
      supports_decryption: symmetric,
      supports_derivation: symmetric,
      supports_encryption: symmetric,
      supports_signing: !symmetric,
      type: key.type,
    };
  }

  rotate(name: string): JsonObject {
    const key = this.keys.get(name);
    if (key === undefined) throw VaultHttpError.badRequest('key not found');
    key.latestVersion += 1;
    key.versions.set(key.latestVersion, newVersion(key.type));
    return this.readKey(name);
  }

  encrypt(name: string, body: JsonObject): JsonObject {
    // Vault upserts: encrypting with a missing key creates an aes256-gcm96 key.
    if (!this.keys.has(name)) this.createKey(name, {});
    const key = this.requireKey(name, 'encryption key not found', 'aes256-gcm96', 'encryption');
    const plaintext = decodeBase64Field(body, 'plaintext', false) ?? Buffer.alloc(0);
    return { ciphertext: this.seal(key, plaintext, body), key_version: key.latestVersion };
  }

  decrypt(name: string, body: JsonObject): JsonObject {
    const key = this.requireKey(name, 'encryption key not found', 'aes256-gcm96', 'decryption');
    return { plaintext: this.open(key, body).toString('base64') };
  }

  rewrap(name: string, body: JsonObject): JsonObject {
    const key = this.requireKey(name, 'encryption key not found', 'aes256-gcm96', 'encryption');
    return { ciphertext: this.seal(key, this.open(key, body), body), key_version: key.latestVersion };
  }

  sign(name: string, body: JsonObject): JsonObject {
    const key = this.requireKey(name, 'signing key not found', 'ed25519', 'signing');
    const input = decodeBase64Field(body, 'input', true)!;
    const signature = sign(null, input, key.versions.get(key.latestVersion)!.privateKey!);
    return { signature: `vault:v${key.latestVersion}:${signature.toString('base64')}`, key_version: key.latestVersion };
  }

  verify(name: string, body: JsonObject): JsonObject {
    const key = this.requireKey(name, 'signature verification key not found', 'ed25519', 'verification');
    const input = decodeBase64Field(body, 'input', true)!;
    const { version, payload } = parseVersioned(String(body.signature ?? ''), 'signature');
    const entry = key.versions.get(version);
    if (entry === undefined) throw VaultHttpError.badRequest('invalid key version');
    return { valid: verify(null, input, entry.publicKey!, payload) };
  }

  private requireKey(name: string, missing: string, type: KeyType, operation: string): TransitKey {
    const key = this.keys.get(name);
    if (key === undefined) throw VaultHttpError.badRequest(missing);
    if (key.type !== type) throw VaultHttpError.badRequest(`key type ${key.type} does not support ${operation}`);
    return key;
  }

  private seal(key: TransitKey, plaintext: Buffer, body: JsonObject): string {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key.versions.get(key.latestVersion)!.aesKey!, nonce);
    const associatedData = decodeBase64Field(body, 'associated_data', false);
    if (associatedData !== undefined) cipher.setAAD(associatedData);
    const sealed = Buffer.concat([nonce, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    return `vault:v${key.latestVersion}:${sealed.toString('base64')}`;
  }

  private open(key: TransitKey, body: JsonObject): Buffer {
    const { version, payload } = parseVersioned(String(body.ciphertext ?? ''), 'ciphertext');
    const entry = key.versions.get(version);
    if (entry === undefined) throw VaultHttpError.badRequest('invalid key version');
    if (payload.length < NONCE_BYTES + TAG_BYTES) throw VaultHttpError.badRequest('invalid ciphertext: too short');
    try {
      const decipher = createDecipheriv('aes-256-gcm', entry.aesKey!, payload.subarray(0, NONCE_BYTES));
      const associatedData = decodeBase64Field(body, 'associated_data', false);
      if (associatedData !== undefined) decipher.setAAD(associatedData);
      decipher.setAuthTag(payload.subarray(payload.length - TAG_BYTES));
      return Buffer.concat([
        decipher.update(payload.subarray(NONCE_BYTES, payload.length - TAG_BYTES)),
        decipher.final(),
      ]);
    } catch {
      throw VaultHttpError.badRequest('cipher: message authentication failed');
    }
  }
}

function newVersion(type: KeyType): KeyVersion {
  if (type === 'aes256-gcm96') return { creationTime: new Date(), aesKey: randomBytes(32) };
  const pair = generateKeyPairSync('ed25519');
  return { creationTime: new Date(), privateKey: pair.privateKey, publicKey: pair.publicKey };
}

function parseVersioned(value: string, what: string): { version: number; payload: Buffer } {
  if (!value.startsWith('vault:')) throw VaultHttpError.badRequest(`invalid ${what}: no prefix`);
  const fields = value.split(':');
  if (fields.length !== 3) throw VaultHttpError.badRequest(`invalid ${what}: wrong number of fields`);
  const version = /^v([0-9]+)$/.exec(fields[1]!);
  if (version === null) throw VaultHttpError.badRequest(`invalid ${what}: version number could not be decoded`);
  return { version: Number(version[1]), payload: Buffer.from(fields[2]!, 'base64') };
}
