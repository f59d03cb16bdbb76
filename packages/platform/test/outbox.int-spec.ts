import { randomBytes, randomUUID } from 'node:crypto';
import { AUDIT_STREAM, defineEvent, OPERATOR_IDENTITY } from '@strongroom/contracts';
import { createTestDatabase, startTestNats, type TestDatabase, type TestNats } from '@strongroom/testing';
import type { NatsConnection } from 'nats';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import { z } from 'zod';
import {
  auditEventOf,
  createLogger,
  createServiceDataSource,
  enqueueAudit,
  enqueueEvent,
  enqueueEvents,
  ensureEventStreams,
  Outbox1763856000000,
  OutboxAuditSubjects1764720000000,
  OutboxRelay,
  OutboxTenantScope1764288000000,
  withoutTenant,
} from '../src';
import { deliveriesOf, probeRecorded, RELAY_IDENTITY, streamMessagesOf, waitUntil } from './fixtures/outbox-stream';

const silent = createLogger({ service: RELAY_IDENTITY, level: 'silent' });

const probeSized = defineEvent({
  subject: 'evt.auth.v1.probes.sized',
  payload: z.object({ blob: z.string() }),
  summary: 'Test-only event of a chosen size',
});

describe('the transactional outbox and its JetStream relay', () => {
  let nats: TestNats;
  let database: TestDatabase;
  let admin: NatsConnection;
  let publisher: NatsConnection;
  let owner: Client;
  let runtime: DataSource;

  beforeAll(async () => {
    nats = await startTestNats();
    admin = await nats.connectAs(OPERATOR_IDENTITY);
    await ensureEventStreams(admin);
    publisher = await nats.connectAs(RELAY_IDENTITY);
    database = await createTestDatabase('outbox', [
      Outbox1763856000000,
      OutboxTenantScope1764288000000,
      OutboxAuditSubjects1764720000000,
    ]);
    owner = new Client({ connectionString: database.ownerUrl });
    await owner.connect();
    runtime = createServiceDataSource({ url: database.runtimeUrl, applicationName: 'outbox-test' });
    await runtime.initialize();
  });

  afterAll(async () => {
    if (runtime?.isInitialized) await runtime.destroy();
    await owner?.end();
    await publisher?.close();
    await admin?.close();
    await database?.drop();
    await nats?.stop();
  });

  afterEach(async () => {
    // Each test starts from an empty outbox: what one leaves behind must not be another's batch.
    await owner.query('DELETE FROM outbox');
  });

  const relayWith = (options: Partial<ConstructorParameters<typeof OutboxRelay>[0]> = {}) =>
    new OutboxRelay({ dataSource: runtime, connection: publisher, logger: silent, ...options });

  async function isPending(eventId: string): Promise<boolean> {
    const { rows } = await owner.query('SELECT 1 FROM outbox WHERE id = $1', [eventId]);
    return rows.length === 1;
  }

  async function outboxRows(): Promise<number> {
    return (await owner.query('SELECT count(*)::int AS n FROM outbox')).rows[0].n;
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
    expect(await outboxRows()).toBe(0);
  });

  it('publishes a committed event once, at once (NOTIFY, not polling), with Nats-Msg-Id and its headers, and removes its row', async () => {
    // An hour-long poll: only the insert trigger's NOTIFY can wake the relay within the wait below.
    const relay = relayWith({ pollIntervalMs: 3_600_000 });
    relay.start();
    try {
      await new Promise((resolve) => setTimeout(resolve, 300)); // the relay is asleep, listening
      const eventId = await withoutTenant(runtime, (manager) =>
        enqueueEvent(manager, probeRecorded, { n: 2 }, { headers: { 'x-request-id': 'req-outbox-1' } }),
      );
      await waitUntil('the event to leave the outbox', async () => !(await isPending(eventId)), 3_000);
      const deliveries = await deliveriesOf(nats, eventId);
      expect(deliveries).toHaveLength(1);
      expect(deliveries[0]?.subject).toBe('evt.auth.v1.probes.recorded');
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
    expect(await outboxRows()).toBe(0);
    await expect(
      withoutTenant(runtime, (manager) =>
        enqueueEvents(manager, probeRecorded, [
          { payload: { n: 13 } },
          { payload: { n: 'fourteen' } as unknown as { n: number } },
        ]),
      ),
    ).rejects.toMatchObject({ code: 'VALIDATION' });
    expect(await outboxRows()).toBe(0);
  });

  it('publishes audit events to the AUDIT stream under the emitter subject, the row id as Nats-Msg-Id', async () => {
    const tenantId = randomUUID();
    const event = auditEventOf({
      tenantId,
      actor: { type: 'user', id: 'user-1' },
      action: 'auth.role.create',
      resource: { type: 'role', id: 'auditors' },
      outcome: 'success',
    });
    await withoutTenant(runtime, (manager) => enqueueAudit(manager, 'auth', [event]));
    const { rows } = await owner.query('SELECT id, tenant_id FROM outbox');
    expect(rows).toEqual([{ id: expect.any(String), tenant_id: tenantId }]);
    expect(await relayWith().publishBatch()).toBe(1);
    const messages = (await streamMessagesOf(nats, AUDIT_STREAM.name, 'audit')).filter(
      (message) => message.headers?.get('Nats-Msg-Id') === rows[0].id,
    );
    expect(messages).toHaveLength(1);
    expect(messages[0]?.subject).toBe('audit.events.auth');
    expect(messages[0]?.json()).toEqual({ events: [{ ...event, details: {} }] });
  });

  it('keeps seq order across several batches in flight, and publishes each row once', async () => {
    const first = 1_000;
    for (let transaction = 0; transaction < 4; transaction += 1) {
      const payloads = Array.from({ length: 300 }, (_, i) => ({ payload: { n: first + transaction * 300 + i } }));
      await withoutTenant(runtime, (manager) => enqueueEvents(manager, probeRecorded, payloads));
    }
    const relay = relayWith({ batchSize: 50, batchesInFlight: 4 });
    expect(await relay.drain()).toBe(1_200);
    expect(await outboxRows()).toBe(0);
    const published = (await streamMessagesOf(nats))
      .map((message) => message.json<{ n?: number }>().n ?? -1)
      .filter((n) => n >= first);
    expect(published).toEqual(Array.from({ length: 1_200 }, (_, i) => first + i));
  });

  it('lets replicas share the work: two relays draining at once publish every row once', async () => {
    const first = 5_000;
    const payloads = Array.from({ length: 1_000 }, (_, i) => ({ payload: { n: first + i } }));
    const ids = [
      ...(await withoutTenant(runtime, (manager) => enqueueEvents(manager, probeRecorded, payloads.slice(0, 500)))),
      ...(await withoutTenant(runtime, (manager) => enqueueEvents(manager, probeRecorded, payloads.slice(500)))),
    ];
    const [one, two] = await Promise.all([relayWith({ batchSize: 50 }).drain(), relayWith({ batchSize: 50 }).drain()]);
    expect((one as number) + (two as number)).toBe(1_000);
    // Both took a share (SKIP LOCKED hands each the rows the other does not hold).
    expect(Math.min(one as number, two as number)).toBeGreaterThan(0);
    const published = (await streamMessagesOf(nats)).map((message) => message.headers?.get('Nats-Msg-Id'));
    const wanted = new Set(ids);
    expect(published.filter((id) => id !== undefined && wanted.has(id))).toHaveLength(1_000);
    expect(new Set(published.filter((id) => id !== undefined && wanted.has(id))).size).toBe(1_000);
  });

  it('rolls the batch back when JetStream refuses a message; the copies already stored are dropped when it goes again', async () => {
    const [before] = await withoutTenant(runtime, (manager) =>
      enqueueEvents(manager, probeRecorded, [{ payload: { n: 20 } }]),
    );
    // JetStream refuses this message itself: it names a stream the subject is not stored in.
    const refused = await withoutTenant(runtime, (manager) =>
      enqueueEvent(manager, probeRecorded, { n: 21 }, { headers: { 'Nats-Expected-Stream': 'NOT_EVT_AUTH' } }),
    );
    const [after] = await withoutTenant(runtime, (manager) =>
      enqueueEvents(manager, probeRecorded, [{ payload: { n: 22 } }]),
    );
    const relay = relayWith();
    await expect(relay.publishBatch()).rejects.toThrow(/expected stream/i);
    // Nothing left the outbox, although the messages around the refused one are in the stream.
    for (const id of [before, refused, after]) expect(await isPending(id as string)).toBe(true);
    expect(await deliveriesOf(nats, before as string)).toHaveLength(1);
    expect(await deliveriesOf(nats, refused)).toHaveLength(0);

    await owner.query('DELETE FROM outbox WHERE id = $1', [refused]);
    expect(await relay.publishBatch()).toBe(2);
    expect(await outboxRows()).toBe(0);
    for (const id of [before, after]) expect(await deliveriesOf(nats, id as string)).toHaveLength(1);
  });

  it('bounds a claim by payload bytes as well as rows: large rows go a few at a time', async () => {
    // ~1.4 MB each, incompressible: a claim stops at 4 MiB stored (the first row always goes).
    const blobs = Array.from({ length: 6 }, () => ({ payload: { blob: randomBytes(1_048_576).toString('base64') } }));
    const ids = await withoutTenant(runtime, (manager) => enqueueEvents(manager, probeSized, blobs));
    const relay = relayWith();
    expect(await relay.publishBatch()).toBe(3);
    expect(await relay.publishBatch()).toBe(3);
    expect(await relay.publishBatch()).toBe(0);
    for (const id of ids) expect(await deliveriesOf(nats, id)).toHaveLength(1);
  });

  it('gives the runtime role only what the relay needs: no changing an event once written', async () => {
    const eventId = await withoutTenant(runtime, (manager) => enqueueEvent(manager, probeRecorded, { n: 3 }));
    await expect(runtime.query(`UPDATE outbox SET payload = '{"n": 4}' WHERE id = $1`, [eventId])).rejects.toThrow(
      /permission denied/,
    );
    await expect(
      runtime.query(`UPDATE outbox SET subject = 'evt.auth.v1.x.y' WHERE id = $1`, [eventId]),
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
      await waitUntil('the event to be published after the restart', async () => !(await isPending(eventId)));
      expect(await deliveriesOf(nats, eventId)).toHaveLength(1);
    } finally {
      await relay.stop();
    }
  });

  it('never publishes a row an earlier relay marked published, and sweeps those rows', async () => {
    // The relay before claim-and-delete marked rows published and kept them a day.
    const [marked, pending] = await withoutTenant(runtime, (manager) =>
      enqueueEvents(manager, probeRecorded, [{ payload: { n: 30 } }, { payload: { n: 31 } }]),
    );
    await owner.query('UPDATE outbox SET published_at = now() WHERE id = $1', [marked]);
    const relay = relayWith();
    expect(await relay.publishBatch()).toBe(1);
    expect(await deliveriesOf(nats, pending as string)).toHaveLength(1);
    expect(await deliveriesOf(nats, marked as string)).toHaveLength(0);
    const unpublished = await withoutTenant(runtime, (manager) => enqueueEvent(manager, probeRecorded, { n: 32 }));
    expect(await relay.sweepMarkedPublished()).toBe(1);
    const { rows } = await owner.query('SELECT id, published_at FROM outbox');
    expect(rows).toEqual([{ id: unpublished, published_at: null }]);
  });
});
