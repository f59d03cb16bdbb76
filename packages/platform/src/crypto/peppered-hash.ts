import { createHmac } from 'node:crypto';
import type { KvSecrets } from '../secrets/secrets-provider';
import { constantTimeEqual } from './constant-time';
import { CryptoError } from './crypto-error';
import { VersionedSecretKeys } from './versioned-secret-keys';

export const PEPPER_PATH_DEFAULT = 'platform/peppers';
const FORMAT = 'h1';
const HASHED = /^h1\.([1-9][0-9]{0,8})\.([A-Za-z0-9_-]{43})$/;
const VALUE_BYTES_MAX = 4096;

export interface PepperedHasherOptions {
  /** KV path of the pepper, default `platform/peppers`. */
  path?: string;
  /** Separates uses (api-key, refresh-token, client-secret): a hash made for one never verifies for another. */
  domain: string;
  cacheTtlSeconds?: number;
}

/**
 * HMAC-SHA256 under a pepper from the secrets provider (DESIGN "Secrets and keys": API keys,
 * client secrets, refresh tokens; seed 002: "API keys are stored as HMAC-SHA256 hashes"). The
 * output names its pepper version, `h1.<version>.<base64url>`, so the pepper rotates without
 * invalidating stored hashes. For high-entropy secrets only: passwords need argon2id.
 */
export class PepperedHasher {
  private readonly peppers: VersionedSecretKeys;
  private readonly domain: string;

  constructor(secrets: KvSecrets, options: PepperedHasherOptions) {
    this.peppers = new VersionedSecretKeys(secrets, options.path ?? PEPPER_PATH_DEFAULT, options);
    if (!/^[a-z0-9][a-z0-9._:-]{0,63}$/.test(options.domain)) {
      throw CryptoError.invalidInput('A hash domain is 1-64 characters of [a-z0-9._:-]', { domain: options.domain });
    }
    this.domain = options.domain;
  }

  async hash(value: string | Buffer): Promise<string> {
    const { version, key } = await this.peppers.currentKey();
    return `${FORMAT}.${version}.${this.mac(key, value).toString('base64url')}`;
  }

  /** False for a mismatch, a malformed hash or a pepper version the provider no longer has. */
  async verify(value: string | Buffer, hashed: string): Promise<boolean> {
    const match = HASHED.exec(hashed);
    if (match === null) return false;
    const key = await this.peppers.keyVersion(Number(match[1]));
    if (key === null) return false;
    return constantTimeEqual(this.mac(key, value), Buffer.from(match[2]!, 'base64url'));
  }

  /** True when the hash was made under an older pepper: re-hash after a successful verify. */
  async needsRehash(hashed: string): Promise<boolean> {
    const match = HASHED.exec(hashed);
    return match === null || Number(match[1]) !== (await this.peppers.currentKey()).version;
  }

  rotatePepper(): Promise<{ version: number }> {
    return this.peppers.rotate().then(({ version }) => ({ version }));
  }

  private mac(key: Buffer, value: string | Buffer): Buffer {
    const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    if (bytes.length > VALUE_BYTES_MAX) {
      throw CryptoError.invalidInput('A hashed value is too long', { bytesMax: VALUE_BYTES_MAX });
    }
    // Domain, a NUL separator, then the value: `api-key` + value can never equal `api` + `-key...`.
    return createHmac('sha256', key).update(this.domain).update('\0').update(bytes).digest();
  }
}
