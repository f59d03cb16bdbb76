import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { Module } from '@nestjs/common';
import {
  authenticateApiKey,
  createApiKey,
  type Environment,
  REQUEST_SIGNING_HEADERS as H,
  listApiKeys,
  type RequestOf,
  type ResponseOf,
  revokeApiKey,
  rotateApiKey,
  sha256Hex,
  signRequest,
} from '@strongroom/contracts';
import { BusClient, serviceCredentialsOverBus } from '@strongroom/platform';
import { PgNonceStore } from '../src/api-keys/api-key-nonces.repository';
import { ApiKeyServices } from '../src/api-keys/api-key-services';
import { ApiKeyTokenIssuer } from '../src/api-keys/api-key-token-issuer';
import { ApiKeysHandler } from '../src/api-keys/api-keys.handler';
import { AuthAuditPublisher } from '../src/auth-audit';
import { ServiceTokensModule } from '../src/service-tokens/service-tokens.module';
import { JwksHandler } from '../src/signing-keys/jwks.handler';
import { SigningKeyStore } from '../src/signing-keys/signing-key-store';
import { TenantPolicies } from '../src/tenant-policies/tenant-policies';
import { about, readAuditStream, readStream } from './support/audit-stream';
import { type AuthSlice, startAuthSlice } from './support/auth-slice';

const KEY_ADMIN_PERMISSIONS = [
  'auth.api-keys.create',
  'auth.api-keys.rotate',
  'auth.api-keys.revoke',
  'auth.api-keys.read',
  'tenants.tenants.read',
];

@Module({
  imports: [ServiceTokensModule],
  controllers: [JwksHandler, ApiKeysHandler],
  providers: [
    SigningKeyStore,
    AuthAuditPublisher,
    ApiKeyServices,
    ApiKeyTokenIssuer,
    // No tenants service in this slice: every tenant is active (suspension is tested end to end).
    { provide: TenantPolicies, useValue: { assertActive: async () => undefined } },
  ],
})
class ApiKeysSliceModule {}

type Issued = ResponseOf<typeof createApiKey>;

describe('API keys and signed requests (real mTLS bus, real Postgres)', () => {
  const tenantId = randomUUID();
  const otherTenantId = randomUUID();
  let slice: AuthSlice;
  let asTenantAdmin: BusClient;
  let asGateway: BusClient;
  let tenantAdmin: string;
  /** The same administrator signed in through a sandbox client: a credential manages its own environment's keys only. */
  let sandboxAdmin: string;
  const shownOnce: string[] = [];

  async function createKey(environment: Environment, overrides: Partial<RequestOf<typeof createApiKey>> = {}) {
    const issued = await asTenantAdmin.request(
      createApiKey,
      { tenantId, environment, name: 'payouts', permissions: ['tenants.tenants.read'], ...overrides },
      { credential: environment === 'sandbox' ? sandboxAdmin : tenantAdmin },
    );
    shownOnce.push(issued.apiKey, issued.signingSecret);
    return issued;
  }

  interface Presented {
    environment?: Environment;
    signedAt?: Date;
    nonce?: string;
    receivedBody?: Buffer;
  }

  /** Signs as the SDK does, then asks auth as the gateway does: headers and the received body's digest. */
  function authenticateAs(issued: Pick<Issued, 'apiKey' | 'signingSecret' | 'key'>, presented: Presented = {}) {
    const body = Buffer.from(JSON.stringify({ amountMinor: 1000, currency: 'ZMW' }));
    const headers = signRequest({
      method: 'POST',
      url: '/v1/ledger/transfers?dryRun=false',
      body,
      keyId: issued.key.keyId,
      signingSecret: issued.signingSecret,
      now: presented.signedAt ?? new Date(),
      ...(presented.nonce === undefined ? {} : { nonce: presented.nonce }),
    });
    return asGateway.request(authenticateApiKey, {
      environment: presented.environment ?? 'production',
      method: 'POST',
      path: '/v1/ledger/transfers',
      query: 'dryRun=false',
      bodySha256: sha256Hex(presented.receivedBody ?? body),
      headers: { ...headers, [H.apiKey]: issued.apiKey },
    });
  }

  beforeAll(async () => {
    slice = await startAuthSlice({ label: 'api-keys', module: ApiKeysSliceModule, outboxRelay: true });
    const gatewayConnection = await slice.connect('gateway');
    asTenantAdmin = new BusClient(gatewayConnection, { defaultTimeoutMs: 5_000 });
    asGateway = new BusClient(gatewayConnection, {
      defaultTimeoutMs: 5_000,
      actingAs: serviceCredentialsOverBus(asTenantAdmin),
    });
    tenantAdmin = await slice.userToken({ tenantId, permissions: KEY_ADMIN_PERMISSIONS });
    sandboxAdmin = await slice.userToken({ tenantId, permissions: KEY_ADMIN_PERMISSIONS, env: 'sandbox' });
  });

  afterAll(async () => {
    await slice?.stop();
  });

  it('exchanges a validly signed request for a short-lived token every service verifies', async () => {
    const issued = await createKey('production', { rateLimitTier: 'premium', ipAllowlistId: 'office' });
    expect(issued.apiKey).toMatch(/^sr_live_/);
    expect(issued.signingSecret).toMatch(/^sr_sig_/);

    const exchanged = await authenticateAs(issued);
    expect(exchanged).toMatchObject({
      tokenType: 'Bearer',
      keyId: issued.key.keyId,
      tenantId,
      environment: 'production',
      permissions: ['tenants.tenants.read'],
      rateLimitTier: 'premium',
      ipAllowlistId: 'office',
    });
    expect(exchanged.expiresInSeconds).toBeLessThanOrEqual(300);
    const principal = await slice.credentials.verifier.verify(`Bearer ${exchanged.accessToken}`);
    expect(principal).toMatchObject({ subject: `api_key:${issued.key.keyId}`, tenantId, environment: 'production' });
    expect([...principal.permissions]).toEqual(['tenants.tenants.read']);
    expect(principal.expiresAt.getTime() - principal.issuedAt.getTime()).toBeLessThanOrEqual(300_000);
  });

  it('refuses a replayed nonce, a stale timestamp, an altered body and a bad signature, each by name', async () => {
    const issued = await createKey('production');
    const nonce = randomUUID().replaceAll('-', '');
    await expect(authenticateAs(issued, { nonce })).resolves.toMatchObject({ keyId: issued.key.keyId });
    await expect(authenticateAs(issued, { nonce })).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
      details: { reason: 'REPLAYED_NONCE' },
    });
    await expect(authenticateAs(issued, { signedAt: new Date(Date.now() - 301_000) })).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
      details: { reason: 'STALE_TIMESTAMP' },
    });
    await expect(authenticateAs(issued, { receivedBody: Buffer.from('{"amountMinor":9000}') })).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
      details: { reason: 'BODY_DIGEST_MISMATCH' },
    });
    const wrongSecret = { ...issued, signingSecret: `sr_sig_${'A'.repeat(43)}` };
    await expect(authenticateAs(wrongSecret)).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
      details: { reason: 'BAD_SIGNATURE' },
    });
  });

  it('never lets a sandbox key work on production, nor a production key on sandbox', async () => {
    const sandbox = await createKey('sandbox');
    expect(sandbox.apiKey).toMatch(/^sr_test_/);
    await expect(authenticateAs(sandbox, { environment: 'production' })).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
      details: { reason: 'WRONG_ENVIRONMENT', keyEnvironment: 'sandbox', resourceEnvironment: 'production' },
    });
    await expect(authenticateAs(sandbox, { environment: 'sandbox' })).resolves.toMatchObject({
      environment: 'sandbox',
    });
    const production = await createKey('production');
    await expect(authenticateAs(production, { environment: 'sandbox' })).rejects.toMatchObject({
      details: { reason: 'WRONG_ENVIRONMENT' },
    });
  });

  it('refuses a revoked key at once, and every service drops the tokens it was exchanged for', async () => {
    const issued = await createKey('production');
    const exchanged = await authenticateAs(issued);
    await expect(slice.credentials.verifier.verify(`Bearer ${exchanged.accessToken}`)).resolves.toMatchObject({
      subject: `api_key:${issued.key.keyId}`,
    });
    const revoked = await asTenantAdmin.request(
      revokeApiKey,
      { tenantId, keyId: issued.key.keyId },
      { credential: tenantAdmin },
    );
    expect(revoked).toMatchObject({ status: 'revoked', keyId: issued.key.keyId });
    await expect(authenticateAs(issued)).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
      details: { reason: 'INVALID_API_KEY' },
    });

    const deadline = Date.now() + 3_000;
    let outcome: unknown;
    while (Date.now() < deadline) {
      outcome = await slice.credentials.verifier
        .verify(`Bearer ${exchanged.accessToken}`)
        .catch((error: unknown) => error);
      if ((outcome as { code?: string }).code === 'UNAUTHENTICATED') break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(outcome).toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('keeps a rotated key working during the overlap and refuses it after, while the new one works', async () => {
    const original = await createKey('production');
    const rotated = await asTenantAdmin.request(
      rotateApiKey,
      { tenantId, keyId: original.key.keyId, overlapSeconds: 3_600 },
      { credential: tenantAdmin },
    );
    shownOnce.push(rotated.issued.apiKey, rotated.issued.signingSecret);
    expect(rotated.previous).toMatchObject({ status: 'rotating', replacedByKeyId: rotated.issued.key.keyId });
    await expect(authenticateAs(original)).resolves.toMatchObject({ keyId: original.key.keyId });
    await expect(authenticateAs(rotated.issued)).resolves.toMatchObject({ keyId: rotated.issued.key.keyId });

    // The overlap ends (as an hour passing would end it).
    await slice.superuser.query("UPDATE api_keys SET overlap_ends_at = now() - interval '1 second' WHERE key_id = $1", [
      original.key.keyId,
    ]);
    await expect(authenticateAs(original)).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
      details: { reason: 'INVALID_API_KEY' },
    });
    await expect(authenticateAs(rotated.issued)).resolves.toMatchObject({ keyId: rotated.issued.key.keyId });
  });

  it('tells the holder its key expired', async () => {
    const issued = await createKey('production', { expiresAt: new Date(Date.now() + 60_000).toISOString() });
    await slice.superuser.query("UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE key_id = $1", [
      issued.key.keyId,
    ]);
    await expect(authenticateAs(issued)).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
      details: { reason: 'EXPIRED' },
    });
  });

  it("answers another tenant's principal NOT_FOUND for listing and revoking the key", async () => {
    const issued = await createKey('production');
    const outsider = await slice.userToken({ tenantId: otherTenantId, permissions: KEY_ADMIN_PERMISSIONS });
    await expect(
      asTenantAdmin.request(listApiKeys, { tenantId, limit: 100 }, { credential: outsider }),
    ).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    await expect(
      asTenantAdmin.request(revokeApiKey, { tenantId, keyId: issued.key.keyId }, { credential: outsider }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
    // Naming its own tenant does not help: RLS shows it no such key.
    await expect(
      asTenantAdmin.request(
        revokeApiKey,
        { tenantId: otherTenantId, keyId: issued.key.keyId },
        { credential: outsider },
      ),
    ).rejects.toMatchObject({ code: 'NOT_FOUND', details: { reason: 'NOT_FOUND' } });
    await expect(
      asTenantAdmin.request(listApiKeys, { tenantId: otherTenantId, limit: 100 }, { credential: outsider }),
    ).resolves.toEqual({ keys: [] });

    const own = await asTenantAdmin.request(listApiKeys, { tenantId, limit: 100 }, { credential: tenantAdmin });
    expect(own.keys.map((key) => key.keyId)).toContain(issued.key.keyId);
    await expect(authenticateAs(issued)).resolves.toMatchObject({ keyId: issued.key.keyId });
  });

  it('lets only the gateway exchange keys: a tenant user holding every key permission is FORBIDDEN', async () => {
    const issued = await createKey('production');
    const headers = signRequest({
      method: 'GET',
      url: '/v1/x',
      keyId: issued.key.keyId,
      signingSecret: issued.signingSecret,
    });
    const input = {
      environment: 'production' as const,
      method: 'GET',
      path: '/v1/x',
      query: '',
      bodySha256: sha256Hex(''),
      headers: { ...headers, [H.apiKey]: issued.apiKey },
    };
    await expect(asTenantAdmin.request(authenticateApiKey, input, { credential: tenantAdmin })).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
    await expect(asTenantAdmin.request(authenticateApiKey, input)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(asGateway.request(authenticateApiKey, input)).resolves.toMatchObject({ keyId: issued.key.keyId });
  });

  it('keeps neither key nor signing secret in clear anywhere in the database', async () => {
    expect(shownOnce.length).toBeGreaterThan(10);
    const tables = ['api_keys', 'api_key_nonces', 'outbox', 'data_keys'];
    const dump: string[] = [];
    for (const table of tables) {
      const { rows } = await slice.superuser.query(`SELECT * FROM ${table}`);
      dump.push(JSON.stringify(rows));
    }
    // What left through the outbox (the relay deletes published rows): auth's events and its audit events.
    const reader = await slice.connect('audit');
    const expectedSubjects = [
      'evt.auth.v1.api-keys.created',
      'evt.auth.v1.api-keys.revoked',
      'evt.auth.v1.api-keys.rotated',
      'evt.auth.v1.tokens.revoked',
    ];
    const published = await readStream(reader, {
      stream: 'EVT_AUTH',
      subject: 'evt.auth.v1.>',
      parse: (payload, subject) => [{ subject, payload }],
      done: (read) => expectedSubjects.every((subject) => read.some((event) => event.subject === subject)),
      thenOneMoreFetch: true,
    });
    const managed = ['auth.api-key.create', 'auth.api-key.rotate', 'auth.api-key.revoke'];
    const audited = await readAuditStream(reader, {
      emitter: 'auth',
      done: (events) => managed.every((action) => events.some((event) => event.action === action)),
      thenOneMoreFetch: true,
    });
    dump.push(JSON.stringify(published), JSON.stringify(audited));
    const everything = dump.join('\n');
    expect(everything).toContain(shownOnce[0]!.split('_')[2]); // the public keyId is there, as it should be
    for (const secret of shownOnce) {
      expect(everything).not.toContain(secret);
      // Nor the secret part alone (after `sr_live_<keyId>_` / `sr_sig_`).
      expect(everything).not.toContain(secret.slice(-40));
    }
    const { rows } = await slice.superuser.query('SELECT secret_hash, signing_secret_ciphertext FROM api_keys');
    for (const row of rows) expect(row.secret_hash).toMatch(/^h1\.\d+\./);
    // The trail of the changes went out through the outbox, without key material (searched above).
    expect([...new Set(published.map((event) => event.subject))].sort()).toEqual(expectedSubjects);
    expect(managed.every((action) => audited.some((event) => event.action === action))).toBe(true);
  });

  it('audits key management with each change, and publishes refused management and refused keys as denied', async () => {
    const issued = await createKey('production');
    const { keyId } = issued.key;
    const rotated = await asTenantAdmin.request(
      rotateApiKey,
      { tenantId, keyId, overlapSeconds: 60 },
      { credential: tenantAdmin },
    );
    shownOnce.push(rotated.issued.apiKey, rotated.issued.signingSecret);
    await asTenantAdmin.request(revokeApiKey, { tenantId, keyId }, { credential: tenantAdmin });
    await asTenantAdmin.request(revokeApiKey, { tenantId, keyId }, { credential: tenantAdmin });

    // Written with each change (the second revocation changed nothing), relayed to the AUDIT stream.
    const audit = await slice.connect('audit');
    const written = (
      await readAuditStream(audit, {
        emitter: 'auth',
        done: (events) => events.filter(about(keyId)).length >= 3,
        thenOneMoreFetch: true,
      })
    ).filter(about(keyId));
    expect(written.map((event) => [event.action, event.outcome])).toEqual([
      ['auth.api-key.create', 'success'],
      ['auth.api-key.rotate', 'success'],
      ['auth.api-key.revoke', 'success'],
    ]);
    for (const event of written) {
      expect(event).toMatchObject({
        tenantId,
        environment: 'production',
        actor: { type: 'user', id: `user-of-${tenantId}` },
        requestId: expect.any(String),
      });
    }
    expect(written[1]?.details).toMatchObject({ replacedByKeyId: rotated.issued.key.keyId });

    // Refused: a permission the creator lacks (nothing written), and a key with a bad signature.
    await expect(
      asTenantAdmin.request(
        createApiKey,
        { tenantId, environment: 'production', name: 'too-much', permissions: ['auth.users.create'] },
        { credential: tenantAdmin },
      ),
    ).rejects.toMatchObject({ code: 'FORBIDDEN', details: { reason: 'PERMISSION_NOT_HELD' } });
    const fresh = await createKey('production');
    await expect(authenticateAs({ ...fresh, signingSecret: `sr_sig_${'B'.repeat(43)}` })).rejects.toMatchObject({
      details: { reason: 'BAD_SIGNATURE' },
    });
    await expect(authenticateAs(fresh)).resolves.toMatchObject({ keyId: fresh.key.keyId });

    const published = await readAuditStream(audit, {
      emitter: 'auth',
      done: (events) =>
        events.some((event) => event.reason === 'PERMISSION_NOT_HELD' && event.tenantId === tenantId) &&
        events.some((event) => about(fresh.key.keyId)(event) && event.action === 'auth.api-key.authenticate'),
      thenOneMoreFetch: true,
    });
    expect(published.filter((event) => event.reason === 'PERMISSION_NOT_HELD' && event.tenantId === tenantId)).toEqual([
      expect.objectContaining({
        action: 'auth.api-key.create',
        outcome: 'denied',
        environment: 'production',
        resource: { type: 'api_key', id: 'new' },
      }),
    ]);
    // The refused key, as denied; its accepted exchange right after is not recorded (one per request would flood the trail).
    const exchanges = published.filter((event) => event.action === 'auth.api-key.authenticate');
    expect(exchanges.filter(about(fresh.key.keyId))).toEqual([
      expect.objectContaining({
        action: 'auth.api-key.authenticate',
        outcome: 'denied',
        reason: 'BAD_SIGNATURE',
        actor: { type: 'anonymous', id: 'anonymous' },
        resource: { type: 'api_key', id: fresh.key.keyId },
      }),
    ]);
    expect(exchanges.filter((event) => event.outcome === 'success')).toEqual([]);
  });

  it('remembers a nonce once until it expires, then sweeps it in batches', async () => {
    const store = new PgNonceStore(slice.dataSource);
    const nonce = randomUUID().replaceAll('-', '');
    const past = new Date(Date.now() - 1_000);
    expect(await store.rememberOnce('AAAAAAAAAAAA', nonce, new Date(Date.now() + 60_000))).toBe(true);
    expect(await store.rememberOnce('AAAAAAAAAAAA', nonce, new Date(Date.now() + 60_000))).toBe(false);
    expect(await store.rememberOnce('BBBBBBBBBBBB', nonce, past)).toBe(true);
    // An expired row not yet swept is taken over, not answered as a replay.
    expect(await store.rememberOnce('BBBBBBBBBBBB', nonce, past)).toBe(true);
    for (let index = 0; index < 5; index += 1) await store.rememberOnce('CCCCCCCCCCCC', `${nonce}${index}`, past);
    expect(await store.deleteExpired(2, 10)).toBe(6);
    const left = await slice.superuser.query('SELECT key_id FROM api_key_nonces WHERE expires_at <= now()');
    expect(left.rows).toEqual([]);
    expect(await store.rememberOnce('AAAAAAAAAAAA', nonce, new Date(Date.now() + 60_000))).toBe(false);
  });

  it('shows the runtime role no key without a tenant or a key id named', async () => {
    const rows = await slice.dataSource.query('SELECT key_id FROM api_keys');
    expect(rows).toEqual([]);
  });
});
