import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, createServiceDataSource, LocalSecretsProvider, withTenant } from '@strongroom/platform';
import { createTestDatabase, type TestDatabase } from '@strongroom/testing';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import { migrations } from '../migrations';
import { CLIENT_CACHE_TTL_MS_MAX, OidcStore } from '../src/oidc/oidc-store';

/** oidc-provider's store in Postgres, as the auth service's runtime role uses it. */
describe('the OIDC store (Postgres, runtime role)', () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'strongroom-oidc-store-'));
  let database: TestDatabase;
  let dataSource: DataSource;
  let store: OidcStore;
  let secrets: LocalSecretsProvider;
  let superuser: Client;
  const tenantA = '5b1d8a0e-2f43-4c6a-9d1e-0a1b2c3d4e5f';
  const tenantB = '6c2e9b1f-3054-4d7b-8e2f-1b2c3d4e5f60';

  beforeAll(async () => {
    database = await createTestDatabase('oidc_store', migrations);
    dataSource = createServiceDataSource({ url: database.runtimeUrl, applicationName: 'auth' });
    await dataSource.initialize();
    secrets = new LocalSecretsProvider({
      stateDir,
      logger: createLogger({ service: 'auth', level: 'silent' }),
      nodeEnv: 'test',
    });
    store = new OidcStore({ dataSource, secrets });
    superuser = new Client({ connectionString: database.ownerUrl });
    await superuser.connect();
  });

  afterAll(async () => {
    await superuser?.end();
    await dataSource?.destroy();
    await database?.drop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  const newId = () => randomBytes(32).toString('base64url');

  it('stores a refresh token under an HMAC of its value, never the value itself, and finds it by value', async () => {
    const id = newId();
    await store.upsert('RefreshToken', id, { jti: id, grantId: 'grant-1', kind: 'RefreshToken', iat: 1 }, 60);
    await expect(store.find('RefreshToken', id)).resolves.toMatchObject({ jti: id, grantId: 'grant-1' });
    const { rows } = await superuser.query('SELECT id_digest, payload::text AS payload FROM oidc_payloads');
    expect(JSON.stringify(rows)).not.toContain(id);
    await expect(store.find('RefreshToken', newId())).resolves.toBeUndefined();
    await expect(store.find('AuthorizationCode', id)).resolves.toBeUndefined();
  });

  it('marks a consumed token (reuse detection needs it) and revokes a whole grant', async () => {
    const first = newId();
    const second = newId();
    await store.upsert('RefreshToken', first, { grantId: 'grant-2', kind: 'RefreshToken' }, 60);
    await store.upsert('AccessToken', second, { grantId: 'grant-2', kind: 'AccessToken' }, 60);
    await store.consume('RefreshToken', first);
    expect((await store.find('RefreshToken', first))?.consumed).toEqual(expect.any(Number));
    await store.revokeByGrantId('grant-2');
    await expect(store.find('RefreshToken', first)).resolves.toBeUndefined();
    await expect(store.find('AccessToken', second)).resolves.toBeUndefined();
  });

  it('finds sessions by uid and forgets expired rows, deleting them in bounded batches', async () => {
    await store.upsert('Session', 'session-1', { uid: 'uid-1', kind: 'Session' }, 60);
    await expect(store.findBy('Session', 'uid', 'uid-1')).resolves.toMatchObject({ uid: 'uid-1' });
    for (let index = 0; index < 3; index += 1) await store.upsert('Interaction', `expired-${index}`, {}, 1);
    await superuser.query(
      "UPDATE oidc_payloads SET expires_at = now() - interval '1 second' WHERE model = 'Interaction'",
    );
    await expect(store.find('Interaction', 'expired-0')).resolves.toBeUndefined();
    await expect(store.deleteExpired(2)).resolves.toBe(2);
    await expect(store.deleteExpired(2)).resolves.toBe(1);
    await expect(store.deleteExpired(2)).resolves.toBe(0);
  });

  it('finds a client by id across tenants but never lists another tenant’s clients (RLS)', async () => {
    const clientOf = (tenantId: string) => ({
      id: `sr_client_${randomBytes(16).toString('base64url')}`,
      tenantId,
    });
    const a = clientOf(tenantA);
    const b = clientOf(tenantB);
    for (const client of [a, b]) {
      await withTenant(dataSource, client.tenantId, (manager) =>
        manager.query(
          `INSERT INTO oauth_clients (client_id, tenant_id, environment, name, metadata) VALUES ($1, $2, 'sandbox', 'x', $3)`,
          [client.id, client.tenantId, { client_id: client.id, tenant_id: client.tenantId }],
        ),
      );
    }
    await expect(store.findClient(b.id)).resolves.toMatchObject({ client_id: b.id, tenant_id: tenantB });
    const seenByA = await withTenant(dataSource, tenantA, (manager) =>
      manager.query('SELECT client_id FROM oauth_clients'),
    );
    expect(seenByA).toEqual([{ client_id: a.id }]);
    const seenWithoutTenant = await dataSource.query('SELECT client_id FROM oauth_clients');
    expect(seenWithoutTenant).toEqual([]);
    await expect(
      withTenant(dataSource, tenantA, (manager) =>
        manager.query("UPDATE oauth_clients SET name = 'taken' WHERE client_id = $1", [b.id]),
      ),
    ).rejects.toThrow(/permission denied/);
  });

  it('refuses a revoked client', async () => {
    const id = `sr_client_${randomBytes(16).toString('base64url')}`;
    await withTenant(dataSource, tenantA, async (manager) => {
      await manager.query(
        `INSERT INTO oauth_clients (client_id, tenant_id, environment, name, metadata) VALUES ($1, $2, 'production', 'x', '{}')`,
        [id, tenantA],
      );
      await manager.query('UPDATE oauth_clients SET revoked_at = now() WHERE client_id = $1', [id]);
    });
    await expect(store.findClient(id)).resolves.toBeUndefined();
  });

  describe('client lookups served from memory', () => {
    let clockMs = 0;
    let cached: OidcStore;
    const registerClient = async () => {
      const id = `sr_client_${randomBytes(16).toString('base64url')}`;
      await withTenant(dataSource, tenantA, (manager) =>
        manager.query(
          `INSERT INTO oauth_clients (client_id, tenant_id, environment, name, metadata) VALUES ($1, $2, 'sandbox', 'x', $3)`,
          [id, tenantA, { client_id: id, tenant_id: tenantA, permissions: ['tenants.tenants.read'] }],
        ),
      );
      return id;
    };
    const revoke = (id: string) =>
      withTenant(dataSource, tenantA, (manager) =>
        manager.query('UPDATE oauth_clients SET revoked_at = now() WHERE client_id = $1', [id]),
      );

    beforeAll(() => {
      cached = new OidcStore({ dataSource, secrets, clockMs: () => clockMs });
    });

    it('keeps serving a client for less than 1 s after its revocation, and refuses it from then on', async () => {
      const id = await registerClient();
      await expect(cached.findClient(id)).resolves.toMatchObject({ client_id: id });
      await revoke(id);
      clockMs += CLIENT_CACHE_TTL_MS_MAX - 1;
      await expect(cached.findClient(id)).resolves.toMatchObject({ client_id: id });
      clockMs += 1;
      await expect(cached.findClient(id)).resolves.toBeUndefined();
    });

    it('refuses a revoked client within 1 s of real time with the default cache', async () => {
      const id = await registerClient();
      await expect(store.findClient(id)).resolves.toMatchObject({ client_id: id });
      await revoke(id);
      await new Promise((resolve) => setTimeout(resolve, CLIENT_CACHE_TTL_MS_MAX));
      await expect(store.findClient(id)).resolves.toBeUndefined();
    });

    it('refuses a client at once when this process forgets it (its revocation seen here)', async () => {
      const id = await registerClient();
      await expect(cached.findClient(id)).resolves.toMatchObject({ client_id: id });
      await revoke(id);
      cached.forgetClient(id);
      await expect(cached.findClient(id)).resolves.toBeUndefined();
    });

    it('does not remember a client it did not find: one registered a moment later works at once', async () => {
      const id = `sr_client_${randomBytes(16).toString('base64url')}`;
      await expect(cached.findClient(id)).resolves.toBeUndefined();
      await withTenant(dataSource, tenantA, (manager) =>
        manager.query(
          `INSERT INTO oauth_clients (client_id, tenant_id, environment, name, metadata) VALUES ($1, $2, 'sandbox', 'x', $3)`,
          [id, tenantA, { client_id: id }],
        ),
      );
      await expect(cached.findClient(id)).resolves.toMatchObject({ client_id: id });
    });

    it('reads a client once for lookups in flight together, and hands each caller its own copy', async () => {
      const id = await registerClient();
      clockMs += CLIENT_CACHE_TTL_MS_MAX;
      const transaction = jest.spyOn(dataSource, 'transaction');
      try {
        const found = await Promise.all(Array.from({ length: 10 }, () => cached.findClient(id)));
        expect(transaction).toHaveBeenCalledTimes(1);
        expect(found[0]).toEqual(found[9]);
        (found[0]!.permissions as string[]).push('auth.clients.create');
        await expect(cached.findClient(id)).resolves.toMatchObject({ permissions: ['tenants.tenants.read'] });
      } finally {
        transaction.mockRestore();
      }
    });

    it('refuses a cache time above the 1 s revocation bound, or below zero', () => {
      expect(() => new OidcStore({ dataSource, secrets, clientCacheTtlMs: CLIENT_CACHE_TTL_MS_MAX + 1 })).toThrow(
        RangeError,
      );
      expect(() => new OidcStore({ dataSource, secrets, clientCacheTtlMs: -1 })).toThrow(RangeError);
    });
  });
});
