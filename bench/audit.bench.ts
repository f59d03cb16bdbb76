import {
  AUDIT_GENESIS_HASH,
  AuditChainVerifier,
  chainAuditEvents,
  type StoredAuditRecord,
  sha256Hex,
} from '@strongroom/contracts';
import { type AuditOutboxRow, createLogger, createServiceDataSource, OutboxRelay } from '@strongroom/platform';
import { createTestDatabase } from '@strongroom/testing';
import type { NatsConnection } from 'nats';
import { Client } from 'pg';
import {
  type AuditPipelineRig,
  perSecondBetween,
  realisticAuditEvents,
  singleEventOutboxRows,
  startAuditPipelineRig,
  tenantIdsOf,
  timeWhenReached,
  writeOutboxRows,
} from './audit-fixtures';
import { benchIngest, ingestSettingsFromEnvironment } from './audit-ingest';
import { type Figure, figure, throughputPerSecond } from './measure';

/**
 * The audit pipeline (issue 7): the outbox relay carrying audit events to the AUDIT stream, the
 * whole pipeline on the running platform (outbox → relays → JetStream → the audit service's hash
 * chains, and its lag; audit-ingest.ts), and the hash chain built and verified. Each figure
 * against a floor measured in the same run. BENCH_AUDIT_CASES=relay,ingest,chain,verify picks
 * cases (default all); BENCH_AUDIT_EVENTS (relay and ingest runs), BENCH_AUDIT_RECORDS (chains),
 * BENCH_AUDIT_INGEST_TENANTS and BENCH_AUDIT_LAG_SECONDS set the sizes.
 */
const CASES = ['relay', 'ingest', 'chain', 'verify'] as const;
type Case = (typeof CASES)[number];

/** Issue 7's targets. */
const TARGETS = { relayEventsPerSecondMin: 5_000, verifyRecordsPerSecondMin: 100_000 };

const EVENTS_DEFAULT = 100_000;
const RECORDS_DEFAULT = 500_000;
/** Services' request transactions write a handful of rows each; several services' pools write at once. */
const WRITERS = 4;
const ROWS_PER_TRANSACTION = 20;
const RELAY_TENANTS = 50;
/** The relay's pool, as a service's DataSource has it. */
const RELAY_POOL_SIZE = 4;
const WARMUP_EVENTS = 5_000;
/** Raw publishing: this many acknowledgements outstanding from the one connection. */
const RAW_PUBLISHES_IN_FLIGHT = 512;
const RELAY_TIMEOUT_MS = 300_000;
/** Chains of a few large tenants: the verifier runs one tenant at a time, as `strongroom audit verify` does. */
const CHAIN_TENANTS = 5;
/** Events arrive in messages of up to 1,000 (one ledger batch): the audit service chains one message at a time. */
const CHAIN_BATCH = 1_000;
const VERIFY_PAGE_ROWS = 5_000;

interface Settings {
  cases: Set<Case>;
  events: number;
  records: number;
}

function settingsFromEnvironment(env: NodeJS.ProcessEnv): Settings {
  const cases = new Set((env.BENCH_AUDIT_CASES?.split(',') ?? CASES) as Case[]);
  for (const name of cases) if (!CASES.includes(name)) throw new Error(`BENCH_AUDIT_CASES: unknown case ${name}`);
  return {
    cases,
    events: Number(env.BENCH_AUDIT_EVENTS ?? EVENTS_DEFAULT),
    records: Number(env.BENCH_AUDIT_RECORDS ?? RECORDS_DEFAULT),
  };
}

/** Expects the test Postgres (`testAdminUrl()`) bench/run.ts acquired. */
export async function runAuditBenchmarks(log: (line: string) => void): Promise<Figure[]> {
  const settings = settingsFromEnvironment(process.env);
  const figures: Figure[] = [];
  if (settings.cases.has('relay')) figures.push(...(await benchRelay(settings.events, log)));
  if (settings.cases.has('ingest')) {
    figures.push(...(await benchIngest(ingestSettingsFromEnvironment(process.env, settings.events), log)));
  }
  if (settings.cases.has('chain') || settings.cases.has('verify')) {
    const chains = buildChains(settings.records, log);
    if (settings.cases.has('chain')) figures.push(chains.figure);
    if (settings.cases.has('verify')) figures.push(...(await benchVerify(chains.tenants, log)));
  }
  return figures;
}

/**
 * Single-event audit rows written by several writers while the relay runs, timed from the first
 * write to the last event stored in AUDIT; then a backlog (written with the relay stopped) drained.
 * Floor: the same messages published straight to JetStream from one process, no database.
 */
async function benchRelay(events: number, log: (line: string) => void): Promise<Figure[]> {
  const rig = await startAuditPipelineRig('bench_audit_relay', WRITERS);
  const publisher = await rig.nats.connectAs('ledger');
  const tenants = tenantIdsOf(RELAY_TENANTS);
  const rowsOf = (count: number) => singleEventOutboxRows('ledger', realisticAuditEvents(count, tenants));
  const dataSource = createServiceDataSource({
    url: rig.database.runtimeUrl,
    applicationName: 'bench-audit-relay',
    poolSize: RELAY_POOL_SIZE,
  });
  await dataSource.initialize();
  const relayOf = () =>
    new OutboxRelay({
      dataSource,
      connection: publisher,
      logger: createLogger({ service: 'ledger', level: 'silent' }),
    });
  try {
    const raw = await rawPublishRate(publisher, rowsOf(events));

    const warmup = relayOf();
    warmup.start();
    await relayRun(rig, rowsOf(WARMUP_EVENTS));
    await warmup.stop();

    const relay = relayOf();
    relay.start();
    const sustained = await relayRun(rig, rowsOf(events));
    await relay.stop();
    log(
      `audit: relay, ${events} single-event rows (${sustained.bytesPerRow} bytes) by ${WRITERS} writers in ` +
        `transactions of ${ROWS_PER_TRANSACTION} (written at ${Math.round(sustained.writtenPerSecond)}/s): ` +
        `${Math.round(sustained.perSecond)} events/s in AUDIT, the last ${Math.round(sustained.lagAfterWritesMs)} ms ` +
        `after the last write; raw publish ${Math.round(raw)}/s; ` +
        `≥ ${TARGETS.relayEventsPerSecondMin}/s: ${verdict(sustained.perSecond >= TARGETS.relayEventsPerSecondMin)}`,
    );

    // A backlog, as after a bus outage: every row committed before the relay starts.
    const backlog = rowsOf(events);
    await writeOutboxRows(rig.writers, backlog, { writers: WRITERS, rowsPerTransaction: ROWS_PER_TRANSACTION });
    const drain = relayOf();
    const before = await rig.auditMessages();
    const startedAt = performance.now();
    drain.start();
    const reachedAt = await timeWhenReached(
      'the backlog in AUDIT',
      rig.auditMessages,
      before + events,
      RELAY_TIMEOUT_MS,
    );
    await drain.stop();
    const drained = perSecondBetween(events, startedAt, reachedAt);
    log(`audit: relay, a backlog of ${events} rows drained at ${Math.round(drained)} events/s`);
    await expectOutboxEmpty(rig);

    const floor = 'raw JetStream publish, one process, no database';
    return [
      figure('audit.relay_events', sustained.perSecond, 'events/s', floor, raw),
      figure(
        'audit.relay_events_vs_target',
        sustained.perSecond,
        'events/s',
        'the 5,000/s target',
        TARGETS.relayEventsPerSecondMin,
      ),
      figure('audit.relay_backlog_drain', drained, 'events/s', floor, raw),
    ];
  } finally {
    await dataSource.destroy();
    await publisher.close();
    await rig.close();
  }
}

/** Writes `rows` while a relay runs; times them into AUDIT (which nothing else writes meanwhile). */
async function relayRun(rig: AuditPipelineRig, rows: readonly AuditOutboxRow[]) {
  const before = await rig.auditMessages();
  const startedAt = performance.now();
  const written = writeOutboxRows(rig.writers, rows, { writers: WRITERS, rowsPerTransaction: ROWS_PER_TRANSACTION });
  const reachedAt = await timeWhenReached(
    'the events in AUDIT',
    rig.auditMessages,
    before + rows.length,
    RELAY_TIMEOUT_MS,
  );
  const { perSecond: writtenPerSecond, finishedAtMs } = await written;
  await expectOutboxEmpty(rig);
  // Exactly once: as many messages as rows (a second copy outside the duplicate window would add one).
  const stored = (await rig.auditMessages()) - before;
  if (stored !== rows.length) throw new Error(`AUDIT took ${stored} messages for ${rows.length} rows`);
  return {
    perSecond: perSecondBetween(rows.length, startedAt, reachedAt),
    writtenPerSecond,
    /** From the last row written to the last event stored: how far behind the writers the relay was. */
    lagAfterWritesMs: reachedAt - finishedAtMs,
    bytesPerRow: Math.round(rows.reduce((sum, row) => sum + row.payload.length, 0) / rows.length),
  };
}

/** Every row the relay published is gone (or marked published, before the claim-and-delete relay). */
async function expectOutboxEmpty(rig: AuditPipelineRig): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const { rows } = await rig.writers.query<{ pending: number }>(
      'SELECT count(*)::int AS pending FROM outbox WHERE published_at IS NULL',
    );
    if (rows[0]?.pending === 0) return;
    if (Date.now() > deadline) throw new Error(`${rows[0]?.pending} outbox rows left unpublished`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The same messages (subject, payload, headers, Nats-Msg-Id) published straight to JetStream. */
async function rawPublishRate(connection: NatsConnection, rows: readonly AuditOutboxRow[]): Promise<number> {
  const js = connection.jetstream();
  const encoder = new TextEncoder();
  return throughputPerSecond(rows.length, RAW_PUBLISHES_IN_FLIGHT, (index) => {
    const row = rows[index] as AuditOutboxRow;
    return js.publish(row.subject, encoder.encode(row.payload), { msgID: row.id });
  });
}

interface TenantChain {
  tenantId: string;
  records: StoredAuditRecord[];
  head: { seq: number; hash: string };
}

/**
 * One tenant's chain of `count` events, chained a message (1,000 events) at a time as the audit
 * service does; resolves to the head, the time spent in chainAuditEvents alone, and the records
 * when `keep` (the verify case's input; keeping them grows the heap, so the timed pass does not).
 */
function chainTenant(tenantId: string, count: number, keep: boolean) {
  const recordedAt = new Date().toISOString();
  const records: StoredAuditRecord[] = [];
  let head = { seq: 0, hash: AUDIT_GENESIS_HASH };
  let chainingMs = 0;
  for (let start = 0; start < count; start += CHAIN_BATCH) {
    const events = realisticAuditEvents(Math.min(CHAIN_BATCH, count - start), [tenantId]);
    const batch = events.map((event) => ({ event, emitter: 'ledger' as const }));
    const startedAt = performance.now();
    const chained = chainAuditEvents(head, batch, recordedAt);
    chainingMs += performance.now() - startedAt;
    const last = chained[chained.length - 1] as (typeof chained)[number];
    head = { seq: last.record.seq, hash: last.hash };
    if (keep) for (const { record, document, hash } of chained) records.push({ seq: record.seq, document, hash });
  }
  return { head, chainingMs, records };
}

/** Chains `count` events over a few tenants (timed), then builds the verify case's chains (kept); the floor hashes their documents. */
function buildChains(count: number, log: (line: string) => void): { tenants: TenantChain[]; figure: Figure } {
  const perTenant = Math.ceil(count / CHAIN_TENANTS);
  let chainingMs = 0;
  for (const tenantId of tenantIdsOf(CHAIN_TENANTS)) chainingMs += chainTenant(tenantId, perTenant, false).chainingMs;
  const built = (perTenant * CHAIN_TENANTS) / (chainingMs / 1000);
  const chains = tenantIdsOf(CHAIN_TENANTS).map((tenantId) => {
    const { head, records } = chainTenant(tenantId, perTenant, true);
    return { tenantId, head, records };
  });
  const sha = bareSha256Rate(chains);
  const bytes = chains[0]?.records[0]?.document.length ?? 0;
  log(
    `audit: chained ${perTenant * CHAIN_TENANTS} records (${bytes}-byte documents) over ${CHAIN_TENANTS} tenants ` +
      `in messages of ${CHAIN_BATCH}: ${Math.round(built)}/s; bare sha256 ${Math.round(sha)}/s`,
  );
  return {
    tenants: chains,
    figure: figure('audit.chain_build', built, 'records/s', 'bare sha256 of the documents', sha),
  };
}

function bareSha256Rate(chains: readonly TenantChain[]): number {
  let total = 0;
  let sink = 0;
  const startedAt = performance.now();
  for (const chain of chains) {
    for (const record of chain.records) sink += sha256Hex(record.document).charCodeAt(0);
    total += chain.records.length;
  }
  if (sink === 0) throw new Error('unreachable: hashes were computed');
  return perSecondBetween(total, startedAt, performance.now());
}

/** The verifier over the chains in memory, then read back from Postgres in keyset pages. */
async function benchVerify(chains: readonly TenantChain[], log: (line: string) => void): Promise<Figure[]> {
  const total = chains.reduce((sum, chain) => sum + chain.records.length, 0);
  const sha = bareSha256Rate(chains);
  let startedAt = performance.now();
  for (const chain of chains) {
    const verifier = new AuditChainVerifier(chain.tenantId, { seq: 0, hash: AUDIT_GENESIS_HASH });
    for (const record of chain.records) verifier.add(record);
    expectVerified(verifier, chain);
  }
  const inMemory = perSecondBetween(total, startedAt, performance.now());

  const database = await createTestDatabase('bench_audit_verify');
  const client = new Client({ connectionString: database.ownerUrl });
  await client.connect();
  try {
    await storeChains(client, chains);
    startedAt = performance.now();
    for (const chain of chains) {
      for await (const page of keysetPages(client, chain.tenantId)) page.length;
    }
    const readOnly = perSecondBetween(total, startedAt, performance.now());
    startedAt = performance.now();
    for (const chain of chains) {
      const verifier = new AuditChainVerifier(chain.tenantId, { seq: 0, hash: AUDIT_GENESIS_HASH });
      for await (const page of keysetPages(client, chain.tenantId)) for (const record of page) verifier.add(record);
      expectVerified(verifier, chain);
    }
    const fromPostgres = perSecondBetween(total, startedAt, performance.now());
    log(
      `audit: verified ${total} records over ${chains.length} chains: in memory ${Math.round(inMemory)}/s ` +
        `(bare sha256 ${Math.round(sha)}/s); from Postgres in pages of ${VERIFY_PAGE_ROWS} ${Math.round(fromPostgres)}/s ` +
        `(the pages alone ${Math.round(readOnly)}/s); ≥ ${TARGETS.verifyRecordsPerSecondMin}/s: ` +
        `${verdict(fromPostgres >= TARGETS.verifyRecordsPerSecondMin)}`,
    );
    return [
      figure('audit.chain_verify', inMemory, 'records/s', 'bare sha256 of the documents', sha),
      figure('audit.chain_verify_postgres', fromPostgres, 'records/s', 'the same keyset pages read alone', readOnly),
      figure(
        'audit.chain_verify_postgres_vs_target',
        fromPostgres,
        'records/s',
        'the 100,000/s target',
        TARGETS.verifyRecordsPerSecondMin,
      ),
    ];
  } finally {
    await client.end();
    await database.drop();
  }
}

function expectVerified(verifier: AuditChainVerifier, chain: TenantChain): void {
  verifier.finish([], [], chain.head);
  if (verifier.problems.length > 0 || verifier.records !== chain.records.length) {
    throw new Error(`the chain of ${chain.tenantId} did not verify: ${JSON.stringify(verifier.problems.slice(0, 3))}`);
  }
}

/** The audit service's audit_records as a verifier reads it (/work/notes: the document as text; jsonb would reorder its keys). */
async function storeChains(client: Client, chains: readonly TenantChain[]): Promise<void> {
  await client.query(`CREATE TABLE audit_records (
    tenant_id uuid NOT NULL, seq bigint NOT NULL, document text NOT NULL, hash text NOT NULL,
    PRIMARY KEY (tenant_id, seq))`);
  for (const chain of chains) {
    for (let start = 0; start < chain.records.length; start += VERIFY_PAGE_ROWS) {
      const page = chain.records.slice(start, start + VERIFY_PAGE_ROWS);
      await client.query(
        `INSERT INTO audit_records (tenant_id, seq, document, hash)
         SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::text[])`,
        [chain.tenantId, page.map((r) => r.seq), page.map((r) => r.document), page.map((r) => r.hash)],
      );
    }
  }
  await client.query('VACUUM ANALYZE audit_records');
}

/** One tenant's records in seq order, a page at a time; the next page is read while the caller checks this one. */
async function* keysetPages(client: Client, tenantId: string): AsyncGenerator<StoredAuditRecord[]> {
  const read = async (afterSeq: number) => {
    // Rows as arrays: no object per row from the driver (~10% of the read).
    const { rows } = await client.query<[string, string, string]>({
      text: `SELECT seq, document, hash FROM audit_records
              WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
      values: [tenantId, afterSeq, VERIFY_PAGE_ROWS],
      rowMode: 'array',
    });
    return rows.map(([seq, document, hash]) => ({ seq: Number(seq), document, hash }));
  };
  let page = await read(0);
  while (page.length > 0) {
    const last = page[page.length - 1] as StoredAuditRecord;
    const next = page.length === VERIFY_PAGE_ROWS ? read(last.seq) : Promise.resolve([]);
    yield page;
    page = await next;
  }
}

const verdict = (ok: boolean) => (ok ? 'yes' : 'NO');
