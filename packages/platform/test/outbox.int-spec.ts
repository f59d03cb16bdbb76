import { OPERATOR_IDENTITY } from '@strongroom/contracts';
import { createTestDatabase, startTestNats, type TestDatabase, type TestNats } from '@strongroom/testing';
import type { NatsConnection } from 'nats';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import {
  createLogger,
  createServiceDataSource,
  enqueueEvent,
  enqueueEvents,
  ensureEventStreams,
  Outbox1763856000000,
  OutboxRelay,
  withoutTenant,
} from '../src';
import { deliveriesOf, probeRecorded, waitUntil } from './fixtures/outbox-stream';

const silent = createLogger({ service: 'ledger', level: 'silent' });

describe('the transactional outbox and its JetStream relay', () => {
  let nats: TestNats;
  let database: TestDatabase;
  let admin: NatsConnection;
  let ledger: NatsConnection;
  let owner: Client;
  let runtime: DataSource;

  beforeAll(async () => {
    nats = await startTestNats();
    admin = await nats.connectAs(OPERATOR_IDENTITY);
    await ensureEventStreams(admin);
    ledger = await nats.connectAs('ledger');
    database = await createTestDatabase('outbox', [Outbox1763856000000]);
    owner = new Client({ connectionString: database.ownerUrl });
    await owner.connect();
    runtime = createServiceDataSource({ url: database.runtimeUrl, applicationName: 'outbox-test' });
    await runtime.initialize();
  });

  afterAll(async () => {
    if (runtime?.isInitialized) await runtime.destroy();
    await owner?.end();
    await ledger?.close();
    await admin?.close();
    await database?.drop();
    await nats?.stop();
  });

  const relayWith = (options: Partial<ConstructorParameters<typeof OutboxRelay>[0]> = {}) =>
    new OutboxRelay({ dataSource: runtime, connection: ledger, logger: silent, ...options });

  async function publishedAt(eventId: string): Promise<Date | null> {
    const { rows } = await owner.query('SELECT published_at FROM outbox WHERE id = $1', [eventId]);
    return rows[0]?.published_at ?? null;
  }

  it('publishes nothing for a rolled-back transaction', async () => {
    let eventId = '';
    await expect(
      withoutTenant(runtime, async (manager) => {
        eventId = await enqueueEvent(manager, probeRecorded, { n: 1 });
        throw new Error('the state change failed');
      }),
    ).rejects.toThrow('the state change failed');
    expect(eventId).not.toBe('');
    expect(await relayWith().publishBatch()).toBe(0);
    expect(await deliveriesOf(nats, eventId)).toHaveLength(0);
  });

  it('refuses an event whose payload breaks its contract, and writes nothing', async () => {
    await expect(
      withoutTenant(runtime, (manager) =>
        enqueueEvent(manager, probeRecorded, { n: 'one' } as unknown as { n: number }),
      ),
    ).rejects.toMatchObject({ code: 'VALIDATION' });
    expect((await owner.query('SELECT count(*)::int AS n FROM outbox')).rows).toEqual([{ n: 0 }]);
  });

  it('publishes a committed event once, at once (NOTIFY, not polling), with Nats-Msg-Id and its headers', async () => {
    // An hour-long poll: only the insert trigger's NOTIFY can wake the relay within the wait below.
    const relay = relayWith({ pollIntervalMs: 3_600_000 });
    relay.start();
    try {
      await new Promise((resolve) => setTimeout(resolve, 300)); // the relay is asleep, listening
      const eventId = await withoutTenant(runtime, (manager) =>
        enqueueEvent(manager, probeRecorded, { n: 2 }, { headers: { 'x-request-id': 'req-outbox-1' } }),
      );
      await waitUntil('the event to be marked published', async () => (await publishedAt(eventId)) !== null, 3_000);
      const deliveries = await deliveriesOf(nats, eventId);
      expect(deliveries).toHaveLength(1);
      expect(deliveries[0]?.subject).toBe('evt.ledger.v1.probes.recorded');
      expect(deliveries[0]?.headers?.get('x-request-id')).toBe('req-outbox-1');
      expect(deliveries[0]?.json()).toEqual({ n: 2 });
    } finally {
      await relay.stop();
    }
  });

  it('writes a batch of events in one statement, or nothing when one payload breaks the contract', async () => {
    const ids = await withoutTenant(runtime, (manager) =>
      enqueueEvents(manager, probeRecorded, [{ payload: { n: 10 } }, { payload: { n: 11 } }, { payload: { n: 12 } }]),
    );
    expect(ids).toHaveLength(3);
    expect(await relayWith().publishBatch()).toBe(3);
    for (const id of ids) expect(await deliveriesOf(nats, id)).toHaveLength(1);
    const before = await runtime.query('SELECT count(*)::int AS count FROM outbox');
    await expect(
      withoutTenant(runtime, (manager) =>
        enqueueEvents(manager, probeRecorded, [
          { payload: { n: 13 } },
          { payload: { n: 'fourteen' } as unknown as { n: number } },
        ]),
      ),
    ).rejects.toMatchObject({ code: 'VALIDATION' });
    const after = await runtime.query('SELECT count(*)::int AS count FROM outbox');
    expect(after[0].count).toBe(before[0].count);
  });

  it('gives the runtime role only what the relay needs: no changing an event once written', async () => {
    const eventId = await withoutTenant(runtime, (manager) => enqueueEvent(manager, probeRecorded, { n: 3 }));
    await expect(runtime.query(`UPDATE outbox SET payload = '{"n": 4}' WHERE id = $1`, [eventId])).rejects.toThrow(
      /permission denied/,
    );
    await expect(
      runtime.query(`UPDATE outbox SET subject = 'evt.ledger.v1.x.y' WHERE id = $1`, [eventId]),
    ).rejects.toThrow(/permission denied/);
    await expect(runtime.query('TRUNCATE outbox')).rejects.toThrow(/permission denied/);
    await expect(runtime.query('ALTER TABLE outbox DISABLE TRIGGER outbox_notify')).rejects.toThrow(/must be owner/);
    expect(await relayWith().publishBatch()).toBe(1);
  });

  it('keeps publishing after the bus comes back (bounded back-off, nothing lost)', async () => {
    const relay = relayWith({ pollIntervalMs: 100 });
    relay.start();
    try {
      await nats.restart();
      const eventId = await withoutTenant(runtime, (manager) => enqueueEvent(manager, probeRecorded, { n: 5 }));
      await waitUntil('the event to be published after the restart', async () => (await publishedAt(eventId)) !== null);
      expect(await deliveriesOf(nats, eventId)).toHaveLength(1);
    } finally {
      await relay.stop();
    }
  });

  it('deletes published rows past their retention in small batches, and never an unpublished one', async () => {
    const pending = await withoutTenant(runtime, (manager) => enqueueEvent(manager, probeRecorded, { n: 6 }));
    const { rows: before } = await owner.query('SELECT count(*)::int AS n FROM outbox WHERE published_at IS NOT NULL');
    expect(before[0].n).toBeGreaterThan(0);
    expect(await relayWith({ publishedRetentionSeconds: 3_600 }).cleanupPublished()).toBe(0);
    expect(await relayWith({ publishedRetentionSeconds: 0 }).cleanupPublished()).toBe(before[0].n);
    const { rows: after } = await owner.query('SELECT id, published_at FROM outbox');
    expect(after).toEqual([{ id: pending, published_at: null }]);
  });
});
