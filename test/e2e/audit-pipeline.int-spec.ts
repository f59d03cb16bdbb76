import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { RunningStack } from '@strongroom/cli';
import { type AuditEventInput, verifyAuditChain } from '@strongroom/contracts';
import { auditEventOf, auditOutboxRowsOf, busTlsFilesFor, connectBus, publishAudit } from '@strongroom/platform';
import type { NatsConnection } from 'nats';
import { Client } from 'pg';
import { type LedgerBus, ledgerBusOf } from './support/ledger-bus';
import { startTestStack, type TestStack } from './test-stack';

/**
 * The audit pipeline under faults (issue 7, tests 1 and 2): a SIGKILL of the audit service while
 * 10,000 events are in flight, and a restart of nats-server while services' outboxes are being
 * drained. Afterwards every event is stored exactly once and the tenant's chain verifies.
 */

const EVENTS_IN_FLIGHT = 10_000;
const EVENTS_PER_MESSAGE = 10;
const OUTBOX_EVENTS = 3_000;
const STORED_TIMEOUT_MS = 90_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function eventsFor(tenantId: string, count: number, runId: string): AuditEventInput[] {
  return Array.from({ length: count }, (_, index) =>
    auditEventOf({
      tenantId,
      actor: { type: 'service', id: 'audit-pipeline-test' },
      action: 'ledger.transfer.allocation',
      resource: { type: 'transfer', id: randomUUID() },
      outcome: 'success',
      requestId: `${runId}-${index}`,
      details: { run: runId, index },
    }),
  );
}

describe('audit pipeline under faults', () => {
  let testStack: TestStack;
  let stack: RunningStack;
  let auditApi: LedgerBus;
  let emitter: NatsConnection;
  let auditDb: Client;

  beforeAll(async () => {
    testStack = await startTestStack();
    stack = testStack.stack;
    auditApi = await ledgerBusOf(testStack, { name: 'audit-pipeline-test', timeoutMs: 60_000, maxTimeoutMs: 60_000 });
    // The test sends as the ledger would: nats-server lets the ledger identity publish audit.events.ledger only.
    emitter = await connectBus({
      servers: stack.natsUrl,
      tls: busTlsFilesFor(join(testStack.stateDir, 'pki'), 'ledger'),
      name: 'audit-pipeline-emitter',
    });
    auditDb = new Client({ connectionString: await testStack.adminUrlOf('audit') });
    await auditDb.connect();
  }, 120_000);

  afterAll(async () => {
    await auditDb?.end();
    await emitter?.close();
    await auditApi?.close();
    await testStack?.dispose();
  }, 60_000);

  /** How many of these events are stored, and how many distinct ones (the superuser sees every tenant). */
  async function stored(ids: readonly string[]): Promise<{ rows: number; distinct: number }> {
    const { rows } = await auditDb.query<{ rows: string; distinct: string }>(
      'SELECT count(*) AS rows, count(DISTINCT event_id) AS distinct FROM audit_records WHERE event_id = ANY($1::uuid[])',
      [ids],
    );
    return { rows: Number(rows[0]?.rows), distinct: Number(rows[0]?.distinct) };
  }

  async function waitUntilStored(ids: readonly string[], atLeast: number, timeoutMs = STORED_TIMEOUT_MS) {
    const deadline = Date.now() + timeoutMs;
    let count = await stored(ids);
    while (count.rows < atLeast && Date.now() < deadline) {
      await sleep(100);
      count = await stored(ids);
    }
    return count;
  }

  /** The tenant's whole chain: seqs 1..n without a gap or a repeat, and the service's verification. */
  async function expectIntactChain(tenantId: string) {
    const { rows } = await auditDb.query<{ rows: string; first: string; last: string }>(
      'SELECT count(*) AS rows, min(seq) AS first, max(seq) AS last FROM audit_records WHERE tenant_id = $1',
      [tenantId],
    );
    expect(Number(rows[0]?.first)).toBe(1);
    expect(Number(rows[0]?.last)).toBe(Number(rows[0]?.rows));
    const verification = await auditApi.call(verifyAuditChain, { tenantId });
    expect(verification.problems).toEqual([]);
    expect(verification.valid).toBe(true);
    expect(verification.records).toBe(Number(rows[0]?.rows));
  }

  it('stores each of 10,000 in-flight events exactly once across a SIGKILL of the audit service, and the chain verifies', async () => {
    const tenantId = stack.demo.tenantId;
    const runId = randomUUID();
    const events = eventsFor(tenantId, EVENTS_IN_FLIGHT, runId);
    const ids = events.map((event) => event.id as string);
    // Paced so the audit service is mid-ingest when it dies: 1,000 messages over about 4 s.
    const publishing = (async () => {
      for (let start = 0; start < events.length; start += EVENTS_PER_MESSAGE * 25) {
        const chunk = events.slice(start, start + EVENTS_PER_MESSAGE * 25);
        const sent = await Promise.all(
          Array.from({ length: 25 }, (_, m) =>
            publishAudit(emitter, 'ledger', chunk.slice(m * EVENTS_PER_MESSAGE, (m + 1) * EVENTS_PER_MESSAGE)),
          ),
        );
        expect(sent.every(Boolean)).toBe(true);
        await sleep(100);
      }
    })();

    const beforeKill = await waitUntilStored(ids, 1_500);
    expect(beforeKill.rows).toBeGreaterThanOrEqual(1_500);
    await stack.restart('audit', { killWith: 'SIGKILL' });
    const afterKill = await stored(ids);
    await publishing;
    // The kill landed mid-stream: part of the events were still to be stored when it died.
    expect(afterKill.rows).toBeLessThan(EVENTS_IN_FLIGHT);

    const final = await waitUntilStored(ids, EVENTS_IN_FLIGHT);
    expect(final).toEqual({ rows: EVENTS_IN_FLIGHT, distinct: EVENTS_IN_FLIGHT });
    // Redelivered messages are not stored again, however long we wait.
    await sleep(2_000);
    expect(await stored(ids)).toEqual({ rows: EVENTS_IN_FLIGHT, distinct: EVENTS_IN_FLIGHT });
    await expectIntactChain(tenantId);
  }, 240_000);

  it('loses nothing when nats-server restarts while services drain their outboxes', async () => {
    const tenantId = stack.demo.tenantId;
    const runId = randomUUID();
    const events = eventsFor(tenantId, OUTBOX_EVENTS, runId);
    const ids = events.map((event) => event.id as string);
    // Written as the ledger writes them: outbox rows committed with its changes, one event each.
    const ledgerDb = new Client({ connectionString: await testStack.adminUrlOf('ledger') });
    await ledgerDb.connect();
    try {
      const writeRows = async (slice: AuditEventInput[]) => {
        const rows = slice.flatMap((event) => auditOutboxRowsOf('ledger', [event]));
        const values = rows.map((_, i) => `($${i * 4 + 1}, $${i * 4 + 2}, $${i * 4 + 3}::jsonb, $${i * 4 + 4})`);
        await ledgerDb.query(
          `INSERT INTO outbox (id, subject, payload, tenant_id) VALUES ${values.join(', ')}`,
          rows.flatMap((row) => [row.id, row.subject, row.payload, row.tenantId]),
        );
      };
      const BATCH = 100;
      const batches = Math.ceil(events.length / BATCH);
      let restarted: Promise<void> | undefined;
      for (let batch = 0; batch < batches; batch += 1) {
        await writeRows(events.slice(batch * BATCH, (batch + 1) * BATCH));
        // A third of the way in, the bus goes down and comes back; writing goes on meanwhile.
        if (batch === Math.floor(batches / 3)) restarted = stack.restart('nats-server', { killWith: 'SIGKILL' });
        await sleep(30);
      }
      await restarted;

      const final = await waitUntilStored(ids, OUTBOX_EVENTS);
      expect(final).toEqual({ rows: OUTBOX_EVENTS, distinct: OUTBOX_EVENTS });
    } finally {
      await ledgerDb.end();
    }
    await expectIntactChain(tenantId);
  }, 240_000);
});
