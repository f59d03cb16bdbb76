import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  AUDIT_GENESIS_HASH,
  AUDIT_STREAM,
  AuditChainVerifier,
  auditSubjectOf,
  OPERATOR_IDENTITY,
  type StoredAuditRecord,
} from '@strongroom/contracts';
import { type AuditOutboxRow, busTlsFilesFor, connectBus } from '@strongroom/platform';
import type { JetStreamManager, NatsConnection } from 'nats';
import { Client, Pool } from 'pg';
import { startTestStack, type TestStack } from '../test/e2e/test-stack';
import {
  type BenchEmitter,
  batchedOutboxRows,
  insertOutboxRows,
  perSecondBetween,
  realisticAuditEvents,
  singleEventOutboxRows,
  tenantIdsOf,
  timeWhenReached,
  writeOutboxRows,
} from './audit-fixtures';
import { type Figure, figure } from './measure';

/**
 * The audit pipeline end to end (issue 7's ingest and lag targets), on the whole platform as
 * `npm start` runs it (startTestStack: built apps, one process each, its own databases on the
 * test Postgres): single-event audit rows written into the ledger's and auth's outboxes (as their
 * request transactions write them, here as a superuser), published by those services' own outbox
 * relays to the AUDIT stream, stored by the audit service's durable consumer in per-tenant hash
 * chains. Measured from the bench process by looking at the databases and the stream:
 *
 * - sustained ingest: N rows written by several writers as fast as they go, timed from the first
 *   write to the moment the audit store holds all N (the sum of the tenants' head seqs);
 * - its baseline, outbox → JetStream alone: N single-event rows with the audit process frozen (SIGSTOP),
 *   timed until AUDIT holds them; then, the process thawed, the store alone draining that backlog;
 * - the same N events in rows of 100 (a tenant's batch call, as the ledger writes them): a
 *   hundredth of the JetStream messages, so what the store itself sustains;
 * - lag at half the sustained rate: events written at a steady pace for a while, each event's lag
 *   = when its record became visible (the head polled every LAG_POLL_MS) − its occurredAt (its write);
 * - the audit process's RSS (/proc) before and after.
 *
 * With STRONGROOM_CPU_PROFILE_DIR=<dir> every process of the stack writes a V8 CPU profile there
 * when it stops (packages/cli profilingArgs).
 */

/** Issue 7's targets. */
const TARGETS = { ingestEventsPerSecondMin: 5_000, lagP99MsMax: 1_000 };

const EMITTERS: readonly BenchEmitter[] = ['ledger', 'auth'];
/** Writers per emitter's database: a service's request transactions, several at once. */
const WRITERS_PER_EMITTER = 2;
/** Rows per transaction, as in the relay case: a request that records a handful of events. */
const ROWS_PER_TRANSACTION = 20;

/** How the events are put in outbox rows (one row: one JetStream message), and rows in transactions. */
interface RowShape {
  eventsPerRow: number;
  rowsPerTransaction: number;
}
/** The hard case: every event a row (a message) of its own, requests writing a handful each. */
const SINGLE_EVENT_ROWS: RowShape = { eventsPerRow: 1, rowsPerTransaction: ROWS_PER_TRANSACTION };
/** A tenant's batch call recording 100 events in one row (the ledger's createTransfers writes up to 1,000). */
const BATCHED_ROWS: RowShape = { eventsPerRow: 100, rowsPerTransaction: 1 };
const WARMUP_EVENTS = 5_000;
/** Pipeline progress (AUDIT, the store) is read this often while a count is awaited. */
const PROGRESS_POLL_MS = 50;
const PHASE_TIMEOUT_MS = 600_000;
/** The paced writer's tick: a slice of events every this many ms. */
const PACE_TICK_MS = 20;
/** Heads are read this often during the lag run: a record's visibility is known to within it. */
const LAG_POLL_MS = 20;
/** occurredAt of pre-built rows, replaced by the write time when the row is written (same length: 24 characters). */
const OCCURRED_AT_PLACEHOLDER = '2000-01-01T00:00:00.000Z';
const VERIFY_PAGE_ROWS = 5_000;

export interface IngestSettings {
  events: number;
  tenants: number;
  lagSeconds: number;
}

export function ingestSettingsFromEnvironment(env: NodeJS.ProcessEnv, events: number): IngestSettings {
  const whole = (name: string, fallback: number, min: number) => {
    const value = Number(env[name] ?? fallback);
    if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be a whole number ≥ ${min}`);
    return value;
  };
  return {
    events,
    tenants: whole('BENCH_AUDIT_INGEST_TENANTS', 20, 1),
    lagSeconds: whole('BENCH_AUDIT_LAG_SECONDS', 20, 1),
  };
}

/** The stack and the bench's ways into it: each emitter's outbox, the audit database, the AUDIT stream. */
interface IngestRig {
  testStack: TestStack;
  outboxes: Array<{ emitter: BenchEmitter; pool: Pool }>;
  audit: Client;
  nats: NatsConnection;
  manager: JetStreamManager;
  tenants: string[];
  /** Events written so far, every phase. */
  written: number;
}

export async function benchIngest(settings: IngestSettings, log: (line: string) => void): Promise<Figure[]> {
  const testStack = await startTestStack({}, (line) => log(`stack: ${line}`));
  let rig: IngestRig | undefined;
  let frozen = false;
  const auditPid = () => {
    const pid = testStack.stack.pidOf('audit');
    if (pid === undefined) throw new Error('the stack has no audit process');
    return pid;
  };
  try {
    rig = await openRig(testStack, settings.tenants);
    const before = processMemory(auditPid());
    log(
      `audit: ingest on the stack at ${testStack.stack.gatewayUrl}; ${settings.events} events a run over ` +
        `${settings.tenants} tenants, written into ${EMITTERS.join(' and ')}'s outboxes by ` +
        `${WRITERS_PER_EMITTER} writers each in transactions of ${ROWS_PER_TRANSACTION}`,
    );
    await endToEnd(rig, WARMUP_EVENTS, SINGLE_EVENT_ROWS);

    const sustained = await endToEnd(rig, settings.events, SINGLE_EVENT_ROWS);
    log(
      `audit: ingest, ${settings.events} single-event rows (written at ${Math.round(sustained.writtenPerSecond)}/s): ` +
        `${Math.round(sustained.perSecond)} events/s stored end to end, the last ` +
        `${Math.round(sustained.storedAfterWritesMs)} ms after the last write; the relays had them all in AUDIT ` +
        `at ${Math.round(sustained.relayedPerSecond)}/s; ≥ ${TARGETS.ingestEventsPerSecondMin}/s: ` +
        `${verdict(sustained.perSecond >= TARGETS.ingestEventsPerSecondMin)}`,
    );

    // The same events in a hundredth of the messages: what JetStream's per-message cost leaves.
    const batched = await endToEnd(rig, settings.events, BATCHED_ROWS);
    log(
      `audit: ingest, ${settings.events} events in rows of ${BATCHED_ROWS.eventsPerRow} (one tenant's each): ` +
        `${Math.round(batched.perSecond)} events/s stored end to end, the last ` +
        `${Math.round(batched.storedAfterWritesMs)} ms after the last write; in AUDIT at ` +
        `${Math.round(batched.relayedPerSecond)} events/s`,
    );

    // Outbox → JetStream alone: the audit process frozen, so it neither stores nor takes CPU.
    process.kill(auditPid(), 'SIGSTOP');
    frozen = true;
    const relayOnly = await relayOnlyRun(rig, settings.events);
    process.kill(auditPid(), 'SIGCONT');
    frozen = false;
    const drain = await storeDrain(rig, relayOnly.storedTarget);
    log(
      `audit: outbox → JetStream alone (the audit process stopped): ${Math.round(relayOnly.perSecond)} events/s ` +
        `(written at ${Math.round(relayOnly.writtenPerSecond)}/s); the audit service then stored that backlog of ` +
        `${settings.events} at ${Math.round(drain.perSecond)} events/s`,
    );

    const lagRate = sustained.perSecond / 2;
    const lag = await pacedLag(rig, lagRate, settings.lagSeconds);
    log(
      `audit: lag at half the sustained rate (${Math.round(lagRate)} events/s asked, ${Math.round(lag.writtenPerSecond)}/s ` +
        `written, ${lag.events} events over ${settings.lagSeconds} s, visibility polled every ${LAG_POLL_MS} ms): ` +
        `p50 ${Math.round(lag.p50Ms)} ms, p99 ${Math.round(lag.p99Ms)} ms, max ${Math.round(lag.maxMs)} ms; ` +
        `recordedAt − occurredAt p50 ${Math.round(lag.recordedP50Ms)} ms, p99 ${Math.round(lag.recordedP99Ms)} ms; ` +
        `p99 ≤ ${TARGETS.lagP99MsMax} ms: ${verdict(lag.p99Ms <= TARGETS.lagP99MsMax)}`,
    );

    const after = processMemory(auditPid());
    const checked = await expectStoredOnceAndChained(rig);
    log(
      `audit: ${checked.records} records stored once each over ${settings.tenants} chains, verified at ` +
        `${Math.round(checked.verifiedPerSecond)}/s; the audit process's RSS ${before.rssMb.toFixed(0)} MB before, ` +
        `${after.rssMb.toFixed(0)} MB after, peak ${after.peakRssMb.toFixed(0)} MB`,
    );

    const baseline = 'outbox → JetStream alone (the same relays, the audit process stopped)';
    const lagTarget = 'the 1,000 ms p99 target';
    return [
      figure('audit.ingest_events', sustained.perSecond, 'events/s', baseline, relayOnly.perSecond),
      figure(
        'audit.ingest_events_vs_target',
        sustained.perSecond,
        'events/s',
        'the 5,000/s target',
        TARGETS.ingestEventsPerSecondMin,
      ),
      figure(
        'audit.ingest_events_batched_rows',
        batched.perSecond,
        'events/s',
        'single-event rows (audit.ingest_events)',
        sustained.perSecond,
      ),
      figure('audit.ingest_store_drain', drain.perSecond, 'events/s', baseline, relayOnly.perSecond),
      figure('audit.lag_p50_ms', lag.p50Ms, 'ms', lagTarget, TARGETS.lagP99MsMax),
      figure('audit.lag_p99_ms', lag.p99Ms, 'ms', lagTarget, TARGETS.lagP99MsMax),
      figure('audit.service_rss', after.rssMb, 'MB', `its RSS before ${rig.written} events`, before.rssMb),
    ];
  } finally {
    if (frozen) process.kill(auditPid(), 'SIGCONT');
    if (rig !== undefined) await closeRig(rig);
    await testStack.dispose();
  }
}

async function openRig(testStack: TestStack, tenants: number): Promise<IngestRig> {
  const outboxes = await Promise.all(
    EMITTERS.map(async (emitter) => {
      const pool = new Pool({
        connectionString: await testStack.adminUrlOf(emitter),
        max: WRITERS_PER_EMITTER,
        application_name: `bench-audit-${emitter}-writer`,
      });
      // An idle connection ended by the server (the database dropped at the end) must not end the run.
      pool.on('error', () => {});
      return { emitter, pool };
    }),
  );
  const audit = new Client({ connectionString: await testStack.adminUrlOf('audit'), application_name: 'bench-audit' });
  await audit.connect();
  const nats = await connectBus({
    servers: testStack.stack.natsUrl,
    tls: busTlsFilesFor(join(testStack.stateDir, 'pki'), OPERATOR_IDENTITY),
    name: 'bench-audit-ingest',
  });
  return {
    testStack,
    outboxes,
    audit,
    nats,
    manager: await nats.jetstreamManager(),
    tenants: tenantIdsOf(tenants),
    written: 0,
  };
}

async function closeRig(rig: IngestRig): Promise<void> {
  await Promise.all(rig.outboxes.map(({ pool }) => pool.end()));
  await rig.audit.end();
  await rig.nats.close();
}

/** Records of the bench's tenants in the audit store: their chains start with the bench, so the heads' seqs add up to it. */
async function storedEvents(rig: IngestRig): Promise<number> {
  const { rows } = await rig.audit.query<{ stored: string }>(
    'SELECT coalesce(sum(seq), 0) AS stored FROM audit_chain_heads WHERE tenant_id = ANY($1::uuid[])',
    [rig.tenants],
  );
  return Number(rows[0]?.stored ?? 0);
}

/** Messages (outbox rows) the bench's emitters have in AUDIT (other subjects, e.g. the audit service's own events, left out). */
async function relayedEvents(rig: IngestRig): Promise<number> {
  const info = await rig.manager.streams.info(AUDIT_STREAM.name, { subjects_filter: 'audit.events.*' });
  return EMITTERS.reduce((sum, emitter) => sum + (info.state.subjects?.[auditSubjectOf(emitter)] ?? 0), 0);
}

function rowsOf(
  rig: IngestRig,
  emitter: BenchEmitter,
  count: number,
  shape: RowShape,
  occurredAtMs?: number,
): AuditOutboxRow[] {
  const options = occurredAtMs === undefined ? { emitter } : { emitter, startMs: occurredAtMs, stepMs: 0 as const };
  const events = realisticAuditEvents(count, rig.tenants, options);
  return shape.eventsPerRow === 1
    ? singleEventOutboxRows(emitter, events)
    : batchedOutboxRows(emitter, events, shape.eventsPerRow);
}

/**
 * `count` events split over the emitters, their rows all written by every emitter's writers at
 * once; resolves (at once) to the start, the rows (AUDIT's messages) and the writes under way.
 */
async function writeAll(rig: IngestRig, count: number, shape: RowShape) {
  const share = Math.ceil(count / rig.outboxes.length);
  const rowsByEmitter = rig.outboxes.map(({ emitter }, index) =>
    rowsOf(rig, emitter, Math.max(0, Math.min(share, count - index * share)), shape),
  );
  const rows = rowsByEmitter.reduce((sum, own) => sum + own.length, 0);
  const startedAt = performance.now();
  const written = Promise.all(
    rig.outboxes.map(({ pool }, index) =>
      writeOutboxRows(pool, rowsByEmitter[index] as AuditOutboxRow[], {
        writers: WRITERS_PER_EMITTER,
        rowsPerTransaction: shape.rowsPerTransaction,
      }),
    ),
  ).then((results) => {
    rig.written += count;
    const finishedAtMs = Math.max(...results.map((result) => result.finishedAtMs));
    return { finishedAtMs, perSecond: perSecondBetween(count, startedAt, finishedAtMs) };
  });
  return { startedAt, rows, written };
}

/** Writes `count` events while everything runs; times them into AUDIT (as messages) and into the store. */
async function endToEnd(rig: IngestRig, count: number, shape: RowShape) {
  const storedBefore = await storedEvents(rig);
  const relayedBefore = await relayedEvents(rig);
  const { startedAt, rows, written } = await writeAll(rig, count, shape);
  const relayedAt = timeWhenReached(
    'the messages in AUDIT',
    () => relayedEvents(rig),
    relayedBefore + rows,
    PHASE_TIMEOUT_MS,
    PROGRESS_POLL_MS,
  );
  const storedAt = await timeWhenReached(
    'the events in the audit store',
    () => storedEvents(rig),
    storedBefore + count,
    PHASE_TIMEOUT_MS,
    PROGRESS_POLL_MS,
  );
  const writes = await written;
  return {
    perSecond: perSecondBetween(count, startedAt, storedAt),
    relayedPerSecond: perSecondBetween(count, startedAt, await relayedAt),
    writtenPerSecond: writes.perSecond,
    storedAfterWritesMs: storedAt - writes.finishedAtMs,
  };
}

/** With the audit process stopped: `count` rows written, timed into AUDIT; the store's target for the drain after. */
async function relayOnlyRun(rig: IngestRig, count: number) {
  const storedTarget = (await storedEvents(rig)) + count;
  const relayedBefore = await relayedEvents(rig);
  const { startedAt, rows, written } = await writeAll(rig, count, SINGLE_EVENT_ROWS);
  const relayedAt = await timeWhenReached(
    'the events in AUDIT (the audit process stopped)',
    () => relayedEvents(rig),
    relayedBefore + rows,
    PHASE_TIMEOUT_MS,
    PROGRESS_POLL_MS,
  );
  const writes = await written;
  return { perSecond: perSecondBetween(count, startedAt, relayedAt), writtenPerSecond: writes.perSecond, storedTarget };
}

/** From now (the audit process just thawed), until the store holds `target`. */
async function storeDrain(rig: IngestRig, target: number) {
  const startedAt = performance.now();
  const before = await storedEvents(rig);
  const reachedAt = await timeWhenReached(
    'the backlog in the audit store',
    () => storedEvents(rig),
    target,
    PHASE_TIMEOUT_MS,
    PROGRESS_POLL_MS,
  );
  return { perSecond: perSecondBetween(target - before, startedAt, reachedAt) };
}

/**
 * Events written at `perSecond` (a slice every PACE_TICK_MS, alternating emitters, each slice in
 * transactions of ROWS_PER_TRANSACTION) for `seconds`, every event's occurredAt its write time.
 * Meanwhile the tenants' heads are read every LAG_POLL_MS: a tenant's chain is in arrival order,
 * so a head moving from s to s' makes records s+1..s' visible at that read (sent at most one poll
 * after their commit: the lag is an upper bound, within LAG_POLL_MS plus the read). recordedAt −
 * occurredAt (the audit service's clock at the batch, before its commit) is the lower bound beside it.
 */
async function pacedLag(rig: IngestRig, perSecond: number, seconds: number) {
  const total = Math.floor(perSecond * seconds);
  // Pre-built (validated) rows; the placeholder occurredAt becomes the write time as each is written.
  const rows = EMITTERS.map((emitter) =>
    rowsOf(rig, emitter, Math.ceil(total / EMITTERS.length), SINGLE_EVENT_ROWS, Date.parse(OCCURRED_AT_PLACEHOLDER)),
  );
  const startSeqs = await tenantHeads(rig);
  const visible = new Map<string, Array<{ seq: number; atMs: number }>>(
    rig.tenants.map((tenantId) => [tenantId, [{ seq: startSeqs.get(tenantId) ?? 0, atMs: 0 }]]),
  );
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const atMs = Date.now();
      for (const [tenantId, seq] of await tenantHeads(rig)) {
        const moves = visible.get(tenantId) as Array<{ seq: number; atMs: number }>;
        if (seq > (moves.at(-1)?.seq ?? 0)) moves.push({ seq, atMs });
      }
      await sleep(LAG_POLL_MS);
    }
  })();

  const storedBefore = await storedEvents(rig);
  const inserts: Array<Promise<void>> = [];
  const used = EMITTERS.map(() => 0);
  const startedAt = performance.now();
  let written = 0;
  for (let tick = 0; ; tick += 1) {
    const dueAt = startedAt + tick * PACE_TICK_MS;
    if (dueAt >= startedAt + seconds * 1_000) break;
    const waitMs = dueAt - performance.now();
    if (waitMs > 0) await sleep(waitMs);
    const slice = Math.min(total, Math.floor(((tick + 1) * PACE_TICK_MS * perSecond) / 1_000)) - written;
    if (slice <= 0) continue;
    const index = tick % EMITTERS.length;
    const source = rows[index] as AuditOutboxRow[];
    const now = new Date().toISOString();
    const sliceRows = source
      .slice(used[index], (used[index] as number) + slice)
      .map((row) => ({ ...row, payload: row.payload.replace(OCCURRED_AT_PLACEHOLDER, now) }));
    used[index] = (used[index] as number) + sliceRows.length;
    written += sliceRows.length;
    const { pool } = rig.outboxes[index] as IngestRig['outboxes'][number];
    for (let start = 0; start < sliceRows.length; start += ROWS_PER_TRANSACTION) {
      inserts.push(insertOutboxRows(pool, sliceRows.slice(start, start + ROWS_PER_TRANSACTION)));
    }
  }
  await Promise.all(inserts);
  const writtenPerSecond = perSecondBetween(written, startedAt, performance.now());
  rig.written += written;
  await timeWhenReached(
    'the paced events in the audit store',
    () => storedEvents(rig),
    storedBefore + written,
    PHASE_TIMEOUT_MS,
    PROGRESS_POLL_MS,
  );
  // One more read after the last record is visible: the poller has seen every head move.
  await sleep(LAG_POLL_MS * 3);
  polling = false;
  await poller;

  const { rows: records } = await rig.audit.query<[string, string, string, string]>({
    text: `SELECT r.tenant_id::text, r.seq, (r.fields).occurred_at, (r.fields).recorded_at
             FROM audit_records r JOIN unnest($1::uuid[], $2::bigint[]) AS s(tenant_id, after)
               ON r.tenant_id = s.tenant_id AND r.seq > s.after`,
    values: [rig.tenants, rig.tenants.map((tenantId) => startSeqs.get(tenantId) ?? 0)],
    rowMode: 'array',
  });
  if (records.length !== written) throw new Error(`the lag run wrote ${written} events; ${records.length} stored`);
  const lags: number[] = [];
  const recordedLags: number[] = [];
  for (const [tenantId, seqText, occurredAt, recordedAt] of records) {
    const seq = Number(seqText);
    const moves = visible.get(tenantId) as Array<{ seq: number; atMs: number }>;
    const move = moves.find((candidate) => candidate.seq >= seq);
    if (move === undefined) throw new Error(`record ${seq} of ${tenantId} was never seen by the poller`);
    const occurredMs = Date.parse(occurredAt);
    lags.push(move.atMs - occurredMs);
    recordedLags.push(Date.parse(recordedAt) - occurredMs);
  }
  lags.sort((a, b) => a - b);
  recordedLags.sort((a, b) => a - b);
  return {
    events: written,
    writtenPerSecond,
    p50Ms: percentile(lags, 0.5),
    p99Ms: percentile(lags, 0.99),
    maxMs: lags.at(-1) ?? 0,
    recordedP50Ms: percentile(recordedLags, 0.5),
    recordedP99Ms: percentile(recordedLags, 0.99),
  };
}

async function tenantHeads(rig: IngestRig): Promise<Map<string, number>> {
  const { rows } = await rig.audit.query<[string, string]>({
    text: 'SELECT tenant_id::text, seq FROM audit_chain_heads WHERE tenant_id = ANY($1::uuid[])',
    values: [rig.tenants],
    rowMode: 'array',
  });
  return new Map(rows.map(([tenantId, seq]) => [tenantId, Number(seq)]));
}

/**
 * Every event the bench wrote is stored exactly once (as many records and distinct event ids as
 * events), the emitters' outboxes are empty, and each bench tenant's chain verifies up to its head.
 */
async function expectStoredOnceAndChained(rig: IngestRig) {
  const { rows } = await rig.audit.query<{ records: number; events: number }>(
    `SELECT count(*)::int AS records, count(DISTINCT event_id)::int AS events
       FROM audit_records WHERE tenant_id = ANY($1::uuid[])`,
    [rig.tenants],
  );
  const stored = rows[0] ?? { records: 0, events: 0 };
  if (stored.records !== rig.written || stored.events !== rig.written) {
    throw new Error(`${rig.written} events written; ${stored.records} records of ${stored.events} events stored`);
  }
  for (const { emitter, pool } of rig.outboxes) {
    const { rows: left } = await pool.query<{ rows: number }>('SELECT count(*)::int AS rows FROM outbox');
    if (left[0]?.rows !== 0) throw new Error(`${left[0]?.rows} rows left in the ${emitter} outbox`);
  }
  const heads = await rig.audit.query<{ tenant_id: string; seq: string; hash: string }>(
    'SELECT tenant_id::text, seq, hash FROM audit_chain_heads WHERE tenant_id = ANY($1::uuid[])',
    [rig.tenants],
  );
  const startedAt = performance.now();
  for (const head of heads.rows) {
    const verifier = new AuditChainVerifier(head.tenant_id, { seq: 0, hash: AUDIT_GENESIS_HASH });
    for (let after = 0; ; ) {
      const { rows: page } = await rig.audit.query<[string, string, string]>({
        text: 'SELECT seq, document, hash FROM audit_records WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3',
        values: [head.tenant_id, after, VERIFY_PAGE_ROWS],
        rowMode: 'array',
      });
      for (const [seq, document, hash] of page) verifier.add({ seq: Number(seq), document, hash } as StoredAuditRecord);
      if (page.length < VERIFY_PAGE_ROWS) break;
      after = Number((page.at(-1) as [string, string, string])[0]);
    }
    verifier.finish([], [], { seq: Number(head.seq), hash: head.hash });
    if (verifier.problems.length > 0) {
      throw new Error(
        `the chain of ${head.tenant_id} did not verify: ${JSON.stringify(verifier.problems.slice(0, 3))}`,
      );
    }
  }
  return { records: stored.records, verifiedPerSecond: perSecondBetween(stored.records, startedAt, performance.now()) };
}

interface ProcessMemory {
  rssMb: number;
  /** VmHWM: the highest RSS the process has had. */
  peakRssMb: number;
}

/** A process's resident memory, from /proc (Linux). */
function processMemory(pid: number): ProcessMemory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kilobytes = (field: string) => {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
    if (match === null) throw new Error(`/proc/${pid}/status has no ${field}`);
    return Number(match[1]);
  };
  return { rssMb: kilobytes('VmRSS') / 1024, peakRssMb: kilobytes('VmHWM') / 1024 };
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.max(0, Math.ceil(sorted.length * p) - 1)] ?? 0;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const verdict = (ok: boolean) => (ok ? 'yes' : 'NO');
