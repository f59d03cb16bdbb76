import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { OPERATOR_IDENTITY } from '@strongroom/contracts';
import { createTestDatabase, startTestNats, type TestDatabase, type TestNats } from '@strongroom/testing';
import { Client } from 'pg';
import { createServiceDataSource, enqueueEvent, ensureEventStreams, Outbox1763856000000, withoutTenant } from '../src';
import { deliveriesOf, probeRecorded, waitUntil } from './fixtures/outbox-stream';

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

  async function enqueue(n: number): Promise<string> {
    const source = createServiceDataSource({ url: database.runtimeUrl, applicationName: 'outbox-crash-test' });
    await source.initialize();
    try {
      return await withoutTenant(source, (manager) => enqueueEvent(manager, probeRecorded, { n }));
    } finally {
      await source.destroy();
    }
  }

  async function publishedAt(eventId: string): Promise<Date | null> {
    const { rows } = await owner.query('SELECT published_at FROM outbox WHERE id = $1', [eventId]);
    return rows[0]?.published_at ?? null;
  }

  async function startRelay(): Promise<RelayProcess> {
    const child = spawn(process.execPath, ['-r', REGISTER, RELAY_FIXTURE], {
      env: { ...process.env, DATABASE_RUNTIME_URL: database.runtimeUrl, NATS_URL: nats.url, NATS_PKI_DIR: nats.pkiDir },
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
    expect(await publishedAt(eventId)).toBeNull();
    expect(await deliveriesOf(nats, eventId)).toHaveLength(0);

    await owner.query(`GRANT SELECT ON outbox TO ${database.databaseName}_app`);
    const restarted = await startRelay();
    await waitUntil('the restarted relay to publish', async () => (await publishedAt(eventId)) !== null);
    await kill9(restarted);
    expect(await deliveriesOf(nats, eventId)).toHaveLength(1);
  });

  it('delivers exactly once when the relay is killed after publishing but before marking published', async () => {
    // A trigger refusing the mark (not a REVOKE: the claim's FOR UPDATE needs the UPDATE grant)
    // holds the relay exactly between publish and mark: it publishes, fails to mark, rolls back
    // and publishes again, and that is where we kill it. JetStream acknowledges the second publish
    // as a duplicate (Nats-Msg-Id inside the stream's duplicate window), which the relay logs.
    await owner.query(`CREATE FUNCTION refuse_mark() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'mark refused by the test'; END $$`);
    await owner.query('CREATE TRIGGER refuse_mark BEFORE UPDATE ON outbox FOR EACH ROW EXECUTE FUNCTION refuse_mark()');
    const stuck = await startRelay();
    const eventId = await enqueue(2);
    await waitUntil('a republish to be deduplicated', () => stuck.output().includes('duplicates dropped'));
    await kill9(stuck);
    expect(await publishedAt(eventId)).toBeNull();

    await owner.query('DROP TRIGGER refuse_mark ON outbox');
    const restarted = await startRelay();
    await waitUntil('the restarted relay to mark the event', async () => (await publishedAt(eventId)) !== null);
    await kill9(restarted);
    expect(restarted.output()).toContain('duplicates dropped');
    const deliveries = await deliveriesOf(nats, eventId);
    expect(deliveries).toHaveLength(1);
    expect(deliveries[0]?.json()).toEqual({ n: 2 });
  });
});
