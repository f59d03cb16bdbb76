import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { startVaultStandin, type VaultStandin } from '../../testing/src/vault-standin';
import { createSecretsProvider, SecretsError, VaultSecretsProvider } from '../src/secrets';

const silent = pino({ level: 'silent' });

async function vaultHttp(standin: VaultStandin, method: string, path: string, body?: unknown, token = standin.token) {
  const response = await fetch(`${standin.addr}/v1/${path}`, {
    method,
    headers: { 'X-Vault-Token': token, 'Content-Type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('Vault stand-in speaks the Vault HTTP API', () => {
  let standin: VaultStandin;
  beforeAll(async () => {
    standin = await startVaultStandin({ token: 'root-token' });
  });
  afterAll(() => standin.stop());

  it('answers 403 {"errors":["permission denied"]} without a valid token, and health without one', async () => {
    expect(await vaultHttp(standin, 'GET', 'secret/data/x', undefined, 'wrong')).toEqual({
      status: 403,
      body: { errors: ['permission denied'] },
    });
    const health = await fetch(`${standin.addr}/v1/sys/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ initialized: true, sealed: false });
  });

  it('answers KV v2 reads, writes and metadata in the Vault envelope', async () => {
    expect(await vaultHttp(standin, 'GET', 'secret/data/none')).toEqual({ status: 404, body: { errors: [] } });
    const write = await vaultHttp(standin, 'POST', 'secret/data/app', { data: { a: '1' }, options: { cas: 0 } });
    expect(write.body).toMatchObject({ data: { version: 1, destroyed: false, deletion_time: '' }, lease_id: '' });
    const read = await vaultHttp(standin, 'GET', 'secret/data/app?version=1');
    expect(read.body).toMatchObject({
      request_id: expect.any(String),
      renewable: false,
      lease_duration: 0,
      wrap_info: null,
      warnings: null,
      auth: null,
      data: { data: { a: '1' }, metadata: { version: 1, custom_metadata: null, created_time: expect.any(String) } },
    });
    expect(await vaultHttp(standin, 'POST', 'secret/data/app', { data: { a: '2' }, options: { cas: 0 } })).toEqual({
      status: 400,
      body: { errors: ['check-and-set parameter did not match the current version'] },
    });
    const metadata = await vaultHttp(standin, 'GET', 'secret/metadata/app');
    expect(metadata.body).toMatchObject({ data: { current_version: 1, versions: { '1': { destroyed: false } } } });
  });

  it('encrypts for real: the ciphertext carries the version and fails authentication when altered', async () => {
    await vaultHttp(standin, 'POST', 'transit/keys/k', { type: 'aes256-gcm96' });
    const encrypted = await vaultHttp(standin, 'POST', 'transit/encrypt/k', { plaintext: 'aGVsbG8=' });
    const { ciphertext, key_version } = encrypted.body.data as { ciphertext: string; key_version: number };
    expect(key_version).toBe(1);
    expect(ciphertext).toMatch(/^vault:v1:[A-Za-z0-9+/]+=*$/);
    expect(Buffer.from(ciphertext.slice(9), 'base64').length).toBe(12 + 5 + 16);
    const key = await vaultHttp(standin, 'GET', 'transit/keys/k');
    expect(key.body.data).toMatchObject({ type: 'aes256-gcm96', latest_version: 1, keys: { '1': expect.any(Number) } });
    const altered = `${ciphertext.slice(0, -4)}AAA=`;
    expect(await vaultHttp(standin, 'POST', 'transit/decrypt/k', { ciphertext: altered })).toMatchObject({
      status: 400,
    });
  });
});

describe('VaultSecretsProvider', () => {
  let standin: VaultStandin;
  beforeAll(async () => {
    standin = await startVaultStandin({ kvMount: 'kv-strongroom', transitMount: 'transit-sr' });
  });
  afterAll(() => standin.stop());

  it('logs in with an AppRole, and logs in again when its token is revoked', async () => {
    const secrets = createSecretsProvider({
      vaultAddr: standin.addr,
      vaultRoleId: standin.roleId,
      vaultSecretId: standin.secretId,
      kvMount: 'kv-strongroom',
      transitMount: 'transit-sr',
      nodeEnv: 'production',
      logger: silent,
    });
    expect(await secrets.writeSecret('svc/a', { k: 'v' })).toEqual({ version: 1 });
    standin.revokeLoginTokens();
    expect(await secrets.readSecret('svc/a')).toEqual({ data: { k: 'v' }, version: 1 });
    expect((await secrets.ensureKey('kek', 'aes256-gcm96')).latestVersion).toBe(1);
  });

  it('answers PERMISSION_DENIED to a wrong AppRole secret id', async () => {
    const secrets = new VaultSecretsProvider({
      addr: standin.addr,
      appRole: { roleId: standin.roleId, secretId: 'wrong' },
      kvMount: 'kv-strongroom',
    });
    await expect(secrets.readSecret('svc/a')).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
  });

  it('answers UNAVAILABLE when Vault is unreachable or slower than the request timeout', async () => {
    const closed = await startVaultStandin();
    await closed.stop();
    const unreachable = new VaultSecretsProvider({ addr: closed.addr, token: 't' });
    await expect(unreachable.readSecret('a')).rejects.toMatchObject({ code: 'UNAVAILABLE' });

    const silentServer: Server = createServer(() => undefined);
    await new Promise<void>((resolve) => silentServer.listen(0, '127.0.0.1', resolve));
    try {
      const slow = new VaultSecretsProvider({
        addr: `http://127.0.0.1:${(silentServer.address() as AddressInfo).port}`,
        token: 't',
        requestTimeoutMs: 200,
      });
      const started = Date.now();
      await expect(slow.readSecret('a')).rejects.toMatchObject({ code: 'UNAVAILABLE' });
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      silentServer.closeAllConnections();
      silentServer.close();
    }
  });

  it('never puts a secret value or token in an error', async () => {
    const secrets = new VaultSecretsProvider({ addr: standin.addr, token: standin.token, kvMount: 'kv-strongroom' });
    const value = 'sk_live_do-not-leak-4242';
    await secrets.writeSecret('leak/check', { apiKey: value });
    const errors: unknown[] = [];
    await secrets.writeSecret('leak/check', { apiKey: value }, { cas: 0 }).catch((e: unknown) => errors.push(e));
    await new VaultSecretsProvider({ addr: standin.addr, token: 'hvs.intruder', kvMount: 'kv-strongroom' })
      .writeSecret('leak/check', { apiKey: value })
      .catch((e: unknown) => errors.push(e));
    expect(errors).toHaveLength(2);
    for (const error of errors) {
      expect(error).toBeInstanceOf(SecretsError);
      const rendered = `${(error as Error).message} ${JSON.stringify(error)} ${(error as Error).stack}`;
      expect(rendered).not.toContain(value);
      expect(rendered).not.toContain(standin.token);
      expect(rendered).not.toContain('hvs.intruder');
      expect((error as Error).cause).toBeUndefined();
    }
  });
});
