import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initPki } from '@strongroom/cli';
import {
  AUDIT_STREAM,
  type AuditEmitter,
  type AuditEventInput,
  auditMessageSchema,
  eventStreamOf,
  OPERATOR_IDENTITY,
  SIEM_CONSUMER,
  SIEM_IDENTITY,
} from '@strongroom/contracts';
import { auditEventOf, checkBusTlsFiles, publishAudit } from '@strongroom/platform';
import { startTestNats, type TestNats } from '@strongroom/testing';
import { AckPolicy, DeliverPolicy, type JsMsg, type NatsConnection, StringCodec } from 'nats';
import { createTestStreams } from './siem-support';

/**
 * The JetStream way for an external SIEM (docs/siem.md): the `siem` identity reads the AUDIT
 * stream through its one durable pull consumer `siem`, and may do nothing else on the bus.
 */

const TENANT = '0b7c6f1e-2f0a-4d8e-9a51-3c2d1e0f9a8b';
const codec = StringCodec();

let nats: TestNats;
const open: NatsConnection[] = [];

async function connectAs(identity: string): Promise<NatsConnection> {
  const connection = await nats.connectAs(identity);
  open.push(connection);
  return connection;
}

function eventsOf(count: number, action: AuditEventInput['action'] = 'ledger.transfer.allocation'): AuditEventInput[] {
  return Array.from({ length: count }, (_, index) =>
    auditEventOf({
      tenantId: TENANT,
      actor: { type: 'user', id: `user-${index}` },
      action,
      resource: { type: 'transfer', id: `t-${index}` },
      outcome: 'success',
      details: {},
    }),
  );
}

async function publish(emitter: AuditEmitter, events: AuditEventInput[]): Promise<void> {
  const emitterConnection = await connectAs(emitter);
  expect(await publishAudit(emitterConnection, emitter, events)).toBe(true);
}

/** The SIEM's side, as docs/siem.md shows it: the durable pull consumer the operator created, then fetch. */
async function siemConsumer(connection: NatsConnection) {
  return connection.jetstream().consumers.get(AUDIT_STREAM.name, SIEM_CONSUMER);
}

async function fetchAll(consumer: Awaited<ReturnType<typeof siemConsumer>>, count: number): Promise<JsMsg[]> {
  const messages: JsMsg[] = [];
  const deadline = Date.now() + 10_000;
  while (messages.length < count && Date.now() < deadline) {
    const batch = await consumer.fetch({ max_messages: count - messages.length, expires: 1_000 });
    for await (const message of batch) messages.push(message);
  }
  return messages;
}

beforeAll(async () => {
  nats = await startTestNats();
  const admin = await nats.connectAs(OPERATOR_IDENTITY);
  await createTestStreams(admin);
  await admin.close();
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((connection) => connection.close()));
});

afterAll(async () => {
  await nats?.stop();
});

describe('the siem bus identity', () => {
  it('is issued by `strongroom pki init` by default, as CN=siem,O=Strongroom', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'strongroom-siem-pki-'));
    try {
      const report = await initPki({ dir });

      expect(report.issued).toContain(SIEM_IDENTITY);
      const files = report.paths.client(SIEM_IDENTITY);
      expect(checkBusTlsFiles(files).identity).toBe(SIEM_IDENTITY);
      expect(new X509Certificate(readFileSync(files.certFile)).subject).toBe('O=Strongroom\nCN=siem');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('SIEM streaming over JetStream', () => {
  it('reads every published audit event through the durable consumer `siem`, and resumes after it', async () => {
    const fromLedger = eventsOf(3);
    const fromAuth = eventsOf(2, 'auth.login.attempt');
    await publish('ledger', fromLedger);
    await publish('auth', fromAuth);

    const siem = await connectAs(SIEM_IDENTITY);
    const consumer = await siemConsumer(siem);
    const messages = await fetchAll(consumer, 2);

    expect(messages.map((message) => message.subject)).toEqual(['audit.events.ledger', 'audit.events.auth']);
    const received = messages.map((message) => auditMessageSchema.parse(message.json()));
    expect(received.map((message) => message.events.map((event) => event.id))).toEqual([
      fromLedger.map((event) => event.id),
      fromAuth.map((event) => event.id),
    ]);
    for (const message of messages) expect(await message.ackAck()).toBe(true);
    await siem.close();

    // A later session of the SIEM continues where the durable consumer stands.
    const later = eventsOf(1, 'tenants.tenant.create');
    await publish('tenants', later);
    const again = await connectAs(SIEM_IDENTITY);
    const next = await fetchAll(await siemConsumer(again), 1);
    expect(next).toHaveLength(1);
    expect(auditMessageSchema.parse(next[0]?.json()).events.map((event) => event.id)).toEqual([later[0]?.id]);
    await next[0]?.ackAck();
    expect((await (await again.jetstream().consumers.get(AUDIT_STREAM.name, SIEM_CONSUMER)).info()).num_pending).toBe(
      0,
    );
  });

  it('refuses the siem identity any other consumer name on AUDIT, an ephemeral consumer, and deleting its own', async () => {
    const siem = await connectAs(SIEM_IDENTITY);
    const manager = await siem.jetstreamManager();

    // Nor may it re-create its own as a push consumer delivering the trail to a subject of its choosing.
    await expect(
      manager.consumers.add(AUDIT_STREAM.name, {
        durable_name: SIEM_CONSUMER,
        ack_policy: AckPolicy.None,
        deliver_policy: DeliverPolicy.All,
        deliver_subject: 'audit.v1.records.list',
      }),
    ).rejects.toMatchObject({ code: 'PERMISSIONS_VIOLATION' });

    await expect(
      manager.consumers.add(AUDIT_STREAM.name, { durable_name: 'audit-store', ack_policy: AckPolicy.Explicit }),
    ).rejects.toMatchObject({ code: 'PERMISSIONS_VIOLATION' });
    await expect(
      manager.consumers.add(AUDIT_STREAM.name, { durable_name: 'siem2', ack_policy: AckPolicy.Explicit }),
    ).rejects.toMatchObject({ code: 'PERMISSIONS_VIOLATION' });
    await expect(manager.consumers.add(AUDIT_STREAM.name, { ack_policy: AckPolicy.Explicit })).rejects.toMatchObject({
      code: 'PERMISSIONS_VIOLATION',
    });
    await expect(manager.consumers.delete(AUDIT_STREAM.name, SIEM_CONSUMER)).rejects.toMatchObject({
      code: 'PERMISSIONS_VIOLATION',
    });
    await expect(manager.consumers.info(AUDIT_STREAM.name, 'audit-syslog')).rejects.toMatchObject({
      code: 'PERMISSIONS_VIOLATION',
    });
  });

  it('refuses the siem identity every other stream, reading AUDIT around its consumer, and publishing audit events', async () => {
    const siem = await connectAs(SIEM_IDENTITY);
    const manager = await siem.jetstreamManager();
    const ledgerStream = eventStreamOf('ledger').name;

    await expect(
      manager.consumers.add(ledgerStream, { durable_name: SIEM_CONSUMER, ack_policy: AckPolicy.Explicit }),
    ).rejects.toMatchObject({ code: 'PERMISSIONS_VIOLATION' });
    await expect(manager.streams.info(ledgerStream)).rejects.toMatchObject({ code: 'PERMISSIONS_VIOLATION' });
    await expect(manager.streams.getMessage(AUDIT_STREAM.name, { seq: 1 })).rejects.toMatchObject({
      code: 'PERMISSIONS_VIOLATION',
    });
    await expect(manager.streams.purge(AUDIT_STREAM.name)).rejects.toMatchObject({ code: 'PERMISSIONS_VIOLATION' });
    // A SIEM must never be able to forge a record.
    await expect(
      siem.jetstream().publish('audit.events.ledger', codec.encode(JSON.stringify({ events: eventsOf(1) }))),
    ).rejects.toMatchObject({ code: 'PERMISSIONS_VIOLATION' });
    await expect(siem.request('ledger.v1.health.check', codec.encode('{}'), { timeout: 1_000 })).rejects.toMatchObject({
      code: 'PERMISSIONS_VIOLATION',
    });
  });
});
