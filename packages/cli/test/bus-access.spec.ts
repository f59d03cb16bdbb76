import {
  AUDIT_STREAM,
  auditSubjectOf,
  BACKEND_SERVICES,
  BUS_ACCESS,
  BUS_IDENTITIES,
  type BusIdentity,
  busIdentityOfInbox,
  busInboxPrefixOf,
  busPermissionMap,
  busPermissionsOf,
  busUserOf,
  createTenant,
  createUser,
  EVENT_STREAMS,
  eventStreamOf,
  getJwks,
  getTenant,
  healthCheck,
  isPermission,
  issueServiceToken,
  OPERATOR_IDENTITY,
  reactivateTenant,
  SERVICE_NAMES,
  SERVICE_TOKEN_PERMISSIONS,
  SIEM_CONSUMER,
  SIEM_IDENTITY,
  suspendTenant,
  updateTenantSettings,
} from '@strongroom/contracts';

/** NATS subject matching: `*` is one token, a trailing `>` one or more. */
function subjectMatches(pattern: string, subject: string): boolean {
  const patternTokens = pattern.split('.');
  const subjectTokens = subject.split('.');
  for (const [index, token] of patternTokens.entries()) {
    if (token === '>') return subjectTokens.length > index;
    if (index >= subjectTokens.length) return false;
    if (token !== '*' && token !== subjectTokens[index]) return false;
  }
  return patternTokens.length === subjectTokens.length;
}

const mayPublish = (identity: BusIdentity, subject: string) =>
  busPermissionsOf(identity).publish.some((pattern) => subjectMatches(pattern, subject));
const maySubscribe = (identity: BusIdentity, subject: string) =>
  busPermissionsOf(identity).subscribe.some((pattern) => subjectMatches(pattern, subject));

const others = (service: string) => BACKEND_SERVICES.filter((other) => other !== service);
/** The services that keep tenant data in the tenant's region (DESIGN "Data residency"). */
const RESIDENT_DATA_SERVICES = ['ledger', 'kyc', 'consent'] as const;

describe('bus permission map', () => {
  it('has one nats user per service plus the operator, named as verify_and_map names the certificate', () => {
    expect(busPermissionMap().map((entry) => entry.user)).toEqual([
      ...SERVICE_NAMES.map((service) => `CN=${service},O=Strongroom`),
      'CN=strongroom-admin,O=Strongroom',
      'CN=siem,O=Strongroom',
    ]);
    expect(busUserOf('ledger')).toBe('CN=ledger,O=Strongroom');
  });

  it('lets the gateway call every backend service', () => {
    for (const service of BACKEND_SERVICES) expect(mayPublish('gateway', `${service}.v1.accounts.create`)).toBe(true);
  });

  it.each(BACKEND_SERVICES)('lets %s serve only its own request subjects and answer them', (service) => {
    expect(maySubscribe(service, `${service}.v1.health.check`)).toBe(true);
    for (const other of others(service)) expect(maySubscribe(service, `${other}.v1.health.check`)).toBe(false);
    expect(busPermissionsOf(service).answersRequests).toBe(true);
  });

  it('lets no identity but the backends serve anything, nor answer requests', () => {
    for (const identity of ['gateway', OPERATOR_IDENTITY] as const) {
      expect(busPermissionsOf(identity).subscribe).toEqual([`${busInboxPrefixOf(identity)}.>`]);
      expect(busPermissionsOf(identity).answersRequests).toBe(false);
    }
  });

  it.each(BACKEND_SERVICES)('lets %s publish its own events and no other service’s', (service) => {
    expect(mayPublish(service, `evt.${service}.v1.things.happened`)).toBe(true);
    for (const other of others(service)) expect(mayPublish(service, `evt.${other}.v1.things.happened`)).toBe(false);
  });

  it('lets every backend call auth (JWKS), and backends call each other only along declared edges', () => {
    for (const service of others('auth')) expect(mayPublish(service, 'auth.v1.jwks.get')).toBe(true);
    for (const caller of BACKEND_SERVICES) {
      for (const callee of others(caller)) {
        const declared = BUS_ACCESS[caller].calls.includes(callee);
        expect([caller, callee, mayPublish(caller, `${callee}.v1.things.do`)]).toEqual([caller, callee, declared]);
      }
    }
    // The edges today: auth asks tenants whether a tenant exists, and the services holding tenant
    // data ask it for a tenant's region; nobody else calls sideways.
    // Audit asks it for each tenant's audit retention.
    expect(BACKEND_SERVICES.filter((caller) => BUS_ACCESS[caller].calls.some((c) => c !== 'auth'))).toEqual([
      'auth',
      ...RESIDENT_DATA_SERVICES,
      'audit',
    ]);
    expect(BUS_ACCESS.auth.calls).toEqual(['tenants']);
    for (const service of [...RESIDENT_DATA_SERVICES, 'audit'] as const)
      expect(BUS_ACCESS[service].calls).toEqual(['auth', 'tenants']);
    expect(BUS_ACCESS.tenants.calls).toEqual(['auth']);
  });

  it('gives each identity its own reply inbox and none of another’s', () => {
    for (const identity of BUS_IDENTITIES) {
      for (const other of BUS_IDENTITIES) {
        expect(maySubscribe(identity, `${busInboxPrefixOf(other)}.abc.1`)).toBe(identity === other);
      }
      expect(maySubscribe(identity, '_INBOX.abc')).toBe(false);
    }
  });

  it('lets every service consume auth’s revocation stream, and audit the AUDIT stream', () => {
    const auth = eventStreamOf('auth').name;
    for (const service of SERVICE_NAMES) {
      expect(mayPublish(service, `$JS.API.CONSUMER.MSG.NEXT.${auth}.revocations`)).toBe(true);
      expect(mayPublish(service, `$JS.ACK.${auth}.revocations.1.1.1.1.1`)).toBe(true);
    }
    expect(mayPublish('audit', `$JS.API.CONSUMER.DURABLE.CREATE.${AUDIT_STREAM.name}.audit-store`)).toBe(true);
    expect(mayPublish('audit', `$JS.ACK.${AUDIT_STREAM.name}.audit-store.1.1.1.1.1`)).toBe(true);
    expect(mayPublish('ledger', `$JS.API.CONSUMER.CREATE.${eventStreamOf('kyc').name}.spy`)).toBe(false);
    expect(mayPublish('ledger', `$JS.API.CONSUMER.CREATE.${AUDIT_STREAM.name}.spy`)).toBe(false);
    // The operator inspects the services' event streams, never the audit trail's.
    for (const stream of EVENT_STREAMS)
      expect(mayPublish(OPERATOR_IDENTITY, `$JS.API.CONSUMER.MSG.NEXT.${stream.name}.inspect`)).toBe(true);
    expect(mayPublish(OPERATOR_IDENTITY, `$JS.API.CONSUMER.MSG.NEXT.${AUDIT_STREAM.name}.inspect`)).toBe(false);
    expect(mayPublish(OPERATOR_IDENTITY, `$JS.API.CONSUMER.CREATE.${AUDIT_STREAM.name}`)).toBe(false);
  });

  it('lets each service send audit events under its own emitter subject only', () => {
    for (const service of SERVICE_NAMES) {
      for (const emitter of SERVICE_NAMES)
        expect([service, emitter, mayPublish(service, auditSubjectOf(emitter))]).toEqual([
          service,
          emitter,
          service === emitter,
        ]);
    }
    for (const identity of [OPERATOR_IDENTITY, SIEM_IDENTITY] as const)
      expect(mayPublish(identity, auditSubjectOf('auth'))).toBe(false);
  });

  it('lets the SIEM identity read the AUDIT stream through its one consumer, and nothing else', () => {
    const allowed = busPermissionsOf(SIEM_IDENTITY);
    expect(allowed.answersRequests).toBe(false);
    expect(allowed.subscribe).toEqual([`${busInboxPrefixOf(SIEM_IDENTITY)}.>`]);
    expect(mayPublish(SIEM_IDENTITY, `$JS.API.CONSUMER.MSG.NEXT.${AUDIT_STREAM.name}.${SIEM_CONSUMER}`)).toBe(true);
    expect(mayPublish(SIEM_IDENTITY, `$JS.ACK.${AUDIT_STREAM.name}.${SIEM_CONSUMER}.1.1.1.1.1`)).toBe(true);
    expect(mayPublish(SIEM_IDENTITY, `$JS.API.CONSUMER.MSG.NEXT.${AUDIT_STREAM.name}.audit-store`)).toBe(false);
    expect(mayPublish(SIEM_IDENTITY, `$JS.ACK.${AUDIT_STREAM.name}.audit-store.1.1.1.1.1`)).toBe(false);
    for (const stream of EVENT_STREAMS)
      expect(mayPublish(SIEM_IDENTITY, `$JS.API.CONSUMER.CREATE.${stream.name}.x`)).toBe(false);
    for (const service of BACKEND_SERVICES) expect(mayPublish(SIEM_IDENTITY, `${service}.v1.health.check`)).toBe(false);
  });

  it('lets only the operator create streams, and nobody delete or purge one', () => {
    for (const identity of BUS_IDENTITIES) {
      expect(mayPublish(identity, '$JS.API.STREAM.CREATE.EVT_AUTH')).toBe(identity === OPERATOR_IDENTITY);
      expect(mayPublish(identity, '$JS.API.STREAM.DELETE.EVT_AUDIT')).toBe(false);
      expect(mayPublish(identity, '$JS.API.STREAM.PURGE.EVT_AUDIT')).toBe(false);
      expect(mayPublish(identity, '$JS.API.STREAM.MSG.DELETE.EVT_AUDIT')).toBe(false);
      expect(mayPublish(identity, '$JS.API.CONSUMER.DELETE.EVT_AUTH.audit')).toBe(false);
    }
  });

  it('lets the operator check every backend’s health and call only tenants and auth (to seed)', () => {
    for (const service of BACKEND_SERVICES) {
      expect(mayPublish(OPERATOR_IDENTITY, `${service}.v1.health.check`)).toBe(true);
      const seeds = service === 'tenants' || service === 'auth';
      expect(mayPublish(OPERATOR_IDENTITY, `${service}.v1.accounts.create`)).toBe(seeds);
    }
  });

  it('grants no catch-all subject to anyone', () => {
    for (const { permissions } of busPermissionMap()) {
      for (const pattern of [...permissions.publish, ...permissions.subscribe]) {
        expect(pattern).not.toMatch(/^(>|\*\.>|evt\.>|evt\.\*\.>|\$JS\.>|\$JS\.API\.>|_INBOX\.>)$/);
      }
    }
  });
});

describe('service identities and their tokens', () => {
  it('names the identity of a reply inbox, and nothing for other subjects', () => {
    for (const identity of BUS_IDENTITIES)
      expect(busIdentityOfInbox(`${busInboxPrefixOf(identity)}.abc.1`)).toBe(identity);
    expect(busIdentityOfInbox('_INBOX.abc')).toBeUndefined();
    expect(busIdentityOfInbox('_INBOX.stranger.abc.1')).toBeUndefined();
    expect(busIdentityOfInbox('ledger.v1.health.check')).toBeUndefined();
    expect(busIdentityOfInbox(undefined)).toBeUndefined();
  });

  it('grants each identity only catalogued permissions, and only what it does on its own behalf', () => {
    for (const identity of BUS_IDENTITIES) {
      for (const permission of SERVICE_TOKEN_PERMISSIONS[identity]) expect(isPermission(permission)).toBe(true);
    }
    // On its own behalf the gateway only exchanges presented API keys for access tokens and reads
    // the caller's environment policy.
    expect(SERVICE_TOKEN_PERMISSIONS.gateway).toEqual(['auth.api-keys.authenticate', 'tenants.environments.read']);
    expect(SERVICE_TOKEN_PERMISSIONS.auth).toEqual(['tenants.tenants.read', 'tenants.environments.read']);
    // The CLI is the platform operator: it seeds, and suspends, reactivates and re-times tenants.
    expect(SERVICE_TOKEN_PERMISSIONS[OPERATOR_IDENTITY]).toEqual([
      'tenants.tenants.create',
      'tenants.tenants.read',
      'tenants.tenants.suspend',
      'tenants.settings.update',
      'auth.users.create',
      'auth.clients.create',
    ]);
    // Ledger, KYC and consent read a tenant's region on their own behalf, and nothing else.
    for (const service of RESIDENT_DATA_SERVICES)
      expect(SERVICE_TOKEN_PERMISSIONS[service]).toEqual(['tenants.tenants.read']);
    expect(SERVICE_TOKEN_PERMISSIONS.tenants).toEqual([]);
    // Audit reads each tenant's retention (its settings) on its own behalf.
    expect(SERVICE_TOKEN_PERMISSIONS.audit).toEqual(['tenants.tenants.read']);
    expect(SERVICE_TOKEN_PERMISSIONS[SIEM_IDENTITY]).toEqual([]);
  });

  it('keeps only health checks, JWKS and service tokens public', () => {
    expect(getJwks.authentication).toBe('none');
    expect(issueServiceToken.authentication).toBe('none');
    for (const service of BACKEND_SERVICES) expect(healthCheck[service].authentication).toBe('none');
    for (const contract of [createTenant, getTenant, createUser, suspendTenant, reactivateTenant, updateTenantSettings])
      expect(contract.authentication).toBe('access-token');
  });
});
