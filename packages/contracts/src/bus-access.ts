import { AUDIT_STREAM, auditSubjectOf } from './audit-events';
import type { Permission } from './permissions';
import { BACKEND_SERVICES, type BackendServiceName, SERVICE_NAMES, type ServiceName } from './services';

/**
 * Who may do what on the bus: the one declaration the nats-server permission map is rendered
 * from (packages/cli `strongroom nats config`, infra/nats/nats-server.conf). Each identity is the
 * CN of a client certificate; the server maps it with `verify_and_map`.
 */

/** The operator identity the CLI and the start script use to create JetStream streams. */
export const OPERATOR_IDENTITY = 'strongroom-admin';
export type OperatorIdentity = typeof OPERATOR_IDENTITY;

/**
 * An external SIEM's identity (issue 7): it may read the AUDIT stream through the one durable
 * pull consumer SIEM_CONSUMER, which the operator creates, and nothing else (docs/siem.md). NATS
 * subjects have no partial-token wildcards, so the consumer's name is fixed.
 */
export const SIEM_IDENTITY = 'siem';
export type SiemIdentity = typeof SIEM_IDENTITY;
export const SIEM_CONSUMER = 'siem';

export const BUS_IDENTITIES = [...SERVICE_NAMES, OPERATOR_IDENTITY, SIEM_IDENTITY] as const;
export type BusIdentity = ServiceName | OperatorIdentity | SiemIdentity;

/** Organisation of every client certificate subject: `O=Strongroom, CN=<identity>`. */
export const BUS_CERTIFICATE_ORGANIZATION = 'Strongroom';

export function isBusIdentity(value: string): value is BusIdentity {
  return (BUS_IDENTITIES as readonly string[]).includes(value);
}

function isService(identity: BusIdentity): identity is ServiceName {
  return (SERVICE_NAMES as readonly string[]).includes(identity);
}

function isBackendService(identity: BusIdentity): identity is BackendServiceName {
  return (BACKEND_SERVICES as readonly string[]).includes(identity);
}

/**
 * The user name nats-server maps a certificate to: its subject as an RFC 2253 string, most
 * specific RDN first (the certificate holds O then CN, the server reads CN then O).
 */
export function busUserOf(identity: BusIdentity): string {
  return `CN=${identity},O=${BUS_CERTIFICATE_ORGANIZATION}`;
}

/**
 * Each identity gets its own reply-inbox prefix: with a shared `_INBOX.>` any service could
 * subscribe to every other service's replies (tokens, balances). Clients must connect with
 * `inboxPrefix: busInboxPrefixOf(identity)` (connectBus does; NestJS's NATS transport takes it too).
 */
export function busInboxPrefixOf(identity: string): string {
  return `_INBOX.${identity}`;
}

const INBOX_IDENTITY = /^_INBOX\.([^.*>]+)\./;

/**
 * The identity whose reply inbox `subject` is (`_INBOX.<identity>.…`), or undefined. nats-server
 * lets only that identity subscribe there, so whatever is sent to the subject reaches it alone.
 */
export function busIdentityOfInbox(subject: string | undefined): BusIdentity | undefined {
  const identity = subject === undefined ? undefined : INBOX_IDENTITY.exec(subject)?.[1];
  return identity !== undefined && isBusIdentity(identity) ? identity : undefined;
}

/** One JetStream stream per emitting service, holding `evt.<service>.>`. */
export interface EventStreamDeclaration {
  readonly name: string;
  readonly service: BackendServiceName;
  readonly subjects: readonly [string];
}

export function eventStreamOf(service: BackendServiceName): EventStreamDeclaration {
  return { name: `EVT_${service.toUpperCase()}`, service, subjects: [`evt.${service}.>`] };
}

export const EVENT_STREAMS: readonly EventStreamDeclaration[] = BACKEND_SERVICES.map(eventStreamOf);

export interface BusAccessDeclaration {
  /** Backend services whose whole request API (`<svc>.v1.>`) this identity may call. */
  readonly calls: readonly BackendServiceName[];
  /** Backend services whose health check alone this identity may call. */
  readonly checksHealthOf: readonly BackendServiceName[];
  /** Emitting services whose event stream this identity consumes through JetStream. */
  readonly consumesEventsOf: readonly BackendServiceName[];
  /** May create and update event streams (never delete or purge them). */
  readonly managesStreams: boolean;
  /** Reads the AUDIT stream: `'all'` (the audit service), `'siem'` (the durable consumer SIEM_CONSUMER only), or not at all. */
  readonly readsAudit?: 'all' | 'siem';
}

const NOTHING: readonly BackendServiceName[] = [];

/**
 * The edges of the service graph. Later issues edit this list, nothing else: a backend serves
 * its own `<svc>.v1.>` and publishes its own `evt.<svc>.>` by being a backend.
 * Auth is callable by every backend (JWKS) and calls tenants; auth's stream carries token revocations that every
 * service must apply; audit records every stream.
 */
export const BUS_ACCESS: Readonly<Record<BusIdentity, BusAccessDeclaration>> = {
  gateway: { calls: BACKEND_SERVICES, checksHealthOf: NOTHING, consumesEventsOf: ['auth'], managesStreams: false },
  // Auth checks that a user's tenant exists before creating the user.
  // …and turns tenant suspensions into revocations.
  auth: { calls: ['tenants'], checksHealthOf: NOTHING, consumesEventsOf: ['auth', 'tenants'], managesStreams: false },
  tenants: { calls: ['auth'], checksHealthOf: NOTHING, consumesEventsOf: ['auth'], managesStreams: false },
  // Services holding tenant data ask tenants for a tenant's data-residency region.
  ledger: { calls: ['auth', 'tenants'], checksHealthOf: NOTHING, consumesEventsOf: ['auth'], managesStreams: false },
  kyc: { calls: ['auth', 'tenants'], checksHealthOf: NOTHING, consumesEventsOf: ['auth'], managesStreams: false },
  consent: { calls: ['auth', 'tenants'], checksHealthOf: NOTHING, consumesEventsOf: ['auth'], managesStreams: false },
  // Audit reads the AUDIT stream (every service's audit events) and asks tenants for each tenant's retention.
  audit: {
    calls: ['auth', 'tenants'],
    checksHealthOf: NOTHING,
    consumesEventsOf: ['auth'],
    managesStreams: false,
    readsAudit: 'all',
  },
  // The operator seeds the first tenant and its admin (`strongroom up`), before any user exists,
  // and may inspect the services' event streams (never the AUDIT stream: the audit service and SIEMs read that).
  [OPERATOR_IDENTITY]: {
    calls: ['tenants', 'auth'],
    checksHealthOf: BACKEND_SERVICES,
    consumesEventsOf: BACKEND_SERVICES,
    managesStreams: true,
  },
  [SIEM_IDENTITY]: {
    calls: [],
    checksHealthOf: NOTHING,
    consumesEventsOf: NOTHING,
    managesStreams: false,
    readsAudit: 'siem',
  },
};

/**
 * What each identity's own service token (`auth.v1.service-tokens.issue`) lets it do, least
 * privilege: only what it does on its own behalf. A service forwarding an end user's call
 * forwards that user's credential instead, so it needs nothing here for that call.
 */
export const SERVICE_TOKEN_PERMISSIONS: Readonly<Record<BusIdentity, readonly Permission[]>> = {
  // Health checks and JWKS are public; the gateway forwards its clients' credentials, and on its
  // own behalf exchanges a presented API key for an access token and reads the caller's tenant
  // environment (IP allowlist, rate plan).
  gateway: ['auth.api-keys.authenticate', 'tenants.environments.read'],
  // Auth checks, on its own behalf, that a tenant exists and is active, and its environments' allowlists.
  auth: ['tenants.tenants.read', 'tenants.environments.read'],
  tenants: [],
  // Ledger, KYC and consent read, on their own behalf, the region a tenant's data lives in.
  ledger: ['tenants.tenants.read'],
  kyc: ['tenants.tenants.read'],
  consent: ['tenants.tenants.read'],
  // Audit reads, on its own behalf, each tenant's audit retention (tenant settings).
  audit: ['tenants.tenants.read'],
  // `strongroom up` seeds the first tenant, its admin and a demo OAuth client, before any user exists;
  // as the platform operator it also suspends and reactivates tenants and sets their token lifetimes.
  [OPERATOR_IDENTITY]: [
    'tenants.tenants.create',
    'tenants.tenants.read',
    'tenants.tenants.suspend',
    'tenants.settings.update',
    'auth.users.create',
    'auth.clients.create',
  ],
  [SIEM_IDENTITY]: [],
};

/**
 * A responder may publish at most this many messages to a request's reply subject, within this
 * window: NestJS may send a reply and its completion marker as two messages.
 */
export const BUS_REPLIES_PER_REQUEST_MAX = 2;
export const BUS_REPLY_WINDOW_SECONDS = 60;

export interface BusPermissions {
  readonly publish: readonly string[];
  readonly subscribe: readonly string[];
  /** Whether the identity answers requests (publishes to the reply subjects it received). */
  readonly answersRequests: boolean;
}

/** The JetStream API a consumer of `stream` needs; never stream management, never DELETE. */
function consumerApiOf(stream: string, consumer?: string): string[] {
  if (consumer !== undefined) {
    // One named durable consumer, created by the operator (ensureEventStreams), and nothing else
    // of the stream: no CREATE, so its configuration (pull, its deliver subject) is not the reader's.
    return [
      `$JS.API.CONSUMER.INFO.${stream}.${consumer}`,
      `$JS.API.CONSUMER.MSG.NEXT.${stream}.${consumer}`,
      `$JS.API.STREAM.INFO.${stream}`,
      `$JS.ACK.${stream}.${consumer}.>`,
      `$JS.FC.${stream}.${consumer}.>`,
    ];
  }
  return [
    // nats.js on a 2.9 server: `CONSUMER.CREATE.<stream>` (ephemeral) or `.<stream>.<name>[.<filter>]`.
    `$JS.API.CONSUMER.CREATE.${stream}`,
    `$JS.API.CONSUMER.CREATE.${stream}.>`,
    `$JS.API.CONSUMER.DURABLE.CREATE.${stream}.>`,
    `$JS.API.CONSUMER.INFO.${stream}.>`,
    `$JS.API.CONSUMER.MSG.NEXT.${stream}.>`,
    `$JS.API.STREAM.INFO.${stream}`,
    `$JS.ACK.${stream}.>`,
    `$JS.FC.${stream}.>`,
  ];
}

// Create and update only: deleting or purging a stream (the audit trail included) is not a
// bus operation; retention is the stream's own max_age.
const STREAM_MANAGEMENT_API = [
  '$JS.API.STREAM.CREATE.*',
  '$JS.API.STREAM.UPDATE.*',
  '$JS.API.STREAM.INFO.*',
  '$JS.API.STREAM.NAMES',
  '$JS.API.STREAM.LIST',
];

/** The publish/subscribe allow-lists of one identity; everything else is denied by nats-server. */
export function busPermissionsOf(identity: BusIdentity): BusPermissions {
  const access = BUS_ACCESS[identity];
  const publish = new Set<string>(['$JS.API.INFO']);
  const subscribe = new Set<string>([`${busInboxPrefixOf(identity)}.>`]);
  const serves = isBackendService(identity);

  if (serves) {
    subscribe.add(`${identity}.v1.>`);
    publish.add(`evt.${identity}.>`);
    // Publishing through JetStream: the publisher may read its own stream's state.
    publish.add(`$JS.API.STREAM.INFO.${eventStreamOf(identity).name}`);
  }
  for (const callee of access.calls) publish.add(`${callee}.v1.>`);
  for (const checked of access.checksHealthOf) publish.add(`${checked}.v1.health.check`);
  for (const emitter of access.consumesEventsOf) {
    for (const subject of consumerApiOf(eventStreamOf(emitter).name)) publish.add(subject);
  }
  if (isService(identity)) {
    // Every service (the gateway too) sends audit events under its own emitter subject only.
    publish.add(auditSubjectOf(identity));
    publish.add(`$JS.API.STREAM.INFO.${AUDIT_STREAM.name}`);
  }
  if (access.readsAudit !== undefined) {
    const consumer = access.readsAudit === 'all' ? undefined : SIEM_CONSUMER;
    for (const subject of consumerApiOf(AUDIT_STREAM.name, consumer)) publish.add(subject);
  }
  if (access.managesStreams) {
    for (const subject of STREAM_MANAGEMENT_API) publish.add(subject);
    // The SIEM's consumer is created by the operator, with a fixed configuration (never read by it).
    for (const subject of [
      `$JS.API.CONSUMER.INFO.${AUDIT_STREAM.name}.${SIEM_CONSUMER}`,
      `$JS.API.CONSUMER.CREATE.${AUDIT_STREAM.name}.${SIEM_CONSUMER}`,
      `$JS.API.CONSUMER.CREATE.${AUDIT_STREAM.name}.${SIEM_CONSUMER}.>`,
      `$JS.API.CONSUMER.DURABLE.CREATE.${AUDIT_STREAM.name}.${SIEM_CONSUMER}`,
    ])
      publish.add(subject);
  }

  return { publish: [...publish], subscribe: [...subscribe], answersRequests: serves };
}

/** The permission map of every identity, in BUS_IDENTITIES order. */
export function busPermissionMap(): ReadonlyArray<{
  identity: BusIdentity;
  user: string;
  permissions: BusPermissions;
}> {
  return BUS_IDENTITIES.map((identity) => ({
    identity,
    user: busUserOf(identity),
    permissions: busPermissionsOf(identity),
  }));
}
