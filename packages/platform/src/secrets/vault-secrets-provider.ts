import nodeVault from 'node-vault';
import { z } from 'zod';
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
import { parseVersioned } from './transit-format';
import { secretsErrorFromVault } from './vault-errors';
import { kvMetadataSchema, kvReadSchema, kvWriteSchema, transitKeySchema, transitValueSchema } from './vault-responses';

export const VAULT_REQUEST_TIMEOUT_MS_DEFAULT = 5_000;

export interface VaultSecretsProviderOptions {
  addr: string;
  /** VAULT_TOKEN; or an AppRole below (one of the two is required). */
  token?: string;
  appRole?: { roleId: string; secretId: string; mount?: string };
  /** KV v2 mount, default `secret`. */
  kvMount?: string;
  /** Transit mount, default `transit`. */
  transitMount?: string;
  requestTimeoutMs?: number;
}

type Context = Record<string, string | number>;

/** Vault KV v2 + Transit over node-vault; every answer validated, every failure a SecretsError. */
export class VaultSecretsProvider implements SecretsProvider {
  readonly kind = 'vault';
  private readonly client: nodeVault.client;
  private readonly kvMount: string;
  private readonly transitMount: string;
  private login: Promise<void> | undefined;

  constructor(private readonly options: VaultSecretsProviderOptions) {
    if (options.token === undefined && options.appRole === undefined) {
      throw SecretsError.invalid('Vault needs VAULT_TOKEN or an AppRole (VAULT_ROLE_ID and VAULT_SECRET_ID)');
    }
    this.kvMount = trimSlashes(options.kvMount ?? 'secret');
    this.transitMount = trimSlashes(options.transitMount ?? 'transit');
    this.client = nodeVault({
      endpoint: options.addr,
      apiVersion: 'v1',
      // An explicit empty token: node-vault would otherwise fall back to process.env.VAULT_TOKEN.
      token: options.token ?? '',
      // node-vault's debug logger prints request bodies (secret values) when DEBUG matches: never.
      debug: () => undefined,
      requestOptions: { timeout: options.requestTimeoutMs ?? VAULT_REQUEST_TIMEOUT_MS_DEFAULT },
    });
  }

  async readSecret(path: string, options: { version?: number } = {}): Promise<SecretVersion | null> {
    assertSecretPath(path);
    if (options.version !== undefined && (!Number.isSafeInteger(options.version) || options.version < 0)) {
      throw SecretsError.invalid('A secret version is a non-negative integer', { path });
    }
    const query = options.version === undefined ? '' : `?version=${options.version}`;
    const body = await this.orNull(() => this.client.read(`${this.kvMount}/data/${path}${query}`), { path });
    if (body === null) return null;
    const parsed = parse(kvReadSchema, body, { path });
    // A deleted or destroyed version answers 200 with `data: null` on some Vault versions.
    if (parsed.data.data === null) return null;
    return { data: parsed.data.data, version: parsed.data.metadata.version };
  }

  async writeSecret(path: string, data: SecretData, options: WriteSecretOptions = {}): Promise<{ version: number }> {
    assertSecretPath(path);
    assertSecretData(data);
    const request = options.cas === undefined ? { data } : { data, options: { cas: options.cas } };
    const body = await this.call(() => this.client.write(`${this.kvMount}/data/${path}`, request), { path });
    return { version: parse(kvWriteSchema, body, { path }).data.version };
  }

  async secretVersions(path: string): Promise<SecretVersionMetadata[]> {
    assertSecretPath(path);
    const body = await this.orNull(() => this.client.read(`${this.kvMount}/metadata/${path}`), { path });
    if (body === null) return [];
    return Object.entries(parse(kvMetadataSchema, body, { path }).data.versions)
      .map(([version, meta]) => ({
        version: Number(version),
        createdTime: meta.created_time,
        deletionTime: meta.deletion_time,
        destroyed: meta.destroyed,
      }))
      .sort((a, b) => a.version - b.version);
  }

  async ensureKey(name: string, type: TransitKeyType): Promise<TransitKeyInfo> {
    assertKeyName(name);
    await this.call(() => this.client.write(`${this.transitMount}/keys/${name}`, { type }), { key: name });
    const info = await this.keyInfo(name);
    // Vault answers a create of an existing key with success, whatever type was asked for.
    if (info.type !== type) throw SecretsError.invalid(`key exists with type ${info.type}`, { key: name, type });
    return info;
  }

  async keyInfo(name: string): Promise<TransitKeyInfo> {
    const data = await this.readKey(name);
    return { name: data.name, type: data.type, latestVersion: data.latest_version };
  }

  async rotateKey(name: string): Promise<TransitKeyInfo> {
    assertKeyName(name);
    await this.call(() => this.client.write(`${this.transitMount}/keys/${name}/rotate`, {}), { key: name });
    return this.keyInfo(name);
  }

  async encrypt(name: string, plaintext: Buffer, options: TransitCipherOptions = {}): Promise<string> {
    const body = await this.transit('encrypt', name, { plaintext: plaintext.toString('base64'), ...aad(options) });
    return requireField(body.data.ciphertext, 'ciphertext', name);
  }

  async decrypt(name: string, ciphertext: string, options: TransitCipherOptions = {}): Promise<Buffer> {
    const body = await this.transit('decrypt', name, { ciphertext, ...aad(options) });
    return Buffer.from(requireField(body.data.plaintext, 'plaintext', name), 'base64');
  }

  async rewrap(name: string, ciphertext: string, options: TransitCipherOptions = {}): Promise<string> {
    const body = await this.transit('rewrap', name, { ciphertext, ...aad(options) });
    return requireField(body.data.ciphertext, 'ciphertext', name);
  }

  async sign(name: string, data: Buffer): Promise<string> {
    const body = await this.transit('sign', name, { input: data.toString('base64') });
    return requireField(body.data.signature, 'signature', name);
  }

  async verify(name: string, data: Buffer, signature: string): Promise<boolean> {
    if (parseVersioned(signature)?.prefix !== 'vault') return false;
    try {
      const body = await this.transit('verify', name, { input: data.toString('base64'), signature });
      return body.data.valid === true;
    } catch (error) {
      // Vault answers 400 for a signature version it does not have: a bad signature, not a fault.
      if (error instanceof SecretsError && error.code === 'INVALID' && (await this.keyInfo(name)).type === 'ed25519') {
        return false;
      }
      throw error;
    }
  }

  async publicKeys(name: string): Promise<TransitPublicKey[]> {
    const data = await this.readKey(name);
    if (data.type !== 'ed25519') throw SecretsError.invalid(`key type ${data.type} has no public key`, { key: name });
    return Object.entries(data.keys)
      .map(([version, entry]) => {
        if (typeof entry !== 'object')
          throw SecretsError.unavailable('Vault answered without a public key', { key: name });
        return { version: Number(version), publicKey: entry.public_key, createdTime: entry.creation_time };
      })
      .sort((a, b) => a.version - b.version);
  }

  private async readKey(name: string) {
    assertKeyName(name);
    const body = await this.call(() => this.client.read(`${this.transitMount}/keys/${name}`), { key: name });
    return parse(transitKeySchema, body, { key: name }).data;
  }

  private async transit(operation: string, name: string, request: Record<string, string>) {
    assertKeyName(name);
    const context = { key: name, operation };
    const body = await this.call(
      () => this.client.write(`${this.transitMount}/${operation}/${name}`, request),
      context,
    );
    return parse(transitValueSchema, body, context);
  }

  private async orNull(request: () => Promise<unknown>, context: Context): Promise<unknown> {
    try {
      return await this.call(request, context);
    } catch (error) {
      if (error instanceof SecretsError && error.code === 'NOT_FOUND') return null;
      throw error;
    }
  }

  /** One request, with an AppRole login first (and once more after a 403: the token may have expired). */
  private async call(request: () => Promise<unknown>, context: Context): Promise<unknown> {
    const attempt = async () => {
      try {
        return await request();
      } catch (error) {
        throw secretsErrorFromVault(error, context);
      }
    };
    if (this.options.appRole === undefined) return attempt();
    await this.loggedIn(false);
    try {
      return await attempt();
    } catch (error) {
      if (!(error instanceof SecretsError) || error.code !== 'PERMISSION_DENIED') throw error;
      await this.loggedIn(true);
      return attempt();
    }
  }

  private loggedIn(renew: boolean): Promise<void> {
    const appRole = this.options.appRole!;
    if (this.login === undefined || renew) {
      this.login = this.client
        .approleLogin({ role_id: appRole.roleId, secret_id: appRole.secretId, mount_point: appRole.mount ?? 'approle' })
        .then((body: unknown) => {
          const token = z.object({ auth: z.object({ client_token: z.string().min(1) }) }).safeParse(body);
          if (!token.success) throw SecretsError.unavailable('Vault answered an AppRole login without a token');
          this.client.token = token.data.auth.client_token;
        })
        .catch((error: unknown) => {
          this.login = undefined;
          const mapped = secretsErrorFromVault(error, { operation: 'approle-login' });
          throw mapped.code === 'INVALID' ? SecretsError.permissionDenied('Vault refused the AppRole login') : mapped;
        });
    }
    return this.login;
  }
}

function aad(options: TransitCipherOptions): { associated_data?: string } {
  return options.context === undefined ? {} : { associated_data: options.context.toString('base64') };
}

function parse<T>(schema: z.ZodType<T>, body: unknown, context: Context): T {
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw SecretsError.unavailable('Vault answered with an unexpected shape', context);
  return parsed.data;
}

function requireField(value: string | undefined, field: string, key: string): string {
  if (value === undefined) throw SecretsError.unavailable(`Vault answered without ${field}`, { key });
  return value;
}

function trimSlashes(mount: string): string {
  return mount.replace(/^\/+|\/+$/g, '');
}
