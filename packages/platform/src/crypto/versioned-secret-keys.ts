import { randomBytes } from 'node:crypto';
import { SecretsError } from '../secrets/secrets-error';
import type { KvSecrets } from '../secrets/secrets-provider';
import { CryptoError } from './crypto-error';

const KEY_BYTES = 32;
const FIELD = 'key';
export const KEY_CACHE_TTL_SECONDS_DEFAULT = 60;

export interface VersionedKey {
  version: number;
  key: Buffer;
}

/**
 * 32-byte keys (peppers, tokenization keys) kept in the secrets provider's KV, one KV version per
 * key version: rotation is a KV write, old versions stay readable for verification. Versions are
 * immutable, so they are cached for good; "which version is current" is re-read after a TTL.
 */
export class VersionedSecretKeys {
  private readonly byVersion = new Map<number, Buffer>();
  private current: { version: number; expiresAtMs: number } | undefined;

  constructor(
    private readonly secrets: KvSecrets,
    readonly path: string,
    private readonly options: { cacheTtlSeconds?: number; now?: () => number } = {},
  ) {}

  /** The current key, created (check-and-set 0, so racing processes agree) when the path is empty. */
  async currentKey(): Promise<VersionedKey> {
    const now = this.now();
    if (this.current !== undefined && this.current.expiresAtMs > now) {
      return { version: this.current.version, key: this.byVersion.get(this.current.version)! };
    }
    const latest = (await this.secrets.readSecret(this.path)) ?? (await this.create());
    const key = this.remember(latest.version, latest.data);
    this.current = {
      version: latest.version,
      expiresAtMs: now + (this.options.cacheTtlSeconds ?? KEY_CACHE_TTL_SECONDS_DEFAULT) * 1000,
    };
    return { version: latest.version, key };
  }

  /** A given version, or null when the provider no longer has it. */
  async keyVersion(version: number): Promise<Buffer | null> {
    const cached = this.byVersion.get(version);
    if (cached !== undefined) return cached;
    const stored = await this.secrets.readSecret(this.path, { version });
    return stored === null ? null : this.remember(stored.version, stored.data);
  }

  async rotate(): Promise<VersionedKey> {
    const key = randomBytes(KEY_BYTES);
    const { version } = await this.secrets.writeSecret(this.path, { [FIELD]: key.toString('base64') });
    this.byVersion.set(version, key);
    this.current = undefined;
    return { version, key };
  }

  private async create() {
    const data = { [FIELD]: randomBytes(KEY_BYTES).toString('base64') };
    try {
      return { data, ...(await this.secrets.writeSecret(this.path, data, { cas: 0 })) };
    } catch (error) {
      if (!(error instanceof SecretsError && error.code === 'CAS_MISMATCH')) throw error;
      // Another process created it first: use theirs.
      const theirs = await this.secrets.readSecret(this.path);
      if (theirs === null) throw CryptoError.keyMissing(this.path);
      return theirs;
    }
  }

  private remember(version: number, data: Record<string, string>): Buffer {
    const key = Buffer.from(data[FIELD] ?? '', 'base64');
    if (key.length !== KEY_BYTES) throw CryptoError.keyMissing(this.path);
    this.byVersion.set(version, key);
    return key;
  }

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }
}
