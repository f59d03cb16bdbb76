import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { defineEvent, OPERATOR_IDENTITY } from '@strongroom/contracts';
import { createTestDatabase, startTestNats, type TestDatabase, type TestNats } from '@strongroom/testing';
import { AckPolicy, DeliverPolicy, type NatsConnection } from 'nats';
import { Client } from 'pg';
import { z } from 'zod';
import {
  createLogger,
  createServiceDataSource,
  enqueueEvent,
  ensureEventStreams,
  Outbox1763856000000,
  OutboxRelay,
  withoutTenant,
} from '../src';

const recorded = defineEvent({
  subject: 'evt.ledger.v1.probes.recorded',
  payload: z.object({ n: z.number().int() }),
  summary: 'Test-only event',
});

const RELAY_FIXTURE = join(__dirname, 'fixtures', 'outbox-relay-process.ts');
const REGISTER = join(__dirname, '..', '..', 'testing', 'register.js');

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('the transactional outbox and its JetStream relay', () => {
  let nats: TestNats;
  let database: TestDatabase;
  let admin: NatsConnection;
  let owner: Client;
  const relays = new Set<ChildProcess>();
  const dataSource = () => createServiceDataSource({ url: database.runtimeUrl, applicationName: 'outbox-test' });

  beforeAll(async () => {
    nats = await startTestNats();
    admin = await nats.connectAs(OPERATOR_IDENTITY);
    await ensureEventStreams(admin);
    database = await createTestDatabase('outbox', [Outbox1763856000000]);
    owner = new Client({ connectionString: database.ownerUrl });
    await owner.connect();
  });

  afterAll(async () => {
    for (const relay of relays) relay.kill('SIGKILL');
    await owner?.end();
    await admin?.close();
    await database?.drop();
    await nats?.stop();
  });

  /** Every message of the stream carrying this event id (Nats-Msg-Id), read by a fresh consumer as `audit`. */
  async function deliveriesOf(eventId: string): Promise<number> {
    const auditor = await nats.connectAs('audit');
    try {
      const name = `count-${randomUUID()}`;
      await (await auditor.jetstreamManager()).consumers.add('EVT_LEDGER', {
        durable_name: name,
        ack_policy: AckPolicy.None,
        deliver_policy: DeliverPolicy.All,
        // Consumers may not be deleted on our bus; the server drops this one when idle.
        inactive_threshold: 5_000_000_000,
      });
      const consumer = await auditor.jetstream().consumers.get('EVT_LEDGER', name);
      let seen = 0;
      for (
        let message = await consumer.next({ expires: 1_000 });
        message;
        message = await consumer.next({ expires: 1_000 })
      ) {
        if (message.headers?.get('Nats-Msg-Id') === eventId) seen += 1;
      }
      return seen;
    } finally {
      await auditor.close();
    }
  }

  async function enqueue(n: number): Promise<string> {
    const source = dataSource();
    await source.initialize();
    try {
      return await withoutTenant(source, (manager) => enqueueEvent(manager, recorded, { n }));
    } finally {
      await source.destroy();
    }
  }

  async function publishedAt(eventId: string): Promise<Date | null> {
    const { rows } = await owner.query('SELECT published_at FROM outbox WHERE id = $1', [eventId]);
    return rows[0]?.published_at ?? null;
  }

  function startRelayProcess(): ChildProcess {
    const child = spawn(process.execPath, ['-r', REGISTER, RELAY_FIXTURE], {
      env: { ...process.env, DATABASE_RUNTIME_URL: database.runtimeUrl, NATS_URL: nats.url, NATS_PKI_DIR: nats.pkiDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    relays.add(child);
    child.once('exit', () => relays.delete(child));
    return child;
  }

  async function kill9(child: ChildProcess): Promise<void> {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  it('publishes nothing for a rolled-back transaction', async () => {
    const source = dataSource();
    await source.initialize();
    const relay = new OutboxRelay({
      dataSource: source,
      connection: admin,
      logger: createLogger({ service: 'ledger', level: 'silent' }),
    });
    try {
      let eventId = '';
      await expect(
        withoutTenant(source, async (manager) => {
          eventId = await enqueueEvent(manager, recorded, { n: 1 });
          throw new Error('the state change failed');
        }),
      ).rejects.toThrow('the state change failed');
      expect(await relay.publishBatch()).toBe(0);
      expect(await deliveriesOf(eventId)).toBe(0);
    } finally {
      await source.destroy();
    }
  });

  it('refuses an event whose payload breaks its contract', async () => {
    const source = dataSource();
    await source.initialize();
    try {
      await expect(
        withoutTenant(source, (manager) => enqueueEvent(manager, recorded, { n: 'one' } as unknown as { n: number })),
      ).rejects.toMatchObject({ code: 'VALIDATION' });
    } finally {
      await source.destroy();
    }
  });

  it('delivers exactly once an event committed while the relay was down (killed before publishing)', async () => {
    const eventId = await enqueue(2);
    const first = startRelayProcess();
    await waitUntil('the event to be published', async () => (await publishedAt(eventId)) !== null);
    await kill9(first);
    const second = startRelayProcess();
    await new Promise((resolve) => setTimeout(resolve, 500));
    await kill9(second);
    expect(await deliveriesOf(eventId)).toBe(1);
  });

  it('delivers exactly once when the relay is killed after publishing but before marking the event published', async () => {
    // A trigger refusing the mark keeps the relay exactly between publish and mark (it publishes,
    // fails to mark, rolls back, tries again), which is where we kill it.
    await owner.query(`CREATE FUNCTION refuse_mark() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'mark refused by the test'; END $$`);
    await owner.query('CREATE TRIGGER refuse_mark BEFORE UPDATE ON outbox FOR EACH ROW EXECUTE FUNCTION refuse_mark()');
    const eventId = await enqueue(3);
    const stuck = startRelayProcess();
    await waitUntil('the event to reach JetStream', async () => (await deliveriesOf(eventId)) >= 1);
    await new Promise((resolve) => setTimeout(resolve, 300)); // let it republish at least once more
    await kill9(stuck);
    expect(await publishedAt(eventId)).toBeNull();

    await owner.query('DROP TRIGGER refuse_mark ON outbox');
    const restarted = startRelayProcess();
    await waitUntil('the restarted relay to mark the event', async () => (await publishedAt(eventId)) !== null);
    await kill9(restarted);
    expect(await deliveriesOf(eventId)).toBe(1);
  });
});
