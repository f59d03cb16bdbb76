import { randomUUID } from 'node:crypto';
import {
  AUDIT_STREAM,
  type AuditEmitter,
  type AuditEvent,
  auditEventSchema,
  OPERATOR_IDENTITY,
} from '@strongroom/contracts';
import {
  type AuditOutboxRow,
  auditOutboxRowsOf,
  ensureEventStreams,
  Outbox1763856000000,
  OutboxAuditSubjects1764720000000,
  OutboxTenantScope1764288000000,
} from '@strongroom/platform';
import { createTestDatabase, startTestNats, type TestDatabase, type TestNats } from '@strongroom/testing';
import type { JetStreamManager, NatsConnection } from 'nats';
import { Pool } from 'pg';

/**
 * What the audit benchmarks share (the relay case and the end-to-end ingest, audit-ingest.ts):
 * realistic audit events, outbox rows of them written by several writers, a nats-server with the
 * AUDIT stream, and waiting for a stream or a table to reach a count.
 */

const LEDGER_ACTIONS = [
  'ledger.transfer.allocation',
  'ledger.transfer.redemption',
  'ledger.transfer.settlement',
] as const;
const USER_AGENT = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36';

/** Emitters whose events the benchmarks imitate: the ledger's transfers, auth's token issuance. */
export type BenchEmitter = 'ledger' | 'auth';

export interface RealisticEventOptions {
  /** The emitter whose events these look like (default the ledger). */
  emitter?: BenchEmitter;
  /** occurredAt of the first event (default now)… */
  startMs?: number;
  /** …and of each next one this much later (default 1 ms; 0: every event at startMs). */
  stepMs?: number;
}

/**
 * `count` events as a busy emitter records them, spread over `tenants` tenants, every correlation
 * field set, a few details: the ledger's one per transfer (~700 bytes of JSON each), auth's one
 * per token issued. Parsed by the schema once (a sample), so the shape is the one emitters produce.
 */
export function realisticAuditEvents(
  count: number,
  tenants: readonly string[],
  options: RealisticEventOptions = {},
): AuditEvent[] {
  const { emitter = 'ledger', startMs = Date.now(), stepMs = 1 } = options;
  const events: AuditEvent[] = [];
  for (let i = 0; i < count; i += 1) {
    const common = {
      id: randomUUID(),
      tenantId: tenants[i % tenants.length] as string,
      environment: 'production' as const,
      occurredAt: new Date(startMs + i * stepMs).toISOString(),
      actor: { type: 'client' as const, id: `client-${i % 97}` },
      outcome: 'success' as const,
      requestId: `req-${randomUUID()}`,
      traceId: randomUUID().replaceAll('-', ''),
      sourceIp: `203.0.113.${i % 250}`,
      userAgent: USER_AGENT,
    };
    events.push(
      emitter === 'ledger'
        ? {
            ...common,
            action: LEDGER_ACTIONS[i % LEDGER_ACTIONS.length] as AuditEvent['action'],
            resource: { type: 'transfer', id: randomUUID() },
            details: {
              amountMinor: 1_000 + (i % 9_000),
              currency: 'USD',
              debitAccountId: randomUUID(),
              creditAccountId: randomUUID(),
              batchSize: 1,
            },
          }
        : {
            ...common,
            action: 'auth.token.issue',
            resource: { type: 'client', id: common.actor.id },
            details: {
              grantType: 'client_credentials',
              scopes: ['ledger:read', 'ledger:write'],
              tokenFamilyId: randomUUID(),
              expiresInSeconds: 900,
            },
          },
    );
  }
  for (const event of events.slice(0, 100)) auditEventSchema.parse(event);
  return events;
}

export function tenantIdsOf(count: number): string[] {
  return Array.from({ length: count }, () => randomUUID());
}

/** One outbox row per event (the hard case: a ledger batch puts up to 1,000 in one row). */
export function singleEventOutboxRows(emitter: AuditEmitter, events: readonly AuditEvent[]): AuditOutboxRow[] {
  return events.flatMap((event) => auditOutboxRowsOf(emitter, [event]));
}

/**
 * Rows of up to `eventsPerRow` events of one tenant each, as the ledger's batch call writes its
 * transfers' events (one row, one JetStream message, per call of one tenant).
 */
export function batchedOutboxRows(
  emitter: AuditEmitter,
  events: readonly AuditEvent[],
  eventsPerRow: number,
): AuditOutboxRow[] {
  const byTenant = new Map<string, AuditEvent[]>();
  for (const event of events) {
    const own = byTenant.get(event.tenantId);
    if (own === undefined) byTenant.set(event.tenantId, [event]);
    else own.push(event);
  }
  // The tenants' calls interleaved, as many tenants' requests arrive.
  const perTenant = [...byTenant.values()].map((own) => {
    const rows: AuditOutboxRow[] = [];
    for (let start = 0; start < own.length; start += eventsPerRow) {
      rows.push(...auditOutboxRowsOf(emitter, own.slice(start, start + eventsPerRow)));
    }
    return rows;
  });
  const total = perTenant.reduce((sum, own) => sum + own.length, 0);
  const rows: AuditOutboxRow[] = [];
  for (let index = 0; rows.length < total; index += 1) {
    for (const own of perTenant) if (index < own.length) rows.push(own[index] as AuditOutboxRow);
  }
  return rows;
}

/** The outbox rows written, and how fast the writers wrote them. */
export interface WriteResult {
  rows: number;
  perSecond: number;
  finishedAtMs: number;
}

/**
 * Writes rows to the outbox with `writers` connections of `pool` at once, each transaction one
 * multi-row INSERT of `rowsPerTransaction` rows (as enqueueAudit writes them). The relay case's
 * pool is the runtime role's, without a tenant context (the policy allows any tenant's rows
 * there); the ingest case writes into the stack's service databases as a superuser.
 */
export async function writeOutboxRows(
  pool: Pool,
  rows: readonly AuditOutboxRow[],
  options: { writers: number; rowsPerTransaction: number },
): Promise<WriteResult> {
  let next = 0;
  const startedAt = performance.now();
  const writer = async () => {
    while (next < rows.length) {
      const chunk = rows.slice(next, next + options.rowsPerTransaction);
      next += chunk.length;
      await insertOutboxRows(pool, chunk);
    }
  };
  await Promise.all(Array.from({ length: options.writers }, writer));
  const finishedAtMs = performance.now();
  return { rows: rows.length, perSecond: rows.length / ((finishedAtMs - startedAt) / 1000), finishedAtMs };
}

/** One transaction: `rows` in one multi-row INSERT, as enqueueAudit writes a request's events. */
export async function insertOutboxRows(pool: Pool, rows: readonly AuditOutboxRow[]): Promise<void> {
  const values = rows.map(
    (_, i) => `($${i * 5 + 1}, $${i * 5 + 2}, $${i * 5 + 3}::jsonb, $${i * 5 + 4}::jsonb, $${i * 5 + 5})`,
  );
  await pool.query(
    `INSERT INTO outbox (id, subject, payload, headers, tenant_id) VALUES ${values.join(', ')}`,
    rows.flatMap((row) => [row.id, row.subject, row.payload, row.headers, row.tenantId]),
  );
}

/** Messages in a stream now. */
export async function streamMessages(manager: JetStreamManager, stream = AUDIT_STREAM.name): Promise<number> {
  return (await manager.streams.info(stream)).state.messages;
}

/**
 * Polls until `count()` reaches `target` (bounded by `timeoutMs`); resolves to the time it did
 * (performance.now()). Polling every few milliseconds costs the machine little next to the work measured.
 */
export async function timeWhenReached(
  what: string,
  count: () => Promise<number>,
  target: number,
  timeoutMs: number,
  pollMs = 10,
): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  let seen = 0;
  while (performance.now() < deadline) {
    seen = await count();
    if (seen >= target) return performance.now();
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  throw new Error(`timed out waiting for ${what}: ${seen} of ${target} after ${timeoutMs} ms`);
}

/** Rate of `count` things between two performance.now() readings. */
export function perSecondBetween(count: number, startedAtMs: number, endedAtMs: number): number {
  return count / ((endedAtMs - startedAtMs) / 1000);
}

/** A nats-server with the event streams and AUDIT, and a service database with its outbox (audit subjects allowed). */
export interface AuditPipelineRig {
  nats: TestNats;
  /** The operator: creates and inspects streams. */
  admin: NatsConnection;
  manager: JetStreamManager;
  database: TestDatabase;
  /** Runtime-role connections for the writers. */
  writers: Pool;
  /** Messages in AUDIT now (no identity may purge a stream: a measurement counts from where the last left it). */
  auditMessages(): Promise<number>;
  close(): Promise<void>;
}

export async function startAuditPipelineRig(label: string, writerConnections: number): Promise<AuditPipelineRig> {
  const nats = await startTestNats();
  const admin = await nats.connectAs(OPERATOR_IDENTITY);
  await ensureEventStreams(admin);
  const manager = await admin.jetstreamManager();
  const database = await createTestDatabase(label, [
    Outbox1763856000000,
    OutboxTenantScope1764288000000,
    OutboxAuditSubjects1764720000000,
  ]);
  const writers = new Pool({ connectionString: database.runtimeUrl, max: writerConnections });
  // An idle connection dropped by the server (the database dropped at the end) must not end the run.
  writers.on('error', () => {});
  return {
    nats,
    admin,
    manager,
    database,
    writers,
    auditMessages: () => streamMessages(manager),
    close: async () => {
      await writers.end();
      await database.drop();
      await admin.close();
      await nats.stop();
    },
  };
}
