import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { OPERATOR_IDENTITY } from '@strongroom/contracts';
import { createTestDatabase, startTestNats, type TestDatabase, type TestNats } from '@strongroom/testing';
import { Client } from 'pg';
import {
  createServiceDataSource,
  enqueueEvent,
  enqueueEvents,
  ensureEventStreams,
  Outbox1763856000000,
  withoutTenant,
} from '../src';
import { deliveriesOf, PROBE_STREAM, probeRecorded, streamMessagesOf, waitUntil } from './fixtures/outbox-stream';

// The relay runs as a real child process (TypeScript compiled on load by swc through the
// testing package's register), so SIGKILL hits it exactly as a crash would: no finally, no stop().
const RELAY_FIXTURE = join(__dirname, 'fixtures', 'outbox-relay-process.ts');
const REGISTER = join(__dirname, '..', '..', 'testing', 'register.js');

interface RelayProcess {
  child: ChildProcess;
  output(): string;
}

describe('the outbox relay crashing at the worst moments', () => {
  let nats: TestNats;
  let database: TestDatabase;
  let owner: Client;
  const relays = new Set<ChildProcess>();

  beforeAll(async () => {
    nats = await startTestNats();
    const admin = await nats.connectAs(OPERATOR_IDENTITY);
    await ensureEventStreams(admin);
    await admin.close();
    database = await createTestDatabase('outbox_crash', [Outbox1763856000000]);
    owner = new Client({ connectionString: database.ownerUrl });
    await owner.connect();
  });

  afterAll(async () => {
    for (const relay of relays) relay.kill('SIGKILL');
    await owner?.end();
    await database?.drop();
    await nats?.stop();
  });

  async function withRuntime<T>(work: (source: ReturnType<typeof createServiceDataSource>) => Promise<T>): Promise<T> {
    const source = createServiceDataSource({ url: database.runtimeUrl, applicationName: 'outbox-crash-test' });
    await source.initialize();
    try {
      return await work(source);
    } finally {
      await source.destroy();
    }
  }

  const enqueue = (n: number) =>
    withRuntime((source) => withoutTenant(source, (manager) => enqueueEvent(manager, probeRecorded, { n })));

  async function isPending(eventId: string): Promise<boolean> {
    const { rows } = await owner.query('SELECT 1 FROM outbox WHERE id = $1', [eventId]);
    return rows.length === 1;
  }

  async function pendingRows(): Promise<number> {
    return (await owner.query('SELECT count(*)::int AS n FROM outbox')).rows[0].n;
  }

  async function startRelay(environment: Record<string, string> = {}): Promise<RelayProcess> {
    const child = spawn(process.execPath, ['-r', REGISTER, RELAY_FIXTURE], {
      env: {
        ...process.env,
        ...environment,
        DATABASE_RUNTIME_URL: database.runtimeUrl,
        NATS_URL: nats.url,
        NATS_PKI_DIR: nats.pkiDir,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    relays.add(child);
    child.once('exit', () => relays.delete(child));
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const relay = { child, output: () => output };
    await waitUntil(
      'the relay process to start',
      () => output.includes('relay ready') || child.exitCode !== null,
      30_000,
    );
    if (child.exitCode !== null) throw new Error(`relay fixture exited: ${output}`);
    return relay;
  }

  async function kill9(relay: RelayProcess): Promise<void> {
    const exited = new Promise((resolve) => relay.child.once('exit', resolve));
    relay.child.kill('SIGKILL');
    await exited;
  }

  it('delivers exactly once an event committed while the relay was stuck before publishing, then killed', async () => {
    // Without SELECT the relay cannot claim rows, while enqueueing (a plain INSERT) still works:
    // the relay is alive, woken by NOTIFY, and held between the commit and the publish.
    await owner.query(`REVOKE SELECT ON outbox FROM ${database.databaseName}_app`);
    const eventId = await enqueue(1);
    const stuck = await startRelay();
    await waitUntil('the relay to fail claiming', () => stuck.output().includes('could not publish'));
    await kill9(stuck);
    expect(await isPending(eventId)).toBe(true);
    expect(await deliveriesOf(nats, eventId)).toHaveLength(0);

    await owner.query(`GRANT SELECT ON outbox TO ${database.databaseName}_app`);
    const restarted = await startRelay();
    await waitUntil('the restarted relay to publish', async () => !(await isPending(eventId)));
    await kill9(restarted);
    expect(await deliveriesOf(nats, eventId)).toHaveLength(1);
  });

  it('delivers exactly once when the relay is killed after publishing but before its commit', async () => {
    // A deferred trigger refuses the commit of the claim: the relay publishes, JetStream
    // acknowledges, COMMIT fails, the claim rolls back and the row is published again, which
    // JetStream acknowledges as a duplicate (Nats-Msg-Id inside the stream's duplicate window)
    // and the relay logs. That is where we kill it: between a publish and its commit.
    await owner.query(`CREATE FUNCTION refuse_commit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'commit refused by the test'; END $$`);
    await owner.query(`CREATE CONSTRAINT TRIGGER refuse_commit AFTER DELETE ON outbox
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_commit()`);
    const stuck = await startRelay();
    const eventId = await enqueue(2);
    await waitUntil('a republish to be deduplicated', () => stuck.output().includes('duplicates dropped'));
    await kill9(stuck);
    expect(await isPending(eventId)).toBe(true);
    expect(await deliveriesOf(nats, eventId)).toHaveLength(1);

    await owner.query('DROP TRIGGER refuse_commit ON outbox');
    const restarted = await startRelay();
    await waitUntil('the restarted relay to commit the event', async () => !(await isPending(eventId)));
    await kill9(restarted);
    expect(restarted.output()).toContain('duplicates dropped');
    const deliveries = await deliveriesOf(nats, eventId);
    expect(deliveries).toHaveLength(1);
    expect(deliveries[0]?.json()).toEqual({ n: 2 });
  });

  it('stores every event once and in order when the relay is killed mid-stream, batches in flight', async () => {
    const events = 6_000;
    const first = 100_000;
    await withRuntime(async (source) => {
      for (let start = 0; start < events; start += 1_000) {
        const payloads = Array.from({ length: 1_000 }, (_, i) => ({ payload: { n: first + start + i } }));
        await withoutTenant(source, (manager) => enqueueEvents(manager, probeRecorded, payloads));
      }
    });
    const reader = await nats.connectAs('ledger');
    const stored = async () => (await (await reader.jetstreamManager()).streams.info(PROBE_STREAM)).state.messages;
    try {
      const before = await stored();
      // Small batches: several commits go by before the kill, and some are out when it lands.
      const relay = await startRelay({ RELAY_BATCH_SIZE: '100' });
      await waitUntil('a part of the events to be stored', async () => (await stored()) - before >= 1_500, 30_000);
      await kill9(relay);
      const left = await pendingRows();
      expect(left).toBeGreaterThan(0);
      expect(left).toBeLessThan(events);

      const restarted = await startRelay({ RELAY_BATCH_SIZE: '100' });
      await waitUntil('the outbox to be empty', async () => (await pendingRows()) === 0, 30_000);
      await kill9(restarted);
    } finally {
      await reader.close();
    }
    const published = (await streamMessagesOf(nats))
      .map((message) => ({ id: message.headers?.get('Nats-Msg-Id'), n: message.json<{ n: number }>().n }))
      .filter((message) => message.n >= first);
    expect(published.map((message) => message.n)).toEqual(Array.from({ length: events }, (_, i) => first + i));
    expect(new Set(published.map((message) => message.id)).size).toBe(events);
  });
});
