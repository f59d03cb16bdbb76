import { z } from 'zod';
import { storableText } from './ledger-accounts';
import { SERVICE_NAMES, type ServiceName } from './services';
import { PLATFORM_TENANT_ID, tenantIdSchema } from './tenants';
import { environmentSchema } from './tokens';

/**
 * The audit trail's one event shape (issue 7). Every service records what it did, what it
 * refused and what failed as audit events; the audit service chains them per tenant
 * (audit-chain.ts) and answers queries, exports and verification (audit-records.ts).
 *
 * Events travel in the JetStream stream AUDIT, apart from the services' own event streams, as
 * batches of one emitter: a message on `audit.events.<emitter>` holds 1–AUDIT_EVENTS_PER_MESSAGE_MAX
 * events. nats-server lets an identity publish only its own emitter subject, so the emitter a
 * record names is the one that sent it (the audit service takes it from the subject, never from
 * the payload).
 */

/** The stream name and its subjects: file storage, a duplicate window, discard-new when full (never drop unread events). */
export const AUDIT_STREAM = { name: 'AUDIT', subjects: ['audit.events.>'] } as const;
export const AUDIT_SUBJECT_PREFIX = 'audit.events';

/** Who may send audit events: every service, the gateway included (it refuses requests before any service sees them). */
export const AUDIT_EMITTERS = SERVICE_NAMES;
export type AuditEmitter = ServiceName;

export function auditSubjectOf(emitter: AuditEmitter): `audit.events.${AuditEmitter}` {
  return `${AUDIT_SUBJECT_PREFIX}.${emitter}`;
}

/** The emitter a subject names, or undefined when it is not an audit subject. */
export function auditEmitterOfSubject(subject: string): AuditEmitter | undefined {
  const match = /^audit\.events\.([a-z]+)$/.exec(subject);
  const emitter = match?.[1];
  return emitter !== undefined && (AUDIT_EMITTERS as readonly string[]).includes(emitter)
    ? (emitter as AuditEmitter)
    : undefined;
}

/** Events of one message: a ledger transaction of 1,000 transfers is one outbox row and one message. */
export const AUDIT_EVENTS_PER_MESSAGE_MAX = 1_000;
/** A record's details, canonical JSON, at most this many bytes: audit records describe, they do not carry data. */
export const AUDIT_DETAILS_BYTES_MAX = 4_096;

/**
 * The action catalogue: every action a record may name, declared once. `<service>.<resource>.<verb>`.
 * Seed 001 asks for authentication, allocation, redemption and settlement by name; seed 003 for
 * correlation ids (requestId, traceId) on every one.
 */
export const AUDIT_ACTIONS = {
  // Authentication and identity (auth).
  'auth.login.attempt': 'A sign-in with a password (outcome: success, failure or denied when throttled or locked)',
  'auth.mfa.enrol': 'A TOTP factor enrolled',
  'auth.token.issue': 'Tokens issued (a grant, a refresh, an API-key exchange, a service token)',
  'auth.token.revoke': 'Tokens revoked (a user, a client, a token family or a whole tenant)',
  'auth.token.reuse-detect': 'A rotated refresh token was presented again; its family is revoked',
  'auth.user.create': 'A user created',
  'auth.user.invite': 'A user invited (the one-time link is never recorded)',
  'auth.membership.change': "A user's roles changed",
  'auth.role.create': 'A custom role defined',
  'auth.role.update': 'A custom role changed',
  'auth.role.delete': 'A custom role deleted',
  'auth.client.create': 'An OAuth2 client registered',
  'auth.api-key.create': 'An API key created',
  'auth.api-key.rotate': 'An API key rotated',
  'auth.api-key.revoke': 'An API key revoked',
  'auth.api-key.authenticate': 'An API key presented (outcome: success, or denied)',
  'auth.card.register': 'A card registered with its PIN',
  'auth.card.verify-pin': 'A card PIN checked (failure counts toward the lock)',
  'auth.card.change-pin': 'A card PIN changed',
  'auth.card.lock': 'A card locked after repeated wrong PINs',
  'auth.card.unlock': 'A card unlocked',
  'auth.anomaly.detect': 'A sign-in from a new device or place',
  // Tenants.
  'tenants.tenant.create': 'A tenant created',
  'tenants.tenant.suspend': 'A tenant suspended',
  'tenants.tenant.reactivate': 'A tenant reactivated',
  'tenants.settings.update': "A tenant's settings changed (token lifetimes, retention)",
  'tenants.environment.update': "An environment's IP allowlist or rate plan changed",
  // Ledger: one record per transfer, its action its category (seed 001's allocation, redemption, settlement).
  'ledger.account.create': 'A ledger account opened',
  'ledger.account.close': 'A ledger account closed',
  'ledger.transfer.allocation': 'A transfer of category allocation applied',
  'ledger.transfer.redemption': 'A transfer of category redemption applied',
  'ledger.transfer.settlement': 'A transfer of category settlement applied',
  'ledger.transfer.disbursement': 'A transfer of category disbursement applied',
  'ledger.transfer.repayment': 'A transfer of category repayment applied',
  'ledger.transfer.fee': 'A transfer of category fee applied',
  'ledger.transfer.interest': 'A transfer of category interest applied',
  'ledger.transfer.adjustment': 'A transfer of category adjustment applied',
  'ledger.transfer.other': 'A transfer of category other applied',
  'ledger.export.create': 'A period of the ledger exported (the whole books of the period)',
  // The gateway: requests refused before any service saw them.
  'gateway.request.authenticate': 'A request whose credential was refused (missing, invalid, expired or revoked)',
  'gateway.request.authorize': "A request refused for the credential's permissions, environment or address",
  // A service refusing a bus call itself (no or a bad credential, a missing permission, another tenant).
  'service.request.authorize': 'A bus call refused by the service for its credential, permission or tenant',
  // Reading decrypted personal data is itself audited (issue 7), wherever it happens.
  'pii.read': 'Decrypted personal data read',
  // The audit trail's own operations.
  'audit.records.export': 'Audit records exported',
  'audit.checkpoint.create': 'A checkpoint signed on demand',
  'audit.legal-hold.place': "A legal hold placed on a tenant's records",
  'audit.legal-hold.release': 'A legal hold released',
  'audit.records.purge': 'Records past their retention purged (the boundary is anchored by a checkpoint)',
} as const;

export type AuditAction = keyof typeof AUDIT_ACTIONS;
export const auditActionSchema = z.enum(Object.keys(AUDIT_ACTIONS) as [AuditAction, ...AuditAction[]]);

export const AUDIT_ACTOR_TYPES = ['user', 'client', 'api_key', 'service', 'anonymous'] as const;
export const auditActorSchema = z
  .object({
    /** `anonymous`: nobody proved who they are (a failed sign-in to an unknown account, a missing token). */
    type: z.enum(AUDIT_ACTOR_TYPES),
    id: z.string().regex(/^[A-Za-z0-9._:@-]{1,128}$/),
  })
  .strict();
export type AuditActor = z.infer<typeof auditActorSchema>;
export const ANONYMOUS_ACTOR: AuditActor = { type: 'anonymous', id: 'anonymous' };

export const AUDIT_OUTCOMES = ['success', 'failure', 'denied'] as const;
export const auditOutcomeSchema = z.enum(AUDIT_OUTCOMES);
export type AuditOutcome = z.infer<typeof auditOutcomeSchema>;

const identifierSchema = z.string().regex(/^[A-Za-z0-9._:@/-]{1,200}$/);
export const auditResourceSchema = z
  .object({ type: z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/), id: identifierSchema })
  .strict();

/**
 * Detail keys that name secrets or raw personal data: an emitter that sends one has a bug, and
 * the event is refused whole (at the emitter, before anything is written). Personal data goes in
 * as tokens (the platform's keyed tokenization), under keys ending in `Token`.
 */
export const AUDIT_FORBIDDEN_DETAIL_KEY =
  /(password|passcode|secret|pin$|^pin|otp|totp|privatekey|private_key|authorization|cookie|bearer|email|phone|msisdn|nationalid|national_id|passport|cardnumber|card_number|pan$|iban|accountnumber|account_number|dateofbirth|date_of_birth|address)(?!token)/i;

type DetailValue = string | number | boolean | null | DetailValue[] | { [key: string]: DetailValue };
/** A key whose value is undefined is absent (JSON drops it). */
export type AuditDetails = { [key: string]: DetailValue | undefined };

const DETAIL_STRING_MAX = 1_024;
const DETAIL_KEY_MAX = 64;
const DETAIL_ITEMS_MAX = 64;
const DETAIL_DEPTH_MAX = 8;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/**
 * What is wrong with a details value, in one walk (every event of a ledger batch is checked: a
 * zod union per node cost 12 µs a record): JSON values only, bounded strings, safe integers,
 * arrays and objects, depth; keys that name secrets or raw personal data; the size, counted as
 * an upper bound of the JSON bytes.
 */
function detailIssuesOf(details: Record<string, unknown>): Array<{ path: string; message: string }> {
  const issues: Array<{ path: string; message: string }> = [];
  let bytes = 0;
  const walk = (value: unknown, path: string, depth: number): void => {
    if (issues.length >= 10) return;
    if (value === null || typeof value === 'boolean') {
      bytes += 5;
    } else if (typeof value === 'string') {
      if (value.length > DETAIL_STRING_MAX) issues.push({ path, message: `at most ${DETAIL_STRING_MAX} characters` });
      // Postgres's jsonb (the store's query columns) refuses both: one such string would hold back its whole message.
      if (!storableText(value))
        issues.push({ path, message: 'text must not contain NUL characters or lone surrogates' });
      bytes += Buffer.byteLength(value, 'utf8') + 2;
    } else if (typeof value === 'number') {
      if (!Number.isSafeInteger(value)) issues.push({ path, message: 'numbers in details are safe integers' });
      bytes += 16;
    } else if (depth >= DETAIL_DEPTH_MAX) {
      issues.push({ path, message: `details nest at most ${DETAIL_DEPTH_MAX} levels` });
    } else if (Array.isArray(value)) {
      if (value.length > DETAIL_ITEMS_MAX) issues.push({ path, message: `at most ${DETAIL_ITEMS_MAX} items` });
      bytes += 2 + value.length;
      for (const item of value) walk(item, path, depth + 1);
    } else if (isPlainObject(value)) {
      const keys = Object.keys(value);
      if (keys.length > DETAIL_ITEMS_MAX) issues.push({ path, message: `at most ${DETAIL_ITEMS_MAX} keys` });
      bytes += 2;
      for (const key of keys) {
        if (value[key] === undefined) continue;
        const keyPath = path === '' ? key : `${path}.${key}`;
        if (!storableText(key))
          issues.push({ path: keyPath, message: 'text must not contain NUL characters or lone surrogates' });
        if (key.length > DETAIL_KEY_MAX)
          issues.push({ path: keyPath, message: `keys are at most ${DETAIL_KEY_MAX} characters` });
        if (AUDIT_FORBIDDEN_DETAIL_KEY.test(key))
          issues.push({ path: keyPath, message: `detail "${keyPath}" may hold a secret or personal data` });
        bytes += Buffer.byteLength(key, 'utf8') + 4;
        walk(value[key], keyPath, depth + 1);
      }
    } else {
      issues.push({ path, message: 'details hold JSON values only' });
    }
  };
  walk(details, '', 0);
  if (bytes > AUDIT_DETAILS_BYTES_MAX)
    issues.push({ path: '', message: `details exceed ${AUDIT_DETAILS_BYTES_MAX} bytes` });
  return issues;
}

export const auditDetailsSchema = z
  .custom<AuditDetails>((value) => isPlainObject(value), 'details are a JSON object')
  .superRefine((details, context) => {
    for (const issue of detailIssuesOf(details)) {
      context.addIssue({
        code: 'custom',
        message: issue.message,
        path: issue.path === '' ? [] : issue.path.split('.'),
      });
    }
  });

/** Instants in records: UTC, milliseconds (canonical, so the hash of a record is one value). */
export const auditInstantSchema = z.iso.datetime({ precision: 3 });

export const auditEventSchema = z
  .object({
    /** Unique per event, chosen by the emitter: the audit service stores an id once, however often it arrives. */
    id: z.uuid(),
    /** The tenant whose chain holds the record; the platform's own actions go to PLATFORM_TENANT_ID's. */
    tenantId: tenantIdSchema,
    environment: environmentSchema.optional(),
    occurredAt: auditInstantSchema,
    actor: auditActorSchema,
    action: auditActionSchema,
    resource: auditResourceSchema,
    outcome: auditOutcomeSchema,
    /** For failure and denied: the typed error code (e.g. INSUFFICIENT_FUNDS, invalid_credentials). */
    reason: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,64}$/)
      .optional(),
    /** The correlation id of the request (x-request-id), so a record joins the logs and the trace. */
    requestId: z
      .string()
      .regex(/^[A-Za-z0-9._:-]{1,128}$/)
      .optional(),
    traceId: z
      .string()
      .regex(/^[0-9a-f]{32}$/)
      .optional(),
    sourceIp: z
      .string()
      .regex(/^[0-9A-Fa-f.:]{2,45}$/)
      .optional(),
    userAgent: z
      .string()
      .max(256)
      .refine(storableText, 'text must not contain NUL characters or lone surrogates')
      .optional(),
    details: auditDetailsSchema.default({}),
  })
  .strict();
export type AuditEvent = z.infer<typeof auditEventSchema>;
export type AuditEventInput = z.input<typeof auditEventSchema>;

/** One message of the AUDIT stream: events of one emitter, in the order they happened. */
export const auditMessageSchema = z
  .object({ events: z.array(auditEventSchema).min(1).max(AUDIT_EVENTS_PER_MESSAGE_MAX) })
  .strict();
export type AuditMessage = z.infer<typeof auditMessageSchema>;

/** The chain that holds the platform's own actions (tenant creation, suspension, operator calls). */
export const PLATFORM_AUDIT_TENANT_ID = PLATFORM_TENANT_ID;
