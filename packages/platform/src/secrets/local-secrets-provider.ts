import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { z } from 'zod';
import {
  type Keyring,
  keyringSchema,
  newKeyVersion,
  openWithKeyring,
  publicKeysOf,
  sealWithKeyring,
  signWithKeyring,
  verifyWithKeyring,
} from './local-keyring';
import { EncryptedStateStore } from './local-state-store';
import { assertKeyName, assertSecretData, assertSecretPath } from './secret-names';
import { SecretsError } from './secrets-error';
import type {
  SecretData,
  SecretsProvider,
  SecretVersion,
  SecretVersionMetadata,
  TransitCipherOptions,
  TransitKeyInfo,
  TransitKeyType,
  TransitPublicKey,
  WriteSecretOptions,
} from './secrets-provider';

export const LOCAL_SECRETS_DIR_DEFAULT = '.strongroom/secrets';
// Vault KV v2's default max_versions: older versions are dropped the same way in both providers.
export const KV_VERSIONS_MAX = 10;

const kvStateSchema = z.object({
  path: z.string(),
  versions: z.array(
    z.object({
      version: z.number().int().positive(),
      createdTime: z.string(),
      data: z.record(z.string(), z.string()),
    }),
  ),
  currentVersion: z.number().int().nonnegative(),
});
type KvState = z.infer<typeof kvStateSchema>;

export interface LocalSecretsProviderOptions {
  /** Defaults to `.strongroom/secrets` under the working directory. */
  stateDir?: string;
  logger: Logger;
  nodeEnv: string | undefined;
  now?: () => Date;
}

/**
 * Development stand-in for Vault (DESIGN "Secrets and keys"): KV and transit semantics kept,
 * every file encrypted under a generated master key. Refused in production: the master key sits
 * next to the data it protects.
 */
export class LocalSecretsProvider implements SecretsProvider {
  readonly kind = 'local';
  private readonly store: EncryptedStateStore;
  private readonly now: () => Date;

  constructor(options: LocalSecretsProviderOptions) {
    if (options.nodeEnv === 'production' || process.env.NODE_ENV === 'production') {
      throw SecretsError.invalid(
        'The local secrets provider is refused when NODE_ENV=production: set VAULT_ADDR (and VAULT_TOKEN or an AppRole) to use Vault',
      );
    }
    const dir = resolve(options.stateDir ?? LOCAL_SECRETS_DIR_DEFAULT);
    this.store = new EncryptedStateStore(dir);
    this.now = options.now ?? (() => new Date());
    options.logger.warn(
      { stateDir: dir },
      'USING LOCAL SECRETS: keys and secrets are files encrypted under a master key stored beside them. Development only: set VAULT_ADDR to use Vault.',
    );
  }

  async readSecret(path: string, options: { version?: number } = {}): Promise<SecretVersion | null> {
    assertSecretPath(path);
    const state = await this.store.read('kv', path, kvStateSchema);
    if (state === null) return null;
    // version 0 means "latest", as in Vault's `?version=0`.
    const wanted = options.version === undefined || options.version === 0 ? state.currentVersion : options.version;
    const entry = state.versions.find((v) => v.version === wanted);
    return entry === undefined ? null : { data: { ...entry.data }, version: entry.version };
  }

  async writeSecret(path: string, data: SecretData, options: WriteSecretOptions = {}): Promise<{ version: number }> {
    assertSecretPath(path);
    assertSecretData(data);
    const updated = await this.store.update('kv', path, kvStateSchema, (current): KvState => {
      const currentVersion = current?.currentVersion ?? 0;
      if (options.cas !== undefined && options.cas !== currentVersion)
        throw SecretsError.casMismatch(path, options.cas);
      const version = currentVersion + 1;
      const versions = [...(current?.versions ?? []), { version, createdTime: this.now().toISOString(), data }];
      return { path, currentVersion: version, versions: versions.slice(-KV_VERSIONS_MAX) };
    });
    return { version: updated.currentVersion };
  }

  async secretVersions(path: string): Promise<SecretVersionMetadata[]> {
    assertSecretPath(path);
    const state = await this.store.read('kv', path, kvStateSchema);
    return (state?.versions ?? []).map((v) => ({
      version: v.version,
      createdTime: v.createdTime,
      deletionTime: '',
      destroyed: false,
    }));
  }

  async ensureKey(name: string, type: TransitKeyType): Promise<TransitKeyInfo> {
    assertKeyName(name);
    const existing = await this.store.read('transit', name, keyringSchema);
    const ring =
      existing ??
      (await this.store.update('transit', name, keyringSchema, (current) => {
        if (current !== null) return current;
        return { name, type, latestVersion: 1, versions: [newKeyVersion(type, 1, this.now())] };
      }));
    if (ring.type !== type) throw SecretsError.invalid(`key exists with type ${ring.type}`, { key: name, type });
    return infoOf(ring);
  }

  async keyInfo(name: string): Promise<TransitKeyInfo> {
    return infoOf(await this.keyring(name));
  }

  async rotateKey(name: string): Promise<TransitKeyInfo> {
    assertKeyName(name);
    const ring = await this.store.update('transit', name, keyringSchema, (current) => {
      if (current === null) throw SecretsError.notFound('transit key', { key: name });
      const version = current.latestVersion + 1;
      return {
        ...current,
        latestVersion: version,
        versions: [...current.versions, newKeyVersion(current.type, version, this.now())],
      };
    });
    return infoOf(ring);
  }

  async encrypt(name: string, plaintext: Buffer, options?: TransitCipherOptions): Promise<string> {
    // Vault upserts an aes256-gcm96 key on encrypt to a missing name; so do we, to keep one contract.
    await this.ensureKeyExists(name);
    return sealWithKeyring(await this.keyring(name), plaintext, options);
  }

  async decrypt(name: string, ciphertext: string, options?: TransitCipherOptions): Promise<Buffer> {
    return openWithKeyring(await this.keyring(name), ciphertext, options);
  }

  async rewrap(name: string, ciphertext: string, options?: TransitCipherOptions): Promise<string> {
    const ring = await this.keyring(name);
    return sealWithKeyring(ring, openWithKeyring(ring, ciphertext, options), options);
  }

  async sign(name: string, data: Buffer): Promise<string> {
    return signWithKeyring(await this.keyring(name), data);
  }

  async verify(name: string, data: Buffer, signature: string): Promise<boolean> {
    return verifyWithKeyring(await this.keyring(name), data, signature);
  }

  async publicKeys(name: string): Promise<TransitPublicKey[]> {
    return publicKeysOf(await this.keyring(name));
  }

  private async ensureKeyExists(name: string): Promise<void> {
    assertKeyName(name);
    if ((await this.store.read('transit', name, keyringSchema)) === null) await this.ensureKey(name, 'aes256-gcm96');
  }

  private async keyring(name: string): Promise<Keyring> {
    assertKeyName(name);
    const ring = await this.store.read('transit', name, keyringSchema);
    if (ring === null) throw SecretsError.notFound('transit key', { key: name });
    return ring;
  }
}

function infoOf(ring: Keyring): TransitKeyInfo {
  return { name: ring.name, type: ring.type, latestVersion: ring.latestVersion };
}
