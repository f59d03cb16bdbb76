import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { AUDIT_STREAM, type AuditEvent, auditSubjectOf, OPERATOR_IDENTITY } from '@strongroom/contracts';
import { ensureEventStreams, publishAudit } from '@strongroom/platform';
import { startTestNats, type TestNats } from '@strongroom/testing';
import type { NatsConnection } from 'nats';
import pino from 'pino';
import { AuditMetrics } from '../src/audit-metrics';
import { AUDIT_STORE_CONSUMER, AuditConsumer } from '../src/ingest/audit-consumer';
import { AuditStore } from '../src/ingest/audit-store';
import { AuditTestDatabase, eventFor } from './support/audit-database';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitUntil(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * The ingest (issue 7, "Pipeline"): the durable pull consumer `audit-store` on the AUDIT stream of
 * a real mTLS nats-server, storing into real Postgres. Each event is stored once however often it
 * arrives; a message is acknowledged only after its records committed; a message that breaks the
 * contract is terminated without its content reaching the logs; nothing is lost across a
 * Postgres refusal or a nats-server restart.
 */
describe('audit ingest from JetStream (real nats-server with mTLS, real Postgres)', () => {
  let nats: TestNats;
  let db: AuditTestDatabase;
  let auditConnection: NatsConnection;
  let emitter: NatsConnection;
  let consumer: AuditConsumer;
  const metrics = new AuditMetrics();
  const logLines: string[] = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk, _encoding, done) {
        logLines.push(chunk.toString());
        done();
      },
    }),
  );
  const runtimeRole = () => `${db.database.databaseName}_app`;

  beforeAll(async () => {
    nats = await startTestNats();
    const admin = await nats.connectAs(OPERATOR_IDENTITY);
    await ensureEventStreams(admin);
    await admin.close();
    db = await AuditTestDatabase.open('audit_ingest');
    auditConnection = await nats.connectAs('audit');
    emitter = await nats.connectAs('ledger');
    consumer = new AuditConsumer({
      connection: auditConnection,
      store: new AuditStore(db.dataSource),
      logger,
      metrics,
    });
    consumer.start();
    await waitUntil('the consumer to open', () => consumer.consuming);
  });

  afterAll(async () => {
    await consumer?.stop();
    await auditConnection?.close();
    await emitter?.close();
    await db?.close();
    await nats?.stop();
  });

  async function storedCount(ids: readonly string[]): Promise<{ rows: number; distinct: number }> {
    const { rows } = await db.superuser.query(
      'SELECT count(*)::int AS rows, count(DISTINCT event_id)::int AS distinct FROM audit_records WHERE event_id = ANY($1::uuid[])',
      [ids],
    );
    return { rows: rows[0].rows, distinct: rows[0].distinct };
  }

  async function consumerState(): Promise<{ pending: number; ackPending: number }> {
    const info = await (await auditConnection.jetstreamManager()).consumers.info(
      AUDIT_STREAM.name,
      AUDIT_STORE_CONSUMER,
    );
    return { pending: info.num_pending, ackPending: info.num_ack_pending };
  }

  async function drained(): Promise<boolean> {
    const state = await consumerState();
    return state.pending === 0 && state.ackPending === 0;
  }

  const idsOf = (events: readonly AuditEvent[]) => events.map((event) => event.id);

  it('the consumer is durable, explicit-ack, from the start of the stream, with bounded acks in flight', async () => {
    const info = await (await auditConnection.jetstreamManager()).consumers.info(
      AUDIT_STREAM.name,
      AUDIT_STORE_CONSUMER,
    );
    expect(info.config).toMatchObject({
      durable_name: AUDIT_STORE_CONSUMER,
      ack_policy: 'explicit',
      deliver_policy: 'all',
      max_ack_pending: 4_096,
      ack_wait: 30_000_000_000,
    });
  });

  it('stores each event once when messages repeat events and a message is sent twice', async () => {
    const tenantId = randomUUID();
    const events = Array.from({ length: 6 }, () => eventFor(tenantId));
    // Overlapping messages (distinct message ids): events 2 and 3 arrive twice.
    expect(await publishAudit(emitter, 'ledger', events.slice(0, 4))).toBe(true);
    expect(await publishAudit(emitter, 'ledger', events.slice(2, 6))).toBe(true);
    // The same message again under another message id: JetStream keeps both copies.
    const again = new TextEncoder().encode(JSON.stringify({ events: events.slice(0, 2) }));
    await emitter.jetstream().publish(auditSubjectOf('ledger'), again, { msgID: randomUUID() });

    await waitUntil('the events to be stored', async () => (await storedCount(idsOf(events))).rows >= 6);
    await waitUntil('the stream to be drained', drained);
    expect(await storedCount(idsOf(events))).toEqual({ rows: 6, distinct: 6 });
    const verification = await db.verify(tenantId);
    expect(verification).toMatchObject({ valid: true, records: 6, lastSeq: 6 });
    // In the order they were sent, the emitter taken from the subject.
    const page = await db.records.list(tenantId, {}, { limit: 10 });
    expect(page.records.map(({ record }) => record.id).reverse()).toEqual(idsOf(events));
    expect(page.records.every(({ record }) => record.emitter === 'ledger')).toBe(true);
  });

  it('stores nothing twice when events stored before a crash (committed, never acked) arrive again', async () => {
    const tenantId = randomUUID();
    const events = Array.from({ length: 5 }, () => eventFor(tenantId));
    // What a crashed replica left: its transaction committed, its acks never sent.
    await db.store.store(events.slice(0, 3).map((event) => ({ event, emitter: 'ledger' as const })));
    expect(await publishAudit(emitter, 'ledger', events)).toBe(true);
    await waitUntil('the new events to be stored', async () => (await storedCount(idsOf(events))).rows >= 5);
    await waitUntil('the stream to be drained', drained);
    expect(await storedCount(idsOf(events))).toEqual({ rows: 5, distinct: 5 });
    expect((await db.verify(tenantId)).valid).toBe(true);
  });

  it('acknowledges nothing the database did not commit, and stores it once the database accepts it again', async () => {
    const tenantId = randomUUID();
    const events = Array.from({ length: 4 }, () => eventFor(tenantId));
    const failedBefore = (await metrics.batchesFailed.get()).values[0]?.value ?? 0;
    await db.superuser.query(`REVOKE INSERT ON audit_records FROM ${runtimeRole()}`);
    try {
      expect(await publishAudit(emitter, 'ledger', events.slice(0, 2))).toBe(true);
      expect(await publishAudit(emitter, 'ledger', events.slice(2))).toBe(true);
      await waitUntil(
        'the store to fail twice',
        async () => ((await metrics.batchesFailed.get()).values[0]?.value ?? 0) >= failedBefore + 2,
      );
      expect(await storedCount(idsOf(events))).toEqual({ rows: 0, distinct: 0 });
      // Not acknowledged: still owed to the consumer.
      const state = await consumerState();
      expect(state.pending + state.ackPending).toBeGreaterThan(0);
    } finally {
      await db.superuser.query(`GRANT INSERT ON audit_records TO ${runtimeRole()}`);
    }
    await waitUntil('the events to be stored after all', async () => (await storedCount(idsOf(events))).rows >= 4);
    await waitUntil('the stream to be drained', drained);
    expect(await storedCount(idsOf(events))).toEqual({ rows: 4, distinct: 4 });
    expect((await db.verify(tenantId)).valid).toBe(true);
  });

  it('terminates a message that breaks the contract, logs it without its content, counts it, and goes on', async () => {
    const tenantId = randomUUID();
    const secret = `sk_live_${randomUUID()}`;
    const broken = { events: [{ ...eventFor(tenantId), details: { password: secret } }] };
    await emitter.jetstream().publish(auditSubjectOf('ledger'), new TextEncoder().encode(JSON.stringify(broken)));
    await emitter.jetstream().publish(auditSubjectOf('ledger'), new TextEncoder().encode(`not json ${secret}`));
    const after = eventFor(tenantId);
    expect(await publishAudit(emitter, 'ledger', [after])).toBe(true);

    await waitUntil('the valid event after them to be stored', async () => (await storedCount([after.id])).rows === 1);
    await waitUntil('the stream to be drained', drained);
    const refused = (await metrics.messagesRefused.get()).values;
    expect(refused).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ labels: { refusal: 'contract_broken' }, value: 1 }),
        expect.objectContaining({ labels: { refusal: 'not_json' }, value: 1 }),
      ]),
    );
    const refusals = logLines.filter((line) => line.includes('broke its contract'));
    expect(refusals).toHaveLength(2);
    expect(logLines.join('\n')).not.toContain(secret);
    expect(await db.countRecords(tenantId)).toBe(1);
  });

  it('loses nothing when nats-server restarts mid-stream', async () => {
    const tenantId = randomUUID();
    const events = Array.from({ length: 300 }, () => eventFor(tenantId));
    const messages = Array.from({ length: 30 }, (_, index) => events.slice(index * 10, index * 10 + 10));
    for (const message of messages.slice(0, 15)) expect(await publishAudit(emitter, 'ledger', message)).toBe(true);
    await nats.restart();
    // The emitter and the consumer reconnect by themselves; publishAudit retries a publish that fails meanwhile.
    for (const message of messages.slice(15)) {
      let sent = await publishAudit(emitter, 'ledger', message);
      for (let attempt = 0; !sent && attempt < 20; attempt += 1) {
        await sleep(250);
        sent = await publishAudit(emitter, 'ledger', message);
      }
      expect(sent).toBe(true);
    }
    await waitUntil('every event to be stored', async () => (await storedCount(idsOf(events))).rows >= 300, 60_000);
    await waitUntil('the stream to be drained', drained, 60_000);
    expect(await storedCount(idsOf(events))).toEqual({ rows: 300, distinct: 300 });
    expect(await db.verify(tenantId)).toMatchObject({ valid: true, records: 300 });
  }, 120_000);
});
