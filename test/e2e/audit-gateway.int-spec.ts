import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { AUDIT_EXPORT_FILES, auditSigningKeysFromSecrets, type RunningStack } from '@strongroom/cli';
import {
  AUDIT_STREAM,
  type AuditEvent,
  type AuditRecordView,
  auditSubjectOf,
  createClient,
  createLedgerAccount,
  createTenant,
  HEADERS,
  listLedgerAccounts,
  OPERATOR_IDENTITY,
  type Permission,
  PLATFORM_AUDIT_TENANT_ID,
} from '@strongroom/contracts';
import { BusClient, busTlsFilesFor, connectBus, serviceCredentialsOverBus } from '@strongroom/platform';
import { testAdminUrl } from '@strongroom/testing';
import { Client } from 'pg';
import { readStream, type StreamEvent } from './support/event-stream';
import { expectProblem, expectStatus, type Reply } from './support/ledger-api';
import { clientCredentialsToken, startTestStack, type TestStack } from './test-stack';

const AUDITOR: Permission[] = ['audit.records.read', 'audit.records.export', 'audit.legal-holds.manage'];
const LEDGER: Permission[] = ['ledger.accounts.create', 'ledger.accounts.read'];
const USER_AGENT = 'strongroom-audit-e2e/1.0';
/** What a client may claim to be: the gateway replaces it with the address it saw. */
const FORGED_IP = '6.6.6.6';
const INGEST_TIMEOUT_MS = 30_000;
const sleep = (ms: number) => new Promise((resolveSleep) => setTimeout(resolveSleep, ms));
const CLI = resolve(__dirname, '../../packages/cli/dist/main.js');
const run = promisify(execFile);

/** `strongroom <args>` as an operator runs it (the built CLI, `env` added to ours): its exit code and what it printed. */
async function strongroom(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

/** The loopback address the gateway sees the test's requests come from, however Node writes it. */
const LOOPBACK = /^(127\.0\.0\.1|::1|::ffff:127\.0\.0\.1)$/;

/**
 * The audit trail as clients and operators see it (issue 7): requests the gateway refuses and
 * calls a service refuses are audited with the client's real address; the audit API through the
 * gateway (records, filters and paging, tenant isolation, verification, checkpoints, exports,
 * legal hold); `strongroom audit export`, `verify-export` and `verify` against the real store.
 */
describe('the audit trail through the gateway', () => {
  let testStack: TestStack;
  let stack: RunningStack;
  /** Tenant A (the demo tenant): an auditor with ledger rights, and a client that may only read accounts. */
  let tokenA: string;
  let readOnlyA: string;
  let tenantB: string;
  let tokenB: string;
  const startedAt = new Date(Date.now() - 60_000).toISOString();

  // biome-ignore lint/suspicious/noExplicitAny: replies are read field by field in the tests
  async function call<T = any>(
    path: string,
    token: string | undefined,
    options: { method?: string; body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<Reply<T>> {
    const response = await fetch(`${stack.gatewayUrl}${path}`, {
      method: options.method ?? 'GET',
      headers: {
        'user-agent': USER_AGENT,
        ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}),
        ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...options.headers,
      },
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
    });
    const text = await response.text();
    const contentType = response.headers.get('content-type') ?? '';
    return {
      status: response.status,
      headers: response.headers,
      body: (text !== '' && contentType.includes('json') ? JSON.parse(text) : undefined) as T,
      contentType,
    };
  }

  /**
   * The audit events of one emitter whose request ids are these, from the AUDIT stream (read as
   * the audit service may), read until those of `awaited` are there.
   */
  async function auditEventsOf(
    emitter: 'gateway' | 'ledger',
    requestIds: readonly string[],
    awaited: readonly string[] = requestIds,
  ): Promise<AuditEvent[]> {
    const matching = (events: readonly StreamEvent[]) =>
      events
        .flatMap((event) => (event.payload as { events: AuditEvent[] }).events)
        .filter((event) => event.requestId !== undefined && requestIds.includes(event.requestId));
    const events = await readStream({
      natsUrl: stack.natsUrl,
      stateDir: testStack.stateDir,
      identity: 'audit',
      stream: AUDIT_STREAM.name,
      subject: auditSubjectOf(emitter),
      done: (read) => awaited.every((id) => matching(read).some((event) => event.requestId === id)),
      timeoutMs: 15_000,
    });
    return matching(events);
  }

  /** Records of the caller's tenant with this request id, once the audit service has stored them. */
  async function storedRecords(token: string, requestId: string, count = 1): Promise<AuditRecordView[]> {
    const deadline = Date.now() + INGEST_TIMEOUT_MS;
    for (;;) {
      const page = expectStatus(await call(`/v1/audit/records?requestId=${requestId}`, token), 200);
      if (page.records.length >= count || Date.now() > deadline) return page.records;
      await sleep(250);
    }
  }

  beforeAll(async () => {
    testStack = await startTestStack();
    stack = testStack.stack;
    const connection = await connectBus({
      servers: stack.natsUrl,
      tls: busTlsFilesFor(join(testStack.stateDir, 'pki'), OPERATOR_IDENTITY),
      name: 'e2e-audit-gateway',
    });
    try {
      const operator = new BusClient(connection, {
        defaultTimeoutMs: 10_000,
        actingAs: serviceCredentialsOverBus(new BusClient(connection, { defaultTimeoutMs: 10_000 })),
      });
      const clientToken = async (tenantId: string, permissions: Permission[]) => {
        const client = await operator.request(createClient, {
          tenantId,
          environment: 'sandbox',
          name: `audit e2e ${permissions.length}`,
          grantTypes: ['client_credentials'],
          tokenEndpointAuthMethod: 'client_secret_basic',
          redirectUris: [],
          permissions,
        });
        return clientCredentialsToken(stack.gatewayUrl, {
          clientId: client.clientId,
          clientSecret: client.clientSecret!,
        });
      };
      tenantB = (await operator.request(createTenant, { slug: 'audit-b', name: 'Audit B', region: 'default' })).id;
      tokenA = await clientToken(stack.demo.tenantId, [...AUDITOR, ...LEDGER]);
      readOnlyA = await clientToken(stack.demo.tenantId, ['ledger.accounts.read']);
      tokenB = await clientToken(tenantB, [...AUDITOR, ...LEDGER]);
    } finally {
      await connection.close();
    }
  }, 180_000);

  afterAll(async () => {
    await testStack?.dispose();
  }, 60_000);

  describe('refusals, on the AUDIT stream', () => {
    it('audits a 401 and a 403 the gateway decided, with the address it saw and not the one the client claimed', async () => {
      const unauthenticated = `e2e-401-${randomUUID()}`;
      const forbidden = `e2e-403-${randomUUID()}`;
      const forged = { [HEADERS.clientIp]: FORGED_IP, [HEADERS.userAgent]: 'forged' };
      expectProblem(
        await call(`/v1/tenants/${stack.demo.tenantId}/ledger/accounts`, 'not-a-token', {
          headers: { [HEADERS.requestId]: unauthenticated, ...forged },
        }),
        401,
        'UNAUTHENTICATED',
      );
      expectProblem(
        await call(`/v1/tenants/${stack.demo.tenantId}/ledger/accounts`, readOnlyA, {
          method: 'POST',
          body: { code: 'never', name: 'Never', currency: 'USD', type: 'asset' },
          headers: { [HEADERS.requestId]: forbidden, ...forged },
        }),
        403,
        'FORBIDDEN',
      );
      const events = await auditEventsOf('gateway', [unauthenticated, forbidden]);
      const byRequest = new Map(events.map((event) => [event.requestId, event]));
      expect(byRequest.get(unauthenticated)).toMatchObject({
        tenantId: PLATFORM_AUDIT_TENANT_ID,
        actor: { type: 'anonymous' },
        action: 'gateway.request.authenticate',
        resource: { type: 'route', id: 'GET:/v1/tenants/:tenantId/ledger/accounts' },
        outcome: 'denied',
        reason: 'UNAUTHENTICATED',
        userAgent: USER_AGENT,
        details: { credential: 'bearer' },
      });
      expect(byRequest.get(forbidden)).toMatchObject({
        tenantId: stack.demo.tenantId,
        environment: 'sandbox',
        actor: { type: 'client' },
        action: 'gateway.request.authorize',
        resource: { type: 'route', id: 'POST:/v1/tenants/:tenantId/ledger/accounts' },
        outcome: 'denied',
        reason: 'FORBIDDEN',
        details: { permission: 'ledger.accounts.create' },
      });
      for (const event of events) {
        expect(event.sourceIp).toMatch(LOOPBACK);
        expect(event.traceId).toMatch(/^[0-9a-f]{32}$/);
      }
    });

    it('audits nothing for an unknown route or a health check', async () => {
      const requestId = `e2e-404-${randomUUID()}`;
      expect((await call('/v1/nothing-here', undefined, { headers: { [HEADERS.requestId]: requestId } })).status).toBe(
        404,
      );
      expect((await call('/health', undefined, { headers: { [HEADERS.requestId]: requestId } })).status).toBe(200);
      const marker = `e2e-marker-${randomUUID()}`;
      expect(
        (await call('/v1/audit/records', 'not-a-token', { headers: { [HEADERS.requestId]: marker } })).status,
      ).toBe(401);
      // Read up to a later refusal: had the 404 or the health check been audited, it would be on the stream before it.
      const events = await auditEventsOf('gateway', [marker, requestId], [marker]);
      expect(events.map((event) => event.requestId)).toEqual([marker]);
    });

    it('has a service audit a bus call it refused for its credential: none, or one without the permission', async () => {
      // As a caller on the bus would (the gateway's identity may call the ledger), without the gateway's checks.
      const connection = await connectBus({
        servers: stack.natsUrl,
        tls: busTlsFilesFor(join(testStack.stateDir, 'pki'), 'gateway'),
        name: 'e2e-audit-bus-caller',
      });
      const anonymous = `e2e-bus-anonymous-${randomUUID()}`;
      const lacking = `e2e-bus-lacking-${randomUUID()}`;
      try {
        const bus = new BusClient(connection, { defaultTimeoutMs: 10_000 });
        await expect(
          bus.request(listLedgerAccounts, { tenantId: stack.demo.tenantId }, { requestId: anonymous }),
        ).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
        await expect(
          bus.forward(
            createLedgerAccount,
            { tenantId: stack.demo.tenantId, code: 'never', name: 'Never', currency: 'USD', type: 'asset' },
            { requestId: lacking, credential: `Bearer ${readOnlyA}` },
          ),
        ).rejects.toMatchObject({ code: 'FORBIDDEN' });
      } finally {
        await connection.close();
      }
      const events = new Map(
        (await auditEventsOf('ledger', [anonymous, lacking])).map((event) => [event.requestId, event]),
      );
      expect(events.get(anonymous)).toMatchObject({
        tenantId: PLATFORM_AUDIT_TENANT_ID,
        actor: { type: 'anonymous' },
        action: 'service.request.authorize',
        resource: { type: 'bus_subject', id: listLedgerAccounts.subject },
        outcome: 'denied',
        reason: 'UNAUTHENTICATED',
      });
      expect(events.get(lacking)).toMatchObject({
        tenantId: stack.demo.tenantId,
        actor: { type: 'client' },
        action: 'service.request.authorize',
        resource: { type: 'bus_subject', id: createLedgerAccount.subject },
        reason: 'FORBIDDEN',
        details: { permission: 'ledger.accounts.create' },
      });
      // No gateway in between: no client address to state.
      expect(events.get(anonymous)).not.toHaveProperty('sourceIp');
    });

    it("has the service audit a call it refused (another tenant's ledger), stating the client the gateway saw", async () => {
      const requestId = `e2e-other-tenant-${randomUUID()}`;
      expectProblem(
        await call(`/v1/tenants/${stack.demo.tenantId}/ledger/accounts`, tokenB, {
          headers: { [HEADERS.requestId]: requestId, [HEADERS.clientIp]: FORGED_IP, [HEADERS.userAgent]: 'forged' },
        }),
        404,
        'NOT_FOUND',
      );
      const [event] = await auditEventsOf('ledger', [requestId]);
      expect(event).toMatchObject({
        tenantId: tenantB,
        actor: { type: 'client' },
        action: 'service.request.authorize',
        resource: { type: 'bus_subject', id: 'ledger.v1.accounts.list' },
        outcome: 'denied',
        reason: 'OTHER_TENANT',
        userAgent: USER_AGENT,
        details: { requestedTenantId: stack.demo.tenantId },
      });
      expect(event?.sourceIp).toMatch(LOOPBACK);
    });
  });

  describe('the audit API (audit service)', () => {
    /** Request ids of refusals of tenant A's read-only client: records of A's chain. */
    const refusedA: string[] = [];

    beforeAll(async () => {
      for (let i = 0; i < 5; i += 1) {
        const requestId = `e2e-a-refusal-${i}-${randomUUID()}`;
        refusedA.push(requestId);
        expect(
          (
            await call(`/v1/tenants/${stack.demo.tenantId}/ledger/accounts`, readOnlyA, {
              method: 'POST',
              body: { code: `x-${i}`, name: 'x', currency: 'USD', type: 'asset' },
              headers: { [HEADERS.requestId]: requestId },
            })
          ).status,
        ).toBe(403);
      }
    });

    it("lists a tenant's records once stored, newest first, filtered and cursor-paged", async () => {
      const [record] = await storedRecords(tokenA, refusedA[4]!);
      expect(record?.record).toMatchObject({
        tenantId: stack.demo.tenantId,
        emitter: 'gateway',
        action: 'gateway.request.authorize',
        outcome: 'denied',
        requestId: refusedA[4],
      });
      expect(record?.hash).toMatch(/^[0-9a-f]{64}$/);
      for (const requestId of refusedA) expect(await storedRecords(tokenA, requestId)).toHaveLength(1);

      const filter = 'action=gateway.request.authorize&outcome=denied&actorType=client';
      const seen: AuditRecordView[] = [];
      let cursor: string | null = null;
      for (let pages = 0; pages < 50; pages += 1) {
        const page: { records: AuditRecordView[]; nextCursor: string | null } = expectStatus(
          await call(`/v1/audit/records?${filter}&limit=2${cursor !== null ? `&cursor=${cursor}` : ''}`, tokenA),
          200,
        );
        expect(page.records.length).toBeLessThanOrEqual(2);
        seen.push(...page.records);
        cursor = page.nextCursor;
        if (cursor === null) break;
      }
      expect(cursor).toBeNull();
      const seqs = seen.map((view) => view.record.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => b - a));
      expect(new Set(seqs).size).toBe(seqs.length);
      expect(seen.every((view) => view.record.action === 'gateway.request.authorize')).toBe(true);
      expect(seen.map((view) => view.record.requestId)).toEqual(expect.arrayContaining(refusedA));

      const windowed = expectStatus(
        await call(
          `/v1/audit/records?from=${encodeURIComponent(new Date(Date.now() + 3_600_000).toISOString())}`,
          tokenA,
        ),
        200,
      );
      expect(windowed.records).toEqual([]);
      expectProblem(await call('/v1/audit/records?limit=0', tokenA), 400, 'VALIDATION');
    }, 60_000);

    it("never shows tenant B tenant A's records, and refuses B naming A", async () => {
      await storedRecords(tokenA, refusedA[0]!);
      const page = expectStatus(await call(`/v1/audit/records?requestId=${refusedA[0]}`, tokenB), 200);
      expect(page.records).toEqual([]);
      const all = expectStatus(await call('/v1/audit/records?limit=1000', tokenB), 200);
      expect(all.records.every((view: AuditRecordView) => view.record.tenantId === tenantB)).toBe(true);
      expectProblem(await call(`/v1/audit/records?tenantId=${stack.demo.tenantId}`, tokenB), 404, 'NOT_FOUND');
      expectProblem(await call(`/v1/audit/verification?tenantId=${stack.demo.tenantId}`, tokenB), 404, 'NOT_FOUND');
      // The read-only client of A holds no audit permission: refused at the gateway.
      expectProblem(await call('/v1/audit/records', readOnlyA), 403, 'FORBIDDEN');
    });

    it("verifies the tenant's chain, signs a checkpoint on demand and lists it with the keys to check it", async () => {
      await storedRecords(tokenA, refusedA[4]!);
      const verification = expectStatus(await call('/v1/audit/verification', tokenA), 200);
      expect(verification).toMatchObject({ tenantId: stack.demo.tenantId, valid: true, problems: [] });
      expect(verification.records).toBeGreaterThanOrEqual(refusedA.length);
      const checkpoint = expectStatus(await call('/v1/audit/checkpoints', tokenA, { method: 'POST' }), 201);
      expect(checkpoint.statement).toMatchObject({ tenantId: stack.demo.tenantId });
      const listed = expectStatus(await call('/v1/audit/checkpoints?limit=1000', tokenA), 200);
      expect(listed.checkpoints).toContainEqual(checkpoint);
      const keys = expectStatus(await call('/v1/audit/signing-keys', tokenA), 200);
      expect(keys.keys.map((key: { version: number }) => key.version)).toContain(checkpoint.keyVersion);
    });

    it('exports a period that verify-export accepts with the pinned key, and rejects once a line is changed', async () => {
      await storedRecords(tokenA, refusedA[4]!);
      const root = mkdtempSync(join(tmpdir(), 'strongroom-audit-e2e-'));
      try {
        const out = join(root, 'export');
        // A period that has ended (the audit service exports no period still being written).
        const to = new Date().toISOString();
        const exported = await strongroom(['audit', 'export', '--from', startedAt, '--to', to, '--out', out], {
          STRONGROOM_ACCESS_TOKEN: tokenA,
          STRONGROOM_GATEWAY_URL: stack.gatewayUrl,
        });
        expect(exported).toMatchObject({ code: 0, output: expect.stringContaining(`tenant ${stack.demo.tenantId}`) });
        const documents = readFileSync(join(out, AUDIT_EXPORT_FILES.records), 'utf8').split('\n').slice(0, -1);
        expect(documents.length).toBeGreaterThanOrEqual(refusedA.length);
        expect(documents.map((line) => JSON.parse(line).requestId)).toEqual(expect.arrayContaining(refusedA));
        expect(readFileSync(join(out, AUDIT_EXPORT_FILES.csv), 'utf8').split('\r\n')).toHaveLength(
          documents.length + 2,
        );

        // The pinned key, from where the platform keeps it (the local secrets of the audit service), not from the export.
        const pinned = await auditSigningKeysFromSecrets({ STRONGROOM_STATE_DIR: testStack.stateDir });
        if (!('keys' in pinned)) throw new Error(pinned.missing);
        const keyFile = join(root, 'pinned.json');
        writeFileSync(keyFile, JSON.stringify(pinned.keys));
        expect(await strongroom(['audit', 'verify-export', out, '--key', keyFile])).toMatchObject({
          code: 0,
          output: expect.stringContaining('verified'),
        });

        const refused = documents.findIndex((line) => line.includes(refusedA[0]!));
        documents[refused] = documents[refused]!.replace('"denied"', '"success"');
        writeFileSync(join(out, AUDIT_EXPORT_FILES.records), `${documents.join('\n')}\n`);
        expect(await strongroom(['audit', 'verify-export', out, '--key', keyFile])).toMatchObject({
          code: 1,
          output: expect.stringContaining('FAILED verification'),
        });
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    }, 60_000);

    it('places, shows and releases a legal hold, visible to its tenant only', async () => {
      const placed = expectStatus(
        await call('/v1/audit/legal-hold', tokenA, { method: 'PUT', body: { reason: 'litigation 2026-17' } }),
        200,
      );
      expect(placed).toMatchObject({ tenantId: stack.demo.tenantId, reason: 'litigation 2026-17' });
      expect(expectStatus(await call('/v1/audit/legal-hold', tokenA), 200).hold).toMatchObject({
        reason: 'litigation 2026-17',
      });
      expect(expectStatus(await call('/v1/audit/legal-hold', tokenB), 200).hold).toBeNull();
      expectProblem(await call('/v1/audit/legal-hold', tokenA, { method: 'PUT', body: {} }), 400, 'VALIDATION');
      expect(expectStatus(await call('/v1/audit/legal-hold', tokenA, { method: 'DELETE' }), 200)).toEqual({
        tenantId: stack.demo.tenantId,
        released: true,
      });
      expect(expectStatus(await call('/v1/audit/legal-hold', tokenA), 200).hold).toBeNull();
    });

    it('`strongroom audit verify` reads the store directly: every chain verifies, and a record changed in Postgres is found', async () => {
      await storedRecords(tokenA, refusedA[4]!);
      const auditUrl = await testStack.adminUrlOf('audit');
      const env = {
        DATABASE_URL: await testAdminUrl(),
        STRONGROOM_DB_PREFIX: new URL(auditUrl).pathname.slice(1).replace(/_audit$/, ''),
        STRONGROOM_STATE_DIR: testStack.stateDir,
      };
      const store = new Client({ connectionString: auditUrl });
      await store.connect();
      /** An attacker with the disk: a superuser rewrites a record, past the append-only trigger. */
      const rewrite = async (seq: string, document: string) => {
        await store.query('BEGIN');
        await store.query('SET LOCAL session_replication_role = replica');
        await store.query('UPDATE audit_records SET document = $1 WHERE tenant_id = $2 AND seq = $3', [
          document,
          stack.demo.tenantId,
          seq,
        ]);
        await store.query('COMMIT');
      };
      try {
        const verified = await strongroom(['audit', 'verify'], env);
        expect(verified.output).not.toContain('FAILED');
        expect(verified.code).toBe(0);
        expect(verified.output).toMatch(new RegExp(`^tenant ${stack.demo.tenantId}: \\d+ records .*: OK$`, 'm'));
        const { rows } = await store.query<{ seq: string; document: string }>(
          'SELECT seq::text AS seq, document FROM audit_records WHERE tenant_id = $1 AND document LIKE $2',
          [stack.demo.tenantId, `%${refusedA[2]}%`],
        );
        const target = rows[0]!;
        await rewrite(target.seq, target.document.replace('"denied"', '"success"'));
        try {
          const failed = await strongroom(['audit', 'verify', '--tenant', stack.demo.tenantId], env);
          expect(failed.code).toBe(1);
          expect(failed.output).toContain(`record_modified@${target.seq}`);
        } finally {
          // Put back: the store is this stack's, and later checks read it.
          await rewrite(target.seq, target.document);
        }
        expect((await strongroom(['audit', 'verify', '--tenant', stack.demo.tenantId], env)).code).toBe(0);
      } finally {
        await store.end();
      }
    }, 60_000);
  });
});
