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

/** Held by bus identities alone, never by a tenant's credential (packages/contracts/test/roles.spec.ts). */
const SERVICE_ONLY: Permission[] = [
  'auth.jwks.read',
  'auth.service-tokens.issue',
  'auth.oidc.exchange',
  'auth.api-keys.authenticate',
];
/** The platform's own (super_admin, the operator). */
const PLATFORM_ONLY: Permission[] = [
  'platform.health.read',
  'tenants.tenants.create',
  'tenants.tenants.list',
  'tenants.tenants.suspend',
  'tenants.settings.update',
];
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
}

/** How each path parameter is filled in from the target tenant's resources. */
const PATH_PARAMETERS: Record<string, (target: TenantResources) => string> = {
  tenantId: (target) => target.tenantId,
  environment: () => 'sandbox',
  keyId: (target) => target.keyId,
  cardId: (target) => target.cardId,
  roleName: (target) => target.roleName,
  userId: (target) => target.userId,
};
/** Parameters that are not one tenant's resource: a route with only these is not tried from A's own tenant path. */
const NOT_RESOURCES = new Set(['tenantId', 'environment']);

interface RouteSample {
  /** A body the route's contract accepts (an invalid one would answer 400 and prove nothing). */
  body?: (target: TenantResources) => unknown;
  query?: Record<string, string>;
  /** The body names the target's resources: also tried on A's own tenant path (B's ids inside A's tenant). */
  bodyNamesResources?: boolean;
}

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
  'GET /v1/tenants/:tenantId/users': { query: { limit: '10' } },
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
  'GET /v1/tenants/:tenantId/api-keys': { query: { environment: 'sandbox', limit: '10' } },
  'POST /v1/tenants/:tenantId/api-keys/:keyId/rotate': { body: () => ({ overlapSeconds: 0 }) },
  'DELETE /v1/tenants/:tenantId/api-keys/:keyId': {},
  'POST /v1/tenants/:tenantId/token-revocations': {
    body: (target) => ({
      targets: [
        { scope: 'client', clientId: target.clientId },
        { scope: 'user', userId: target.userId },
      ],
    }),
    bodyNamesResources: true,
  },
  'POST /v1/tenants/:tenantId/invitations': { body: () => ({ email: 'intruder@a.test', roles: ['admin'] }) },
  'POST /v1/tenants/:tenantId/cards': { body: () => ({ cardNumber: '4000 0566 5566 5556', pin: '4826' }) },
  // The right PIN: a leak answers 200 rather than hiding behind wrong_pin.
  'POST /v1/tenants/:tenantId/cards/:cardId/pin-verifications': { body: (target) => ({ pin: target.cardPin }) },
  'PUT /v1/tenants/:tenantId/cards/:cardId/pin': { body: (target) => ({ pin: target.cardPin, newPin: '5937' }) },
  'POST /v1/tenants/:tenantId/cards/:cardId/unlock': {},
};

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
const RELAY_TABLES: Record<string, string> = {
  outbox: "the relay publishes every tenant's events, so it reads without a tenant context (platform outbox-sql.ts)",
};
/** Tenant rows not named by a tenant column: how to select one tenant's ($1). */
const TENANT_ROWS_ELSEWHERE: Record<string, string> = {
  data_keys: "scope = 'tenant:' || $1 OR scope LIKE 'tenant:' || $1 || '/%'",
};
/** Columns a background job changes on its own (the relay marking events published). */
const VOLATILE_COLUMNS: Record<string, string[]> = { outbox: ['published_at'] };
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
    const query = sample.query ?? {};
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
    };
    return { resources, token };
  }

  /** Every row of tenant B in every service database, by database and table: count and md5. */
  async function fingerprintsOfB(): Promise<Record<string, { rows: number; md5: string }>> {
    const fingerprints: Record<string, { rows: number; md5: string }> = {};
    for (const [service, { url, tables }] of databases) {
      await withSuperuser(url, async (client) => {
        for (const table of tables.tenantTables)
          fingerprints[`${service}.${table.table}`] = await fingerprintRows(
            client,
            table.table,
            `"${table.tenantColumn}" = $1::uuid`,
            b.tenantId,
            VOLATILE_COLUMNS[table.table],
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
      outcomes.push(`${routeKey(route)} ${response.status}`);
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
        parametersOf(route.url).some((name) => !NOT_RESOURCES.has(name)) || sample.bodyNamesResources === true;
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
          if (![403, 404].includes(response.status) || !problem)
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
          const probe = await probeAsRuntimeRole(client, tables.runtimeRole, table, {
            actor: a.tenantId,
            victim: b.tenantId,
          });
          const name = `${service}.${table.table}`;
          const relay = RELAY_TABLES[table.table] !== undefined;
          coverage[service]!.push(`${table.table} (${probe.victimRows} rows of B${relay ? ', relay-readable' : ''})`);
          if (!table.rowLevelSecurity || !table.forceRowLevelSecurity)
            failures.push(`${name}: row-level security not enabled and forced`);
          // A service that has emitted nothing for B yet (ledger, KYC, consent, audit today) has no outbox row to try.
          if (relay && probe.victimRows === 0) continue;
          if (relay) outboxesProbed.push(service);
          if (probe.victimRows === 0) failures.push(`${name}: B has no rows here, so nothing was tried`);
          for (const step of relay ? (['select', 'update', 'delete'] as const) : STEPS)
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
    // Every tenant table of auth, tenants and the gateway was tried.
    for (const service of ['auth', 'tenants', 'gateway']) expect(coverage[service]!.length).toBeGreaterThan(0);
    // B's events (its creation, its users, keys, cards...) were tried in the outboxes that hold them.
    expect(outboxesProbed.sort()).toEqual(['auth', 'tenants']);
  });
});

function show(outcome: Outcome): string {
  return 'refused' in outcome ? `refused ${outcome.refused} (${outcome.message})` : `${outcome.rows} rows`;
}
