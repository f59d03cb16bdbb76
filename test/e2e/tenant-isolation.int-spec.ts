import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { RunningStack } from '@strongroom/cli';
import {
  BACKEND_SERVICES,
  createClient,
  createTenant,
  createUser,
  OPERATOR_IDENTITY,
  PERMISSIONS,
  type Permission,
  PLATFORM_PERMISSIONS,
  SERVICE_IDENTITY_PERMISSIONS,
  type TransferResultCode,
} from '@strongroom/contracts';
import { BusClient, busTlsFilesFor, connectBus, serviceCredentialsOverBus, withDatabase } from '@strongroom/platform';
import type { NatsConnection } from 'nats';
import { API_ROUTES, type ApiRoute } from '../../apps/gateway/src/api/api-route-table';
import {
  type DatabaseTables,
  describeTables,
  fingerprintRows,
  type Outcome,
  probeAsRuntimeRole,
  withSuperuser,
} from './support/tenant-rows';
import { clientCredentialsToken, startTestStack, type TestStack } from './test-stack';

const SERVICE_ONLY = SERVICE_IDENTITY_PERMISSIONS;
const PLATFORM_ONLY = PLATFORM_PERMISSIONS;
/** Every tenant-level permission: each tenant's client holds all of them, so only isolation can refuse. */
const TENANT_PERMISSIONS = (Object.keys(PERMISSIONS) as Permission[]).filter(
  (permission) => !SERVICE_ONLY.includes(permission) && !PLATFORM_ONLY.includes(permission),
);

/** A tenant and real ids of its resources. */
interface TenantResources {
  tenantId: string;
  clientId: string;
  userId: string;
  keyId: string;
  cardId: string;
  cardPin: string;
  roleName: string;
  /** Two ledger accounts (cash, a wallet), a transfer between them with a reference, a pending transfer left open. */
  accountIds: [string, string];
  transferId: string;
  pendingTransferId: string;
  reference: string;
}

/** How each path parameter is filled in from the target tenant's resources. */
const PATH_PARAMETERS: Record<string, (target: TenantResources) => string> = {
  tenantId: (target) => target.tenantId,
  environment: () => 'sandbox',
  keyId: (target) => target.keyId,
  cardId: (target) => target.cardId,
  roleName: (target) => target.roleName,
  userId: (target) => target.userId,
  accountId: (target) => target.accountIds[0],
  transferId: (target) => target.transferId,
};
/** Parameters that are not one tenant's resource: a route with only these is not tried from A's own tenant path. */
const NOT_RESOURCES = new Set(['tenantId', 'environment']);

interface RouteSample {
  /** A body the route's contract accepts (an invalid one would answer 400 and prove nothing). */
  body?: (target: TenantResources) => unknown;
  query?: (target: TenantResources) => Record<string, string>;
  /** The body or query names the target's resources: also tried on A's own tenant path (B's ids inside A's tenant). */
  namesResources?: boolean;
  /**
   * A route that answers "nothing of that" as 200, not 404 (a search, a batch with a result per
   * transfer): on A's own path, how its reply shows none of B's resources was found or changed.
   */
  foundNothing?: (reply: unknown) => boolean;
}

/** An immediate transfer between the target's two accounts. */
const transferBetween = (target: TenantResources) => ({
  type: 'immediate',
  id: randomUUID(),
  category: 'other',
  postings: [
    { accountId: target.accountIds[0], direction: 'debit', amount: '100', currency: 'USD' },
    { accountId: target.accountIds[1], direction: 'credit', amount: '100', currency: 'USD' },
  ],
});
/** What a batch naming B's accounts, pending and posted transfers may answer inside A's ledger. */
const NOT_FOUND_RESULTS: readonly TransferResultCode[] = [
  'account_not_found',
  'pending_transfer_not_found',
  'reversal_target_not_found',
];
const LEDGER = '/v1/tenants/:tenantId/ledger';

/**
 * A valid call of every tenant-scoped route (`${method} ${url}`). A new route under
 * /v1/tenants/:tenantId fails this suite until it has an entry here.
 */
const ROUTE_SAMPLES: Record<string, RouteSample> = {
  'GET /v1/tenants/:tenantId': {},
  'POST /v1/tenants/:tenantId/suspension': {},
  'DELETE /v1/tenants/:tenantId/suspension': {},
  'PATCH /v1/tenants/:tenantId/settings': { body: () => ({ ratePlan: 'premium', accessTokenTtlSeconds: 3_600 }) },
  'GET /v1/tenants/:tenantId/environments': {},
  'GET /v1/tenants/:tenantId/environments/:environment': {},
  'PATCH /v1/tenants/:tenantId/environments/:environment': { body: () => ({ ipAllowlist: ['198.51.100.0/24'] }) },
  'GET /v1/tenants/:tenantId/roles': {},
  'POST /v1/tenants/:tenantId/roles': {
    body: () => ({ name: 'intruder_role', description: 'planted', permissions: ['tenants.tenants.read'] }),
  },
  'PUT /v1/tenants/:tenantId/roles/:roleName': { body: () => ({ permissions: ['tenants.tenants.read'] }) },
  'DELETE /v1/tenants/:tenantId/roles/:roleName': {},
  'GET /v1/tenants/:tenantId/users': { query: () => ({ limit: '10' }) },
  'PUT /v1/tenants/:tenantId/users/:userId/roles': { body: () => ({ roles: ['admin'] }) },
  'POST /v1/tenants/:tenantId/clients': {
    body: () => ({
      environment: 'sandbox',
      name: 'Intruder',
      grantTypes: ['client_credentials'],
      permissions: ['tenants.tenants.read'],
    }),
  },
  'POST /v1/tenants/:tenantId/api-keys': {
    body: () => ({ environment: 'sandbox', name: 'Intruder', permissions: ['tenants.tenants.read'] }),
  },
  'GET /v1/tenants/:tenantId/api-keys': { query: () => ({ environment: 'sandbox', limit: '10' }) },
  'POST /v1/tenants/:tenantId/api-keys/:keyId/rotate': { body: () => ({ overlapSeconds: 0 }) },
  'DELETE /v1/tenants/:tenantId/api-keys/:keyId': {},
  'POST /v1/tenants/:tenantId/token-revocations': {
    body: (target) => ({
      targets: [
        { scope: 'client', clientId: target.clientId },
        { scope: 'user', userId: target.userId },
      ],
    }),
    namesResources: true,
  },
  'POST /v1/tenants/:tenantId/invitations': { body: () => ({ email: 'intruder@a.test', roles: ['admin'] }) },
  'POST /v1/tenants/:tenantId/cards': { body: () => ({ cardNumber: '4000 0566 5566 5556', pin: '4826' }) },
  // The right PIN: a leak answers 200 rather than hiding behind wrong_pin.
  'POST /v1/tenants/:tenantId/cards/:cardId/pin-verifications': { body: (target) => ({ pin: target.cardPin }) },
  'PUT /v1/tenants/:tenantId/cards/:cardId/pin': { body: (target) => ({ pin: target.cardPin, newPin: '5937' }) },
  'POST /v1/tenants/:tenantId/cards/:cardId/unlock': {},
  [`POST ${LEDGER}/accounts`]: {
    body: () => ({ code: 'intruder', name: 'Intruder', currency: 'USD', type: 'asset' }),
  },
  [`GET ${LEDGER}/accounts`]: { query: () => ({ limit: '10', currency: 'USD' }) },
  [`GET ${LEDGER}/accounts/:accountId`]: {},
  [`POST ${LEDGER}/accounts/:accountId/closure`]: {},
  [`GET ${LEDGER}/accounts/:accountId/balance`]: { query: () => ({ asOf: new Date().toISOString() }) },
  [`GET ${LEDGER}/accounts/:accountId/entries`]: { query: () => ({ limit: '10' }) },
  [`POST ${LEDGER}/transfers`]: { body: transferBetween, namesResources: true },
  // Moves B's money, posts and voids B's pending transfer, reverses B's transfer: each must find nothing.
  [`POST ${LEDGER}/transfer-batches`]: {
    body: (target) => ({
      transfers: [
        transferBetween(target),
        { type: 'post_pending', id: randomUUID(), pendingId: target.pendingTransferId },
        { type: 'void_pending', id: randomUUID(), pendingId: target.pendingTransferId },
        { type: 'reversal', id: randomUUID(), reversesId: target.transferId },
      ],
    }),
    namesResources: true,
    foundNothing: (reply) =>
      (reply as { results: Array<{ result: TransferResultCode }> }).results.every(({ result }) =>
        NOT_FOUND_RESULTS.includes(result),
      ),
  },
  [`GET ${LEDGER}/transfers/:transferId`]: {},
  [`GET ${LEDGER}/transfers`]: {
    query: (target) => ({ reference: target.reference }),
    namesResources: true,
    foundNothing: (reply) => (reply as { transfers: unknown[] }).transfers.length === 0,
  },
  // A period that has ended (an export reads only settled time): the last day.
  [`POST ${LEDGER}/exports`]: { body: () => lastDay() },
  [`GET ${LEDGER}/exports/entries`]: { query: () => ({ ...lastDay(), limit: '10' }) },
  [`GET ${LEDGER}/exports/balances`]: { query: () => ({ ...lastDay(), limit: '10' }) },
  [`GET ${LEDGER}/export-signing-keys`]: {},
};

function lastDay(): { from: string; to: string } {
  const to = Date.now() - 1_000;
  return { from: new Date(to - 86_400_000).toISOString(), to: new Date(to).toISOString() };
}

/**
 * Tables without a tenant column, each with why it holds no tenant's data under a tenant's
 * key. A new table without a tenant column fails this suite until it is added here.
 */
const GLOBAL_TABLES: Record<string, string> = {
  schema_migrations: "TypeORM's record of applied migrations",
  oidc_payloads: "oidc-provider's protocol store, found by an HMAC of bearer values (auth 1764028800000-oauth.ts)",
  api_key_nonces: "signed requests' nonces by key id, no secret, kept ≤ 600 s (auth 1764028800200-api-keys.ts)",
  data_keys: "envelope data keys wrapped by the KEK, owned through `scope` (tenant:<id>): B's are fingerprinted",
  login_attempts:
    "the login throttle's counters, keyed by HMACs, never an email or address (auth 1764028800300-login.ts)",
  rate_limit_counters: "the gateway's per-credential request counters (gateway 1764201600100-rate-limit-counters.ts)",
};
/**
 * Tables under row-level security that are readable WITHOUT a tenant context by design: every
 * other probe holds (A's context sees and changes none of B's rows, writes none in B's name).
 */
const STEPS = ['selectWithoutTenant', 'select', 'update', 'delete'] as const;
const READ_WITHOUT_TENANT: Record<string, string> = {
  outbox: "the relay publishes every tenant's events, so it reads without a tenant context (platform outbox-sql.ts)",
  ledger_open_pendings:
    "the expiry sweep finds every tenant's due pending transfers, then expires each in its tenant's context (ledger 1764460800100-ledger.ts)",
  audit_chain_heads:
    'the checkpoint and purge jobs list the tenants that have a chain, read only: seq and hash, no content (audit 1764806400100-audit.ts)',
  audit_checkpoints:
    'the checkpoint job finds heads that moved past their last checkpoint, read only: signed seqs and hashes (audit 1764806400100-audit.ts)',
};
/**
 * Rows B may not have yet, written as superuser inside the probe's rolled-back transaction so
 * there is something to try ($1 = B): a pending event (the relay deletes published ones), a
 * checkpoint, a purge boundary, a legal hold.
 */
const VICTIM_ROW_SEEDS: Record<string, (service: string) => string> = {
  outbox: (service) =>
    `INSERT INTO outbox (id, subject, payload, tenant_id) VALUES (gen_random_uuid(), 'evt.${service}.v1.probes.recorded', '{}', $1)`,
  audit_checkpoints: () =>
    `INSERT INTO audit_checkpoints (tenant_id, seq, head_hash, created_at, statement, signature, key_version)
     VALUES ($1, 1000000, repeat('0', 64), now(), '{}', 'vault:v1:AA==', 1)`,
  audit_purges: () =>
    `INSERT INTO audit_purges (tenant_id, through_seq, through_hash, purged_at, records) VALUES ($1, 1, repeat('0', 64), now(), 0)`,
  audit_legal_holds: () =>
    `INSERT INTO audit_legal_holds (tenant_id, reason, placed_by, placed_at) VALUES ($1, 'probe', 'probe', now())
     ON CONFLICT DO NOTHING`,
};
/** Tenant rows not named by a tenant column: how to select one tenant's ($1). */
const TENANT_ROWS_ELSEWHERE: Record<string, string> = {
  data_keys: "scope = 'tenant:' || $1 OR scope LIKE 'tenant:' || $1 || '/%'",
};
/** Tables a background job empties on its own: the relay deletes each outbox row once it is published. */
const VOLATILE_TABLES = new Set(['outbox']);
/** Every service owns a database, and so does the gateway (regional databases, if any, are found beside them). */
const SERVICE_DATABASES = [...BACKEND_SERVICES, 'gateway'];
const INSUFFICIENT_PRIVILEGE = '42501';

const routeKey = (route: Pick<ApiRoute, 'method' | 'url'>) => `${route.method} ${route.url}`;
const parametersOf = (url: string) => [...url.matchAll(/:([A-Za-z]+)/g)].map((match) => match[1]!);
const TENANT_ROUTES = API_ROUTES.filter((route) => parametersOf(route.url).includes('tenantId'));

/**
 * Issue 5: tenant A, holding every tenant permission, can neither read nor change anything of
 * tenant B through any route of the API, and each service's runtime role cannot see or touch B's
 * rows from A's tenant context (row-level security), whatever the SQL.
 */
describe('tenant isolation', () => {
  let testStack: TestStack;
  let stack: RunningStack;
  let connection: NatsConnection;
  let a: TenantResources;
  let b: TenantResources;
  let tokenA: string;
  let tokenB: string;
  const databases = new Map<string, { url: string; tables: DatabaseTables }>();

  const call = (
    path: string,
    token: string,
    init: { method?: string; body?: unknown; headers?: Record<string, string> } = {},
  ) =>
    fetch(`${stack.gatewayUrl}${path}`, {
      method: init.method ?? 'GET',
      headers: {
        authorization: `Bearer ${token}`,
        ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...init.headers,
      },
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    });
  const created = async <T>(response: Response): Promise<T> => {
    const text = await response.text();
    if (response.status !== 201) throw new Error(`expected 201, got ${response.status}: ${text.slice(0, 300)}`);
    return JSON.parse(text) as T;
  };

  /** The route's path, query and body aimed at `target`'s resources, under `pathTenantId`. */
  const requestFor = (route: ApiRoute, target: TenantResources, pathTenantId = target.tenantId) => {
    const sample = ROUTE_SAMPLES[routeKey(route)]!;
    const params: Record<string, string> = {};
    for (const name of parametersOf(route.url))
      params[name] = name === 'tenantId' ? pathTenantId : PATH_PARAMETERS[name]!(target);
    const path = route.url.replace(/:([A-Za-z]+)/g, (_, name: string) => encodeURIComponent(params[name]!));
    const query = sample.query?.(target) ?? {};
    const search = new URLSearchParams(query).toString();
    return { params, query, body: sample.body?.(target), path: search === '' ? path : `${path}?${search}` };
  };

  async function clientToken(tenantId: string, operator: BusClient): Promise<{ clientId: string; token: string }> {
    const client = await operator.request(createClient, {
      tenantId,
      environment: 'sandbox',
      name: 'Isolation suite',
      grantTypes: ['client_credentials'],
      tokenEndpointAuthMethod: 'client_secret_basic',
      redirectUris: [],
      permissions: TENANT_PERMISSIONS,
    });
    if (client.clientSecret === undefined) throw new Error('a confidential client was registered without a secret');
    const token = await clientCredentialsToken(stack.gatewayUrl, {
      clientId: client.clientId,
      clientSecret: client.clientSecret,
    });
    return { clientId: client.clientId, token };
  }

  /** A tenant's real resources, each created through the gateway with the tenant's own token (users over the bus). */
  async function seedResources(tenantId: string, operator: BusClient, label: string) {
    const { clientId, token } = await clientToken(tenantId, operator);
    const user = await operator.request(createUser, {
      tenantId,
      email: `member@${label}.test`,
      password: 'a long and unusual passphrase',
      roles: ['viewer'],
    });
    const base = `/v1/tenants/${tenantId}`;
    const key = await created<{ key: { keyId: string } }>(
      await call(`${base}/api-keys`, token, {
        method: 'POST',
        body: { environment: 'sandbox', name: `${label} batch`, permissions: ['tenants.tenants.read'] },
      }),
    );
    const cardPin = '2580';
    // With an Idempotency-Key, so the gateway's own database holds a row of the tenant too.
    const card = await created<{ cardId: string }>(
      await call(`${base}/cards`, token, {
        method: 'POST',
        body: { cardNumber: '4242 4242 4242 4242', pin: cardPin },
        headers: { 'idempotency-key': `${label}-card` },
      }),
    );
    const roleName = `${label}_auditor`;
    await created(
      await call(`${base}/roles`, token, {
        method: 'POST',
        body: { name: roleName, description: `${label}'s auditors`, permissions: ['audit.records.read'] },
      }),
    );
    await created(
      await call(`${base}/invitations`, token, {
        method: 'POST',
        body: { email: `invitee@${label}.test`, roles: ['developer'] },
      }),
    );
    await created(
      await call(`${base}/clients`, token, {
        method: 'POST',
        body: {
          environment: 'sandbox',
          name: `${label} reporting`,
          grantTypes: ['client_credentials'],
          permissions: ['tenants.tenants.read'],
        },
      }),
    );
    const resources: TenantResources = {
      tenantId,
      clientId,
      userId: user.id,
      keyId: key.key.keyId,
      cardId: card.cardId,
      cardPin,
      roleName,
      ...(await seedLedger(`${base}/ledger`, token, label)),
    };
    return { resources, token };
  }

  /** Rows in every ledger table: two accounts, a transfer between them (entries, an event), a pending transfer left open. */
  async function seedLedger(ledger: string, token: string, label: string) {
    const open = async (code: string, type: string) =>
      (
        await created<{ id: string }>(
          await call(`${ledger}/accounts`, token, {
            method: 'POST',
            body: { code: `${label}-${code}`, name: `${label} ${code}`, currency: 'USD', type },
          }),
        )
      ).id;
    const accountIds: [string, string] = [await open('cash', 'asset'), await open('wallet', 'liability')];
    const postings = (amount: string) => [
      { accountId: accountIds[0], direction: 'debit', amount, currency: 'USD' },
      { accountId: accountIds[1], direction: 'credit', amount, currency: 'USD' },
    ];
    const reference = `${label}-loan-1`;
    const transfer = await created<{ id: string }>(
      await call(`${ledger}/transfers`, token, {
        method: 'POST',
        body: { type: 'immediate', id: randomUUID(), category: 'allocation', reference, postings: postings('10000') },
      }),
    );
    // Expiring in a day: a row the expiry sweep can see (READ_WITHOUT_TENANT), untouched while the suite runs.
    const pending = await created<{ id: string }>(
      await call(`${ledger}/transfers`, token, {
        method: 'POST',
        body: { type: 'pending', id: randomUUID(), timeoutSeconds: 86_400, postings: postings('500') },
      }),
    );
    return { accountIds, transferId: transfer.id, pendingTransferId: pending.id, reference };
  }

  /** Every row of tenant B in every service database, by database and table: count and md5. */
  async function fingerprintsOfB(): Promise<Record<string, { rows: number; md5: string }>> {
    const fingerprints: Record<string, { rows: number; md5: string }> = {};
    for (const [service, { url, tables }] of databases) {
      await withSuperuser(url, async (client) => {
        for (const table of tables.tenantTables.filter((candidate) => !VOLATILE_TABLES.has(candidate.table)))
          fingerprints[`${service}.${table.table}`] = await fingerprintRows(
            client,
            table.table,
            `"${table.tenantColumn}" = $1::uuid`,
            b.tenantId,
          );
        for (const table of tables.otherTables.filter((name) => TENANT_ROWS_ELSEWHERE[name] !== undefined))
          fingerprints[`${service}.${table}`] = await fingerprintRows(
            client,
            table,
            TENANT_ROWS_ELSEWHERE[table]!,
            b.tenantId,
          );
      });
    }
    return fingerprints;
  }

  beforeAll(async () => {
    testStack = await startTestStack();
    stack = testStack.stack;
    connection = await connectBus({
      servers: stack.natsUrl,
      tls: busTlsFilesFor(join(testStack.stateDir, 'pki'), OPERATOR_IDENTITY),
      name: 'e2e-tenant-isolation',
    });
    const anonymous = new BusClient(connection, { defaultTimeoutMs: 10_000 });
    const operator = new BusClient(connection, {
      defaultTimeoutMs: 10_000,
      actingAs: serviceCredentialsOverBus(anonymous),
    });
    const tenantB = await operator.request(createTenant, { slug: 'tenant-b', name: 'Tenant B', region: 'default' });
    ({ resources: a, token: tokenA } = await seedResources(stack.demo.tenantId, operator, 'a'));
    ({ resources: b, token: tokenB } = await seedResources(tenantB.id, operator, 'b'));
    // Every database of this stack (`<prefix>_<service>`, and any regional one), not only those named here.
    const authUrl = await testStack.adminUrlOf('auth');
    const prefix = new URL(authUrl).pathname.slice(1).replace(/_auth$/, '');
    const names = await withSuperuser(authUrl, async (client) => {
      const { rows } = await client.query<{ name: string }>(
        "SELECT datname AS name FROM pg_database WHERE starts_with(datname, $1 || '_') ORDER BY datname",
        [prefix],
      );
      return rows.map((row) => row.name);
    });
    for (const name of names) {
      const url = withDatabase(authUrl, name);
      databases.set(name.slice(prefix.length + 1), { url, tables: await withSuperuser(url, describeTables) });
    }
  }, 120_000);

  afterAll(async () => {
    await connection?.close();
    await testStack?.dispose();
  }, 60_000);

  it('has a valid sample call for every tenant-scoped route, and none for a route that is gone', () => {
    const keys = TENANT_ROUTES.map(routeKey);
    expect(keys.filter((key) => ROUTE_SAMPLES[key] === undefined)).toEqual([]);
    expect(Object.keys(ROUTE_SAMPLES).filter((key) => !keys.includes(key))).toEqual([]);
    const unknownParameters = TENANT_ROUTES.flatMap((route) =>
      parametersOf(route.url)
        .filter((name) => PATH_PARAMETERS[name] === undefined)
        .map((name) => `${routeKey(route)}: :${name}`),
    );
    expect(unknownParameters).toEqual([]);
    // Each sample, read as the gateway reads it, satisfies the route's contract (so a 400 is never the answer).
    const invalid = TENANT_ROUTES.flatMap((route) => {
      const { params, query, body } = requestFor(route, b);
      const input = route.input({ params, query, body, headers: {} } as unknown as Parameters<ApiRoute['input']>[0]);
      const parsed = route.contract.request.safeParse(input);
      return parsed.success ? [] : [`${routeKey(route)}: ${parsed.error.message}`];
    });
    expect(invalid).toEqual([]);
  });

  it("answers tenant B's own GET routes on B's resources with 200 (the paths are real)", async () => {
    const outcomes: string[] = [];
    for (const route of TENANT_ROUTES.filter((candidate) => candidate.method === 'GET')) {
      const response = await call(requestFor(route, b).path, tokenB);
      // A search whose empty answer counts as a refusal for A must find B's own resources for B.
      const foundNothing = ROUTE_SAMPLES[routeKey(route)]!.foundNothing;
      const empty = response.status === 200 && foundNothing?.(await response.json()) === true;
      outcomes.push(`${routeKey(route)} ${empty ? 'found nothing' : response.status}`);
    }
    expect(outcomes.filter((outcome) => !outcome.endsWith(' 200'))).toEqual([]);
    expect(outcomes.length).toBeGreaterThanOrEqual(5);
  });

  it("refuses every tenant-scoped route to tenant A on B's resources (403/404 problem+json) and leaves every row of B unchanged", async () => {
    const before = await fingerprintsOfB();
    expect(Object.keys(before).length).toBeGreaterThan(0);
    const wrong: string[] = [];
    let attempts = 0;
    for (const route of TENANT_ROUTES) {
      const sample = ROUTE_SAMPLES[routeKey(route)]!;
      const namesResources =
        parametersOf(route.url).some((name) => !NOT_RESOURCES.has(name)) || sample.namesResources === true;
      // B's tenant and ids; and, where the route names a resource, A's own tenant with B's ids.
      const targets = [b.tenantId, ...(namesResources ? [a.tenantId] : [])];
      for (const pathTenantId of targets) {
        for (const idempotencyKey of route.method === 'POST' ? [undefined, `intrusion-${attempts}`] : [undefined]) {
          const { path, body } = requestFor(route, b, pathTenantId);
          const response = await call(path, tokenA, {
            method: route.method,
            body,
            headers: idempotencyKey === undefined ? {} : { 'idempotency-key': idempotencyKey },
          });
          attempts += 1;
          const text = await response.text();
          const problem = response.headers.get('content-type')?.includes('application/problem+json') ?? false;
          const refused = [403, 404].includes(response.status) && problem;
          // Inside A's own ledger, B's ids are simply not there: a search or a batch says so in a 200.
          const foundNothing =
            pathTenantId === a.tenantId && response.status === 200 && sample.foundNothing?.(JSON.parse(text)) === true;
          if (!refused && !foundNothing)
            wrong.push(
              `${route.method} ${path}${idempotencyKey === undefined ? '' : ' (Idempotency-Key)'} → ${response.status}: ${text.slice(0, 200)}`,
            );
        }
      }
    }
    expect(wrong).toEqual([]);
    expect(attempts).toBeGreaterThanOrEqual(TENANT_ROUTES.length);
    expect(await fingerprintsOfB()).toEqual(before);
    // B's token and its resources still work: nothing of A's revoked or suspended them.
    const afterwards = await call(`/v1/tenants/${b.tenantId}/api-keys?environment=sandbox`, tokenB);
    expect(afterwards.status).toBe(200);
    const { keys } = (await afterwards.json()) as { keys: Array<{ keyId: string; status: string }> };
    expect(keys).toContainEqual(expect.objectContaining({ keyId: b.keyId, status: 'active' }));
  });

  it('knows every table without a tenant column as a global table, and no table lies outside public', () => {
    expect([...databases.keys()]).toEqual(expect.arrayContaining(SERVICE_DATABASES));
    const unknown = [...databases].flatMap(([service, { tables }]) => [
      ...tables.otherTables.filter((table) => GLOBAL_TABLES[table] === undefined).map((table) => `${service}.${table}`),
      ...tables.outsidePublic.map((table) => `${service}.${table}`),
    ]);
    expect(unknown).toEqual([]);
    const seen = new Set([...databases.values()].flatMap(({ tables }) => tables.otherTables));
    expect(Object.keys(GLOBAL_TABLES).filter((table) => !seen.has(table))).toEqual([]);
  });

  it("keeps B's rows from each service's runtime role in A's tenant context (row-level security), and without any tenant", async () => {
    const refusedOrNone = (outcome: Outcome) =>
      'refused' in outcome ? outcome.refused === INSUFFICIENT_PRIVILEGE : outcome.rows === 0;
    const failures: string[] = [];
    const coverage: Record<string, string[]> = {};
    const outboxesProbed: string[] = [];
    for (const [service, { url, tables }] of databases) {
      coverage[service] = [];
      await withSuperuser(url, async (client) => {
        for (const table of tables.tenantTables) {
          const seed = VICTIM_ROW_SEEDS[table.table]?.(service);
          const probe = await probeAsRuntimeRole(
            client,
            tables.runtimeRole,
            table,
            { actor: a.tenantId, victim: b.tenantId },
            seed,
          );
          const name = `${service}.${table.table}`;
          const withoutTenant = READ_WITHOUT_TENANT[table.table] !== undefined;
          coverage[service]!.push(
            `${table.table} (${probe.victimRows} rows of B${withoutTenant ? ', readable without a tenant' : ''})`,
          );
          if (!table.rowLevelSecurity || !table.forceRowLevelSecurity)
            failures.push(`${name}: row-level security not enabled and forced`);
          if (table.table === 'outbox') outboxesProbed.push(service);
          if (probe.victimRows === 0) failures.push(`${name}: B has no rows here, so nothing was tried`);
          for (const step of withoutTenant ? (['select', 'update', 'delete'] as const) : STEPS)
            if (!refusedOrNone(probe[step])) failures.push(`${name}: ${step} → ${show(probe[step])}`);
          if (!('refused' in probe.insert) || probe.insert.refused !== INSUFFICIENT_PRIVILEGE)
            failures.push(`${name}: INSERT of a row naming B → ${show(probe.insert)}`);
          if (probe.moveIntoVictim !== undefined && !refusedOrNone(probe.moveIntoVictim))
            failures.push(`${name}: UPDATE of A's rows to name B → ${show(probe.moveIntoVictim)}`);
          // Control: in B's own context the role does see them (the zeros above are the policy's).
          if (!('rows' in probe.selectAsVictim) || probe.selectAsVictim.rows !== probe.victimRows)
            failures.push(`${name}: in B's own context the role sees ${show(probe.selectAsVictim)}`);
        }
      });
    }
    if (process.env.E2E_LOG) process.stderr.write(`${JSON.stringify(coverage, null, 2)}\n`);
    expect(failures).toEqual([]);
    // Every tenant table of auth, tenants, the ledger and the gateway was tried.
    for (const service of ['auth', 'tenants', 'ledger', 'gateway'])
      expect(coverage[service]!.length).toBeGreaterThan(0);
    expect(coverage.ledger).toEqual(
      expect.arrayContaining(
        ['ledger_accounts', 'ledger_transfers', 'ledger_entries', 'ledger_open_pendings'].map((table) =>
          expect.stringMatching(new RegExp(`^${table} \\([1-9]`)),
        ),
      ),
    );
    // B's audit trail (its refusals and changes) was tried, and the audit tables B has no rows in yet with seeded ones.
    expect(coverage.audit).toEqual(
      expect.arrayContaining(
        ['audit_records', 'audit_chain_heads', 'audit_checkpoints', 'audit_purges', 'audit_legal_holds'].map((table) =>
          expect.stringMatching(new RegExp(`^${table} \\([1-9]`)),
        ),
      ),
    );
    // A pending event of B was tried in every service's outbox.
    expect(outboxesProbed.sort()).toEqual(
      [...BACKEND_SERVICES, 'gateway']
        .filter((service) => databases.get(service)?.tables.tenantTables.some((table) => table.table === 'outbox'))
        .sort(),
    );
    expect(outboxesProbed).toEqual(expect.arrayContaining(['auth', 'ledger', 'tenants', 'audit']));
  });
});

function show(outcome: Outcome): string {
  return 'refused' in outcome ? `refused ${outcome.refused} (${outcome.message})` : `${outcome.rows} rows`;
}
