import { AUDIT_STREAM, type AuditEmitter, type AuditEventInput, OPERATOR_IDENTITY } from '@strongroom/contracts';
import { auditEventOf, publishAudit } from '@strongroom/platform';
import { freeStablePort, startTestNats, type TestNats } from '@strongroom/testing';
import type { NatsConnection } from 'nats';
import pino from 'pino';
import type { SyslogForwarderConfig } from '../src/siem/syslog-config';
import { AUDIT_SYSLOG_CONSUMER, SyslogForwarder } from '../src/siem/syslog-forwarder';
import {
  createSyslogTestPki,
  createTestStreams,
  parseSyslogMessage,
  type SyslogTestPki,
  SyslogTestReceiver,
} from './siem-support';

/**
 * The syslog forwarder against a real mTLS nats-server (as the `audit` identity) and a real
 * RFC 5425 receiver in a child process (mutual TLS with a test CA). The tests share one durable
 * consumer and run in order, as the audit service would across restarts.
 */

const TENANT = '0b7c6f1e-2f0a-4d8e-9a51-3c2d1e0f9a8b';
const ACK_DELAY_MS = 300;

let nats: TestNats;
let pki: SyslogTestPki;
let receiver: SyslogTestReceiver;
let audit: NatsConnection;
const emitters = new Map<AuditEmitter, NatsConnection>();
const published: string[] = [];

function configFor(overrides: Partial<SyslogForwarderConfig['target']> = {}): SyslogForwarderConfig {
  return {
    target: {
      host: '127.0.0.1',
      port: receiver.port,
      caFile: pki.caFile,
      certFile: pki.clientCertFile,
      keyFile: pki.clientKeyFile,
      ...overrides,
    },
    format: {
      facility: 13,
      hostname: 'audit-test',
      appName: 'strongroom-audit',
      enterpriseNumber: '32473',
      messageBytesMax: 8_192,
    },
    ackDelayMs: ACK_DELAY_MS,
    reconnectDelayMsMin: 50,
    reconnectDelayMsMax: 400,
  };
}

function forwarderWith(config: SyslogForwarderConfig): SyslogForwarder {
  return new SyslogForwarder({ connection: audit, logger: pino({ level: 'silent' }), config });
}

/** Publishes one AUDIT message of `count` events the way emitters do, remembering the order. */
async function publish(emitter: AuditEmitter, count: number, outcome: AuditEventInput['outcome'] = 'success') {
  let connection = emitters.get(emitter);
  if (!connection) {
    connection = await nats.connectAs(emitter);
    emitters.set(emitter, connection);
  }
  const events = Array.from({ length: count }, (_, index) =>
    auditEventOf({
      tenantId: TENANT,
      actor: { type: 'user', id: `user-${published.length + index}` },
      action: emitter === 'auth' ? 'auth.login.attempt' : 'ledger.transfer.allocation',
      resource: { type: 'transfer', id: `t-${published.length + index}` },
      outcome,
      ...(outcome === 'success' ? {} : { reason: 'invalid_credentials' }),
      requestId: `req-${published.length + index}`,
      details: {},
    }),
  );
  expect(await publishAudit(connection, emitter, events)).toBe(true);
  published.push(...events.map((event) => event.id as string));
  return events;
}

const receivedIds = () => receiver.received.map(({ message }) => parseSyslogMessage(message).params.eventId);

/** The ids in order of their first arrival. */
const firstArrivals = () => [...new Set(receivedIds())];

async function consumerState() {
  const info = await (await audit.jetstreamManager()).consumers.info(AUDIT_STREAM.name, AUDIT_SYSLOG_CONSUMER);
  return { pending: info.num_pending, unacknowledged: info.num_ack_pending };
}

async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

beforeAll(async () => {
  nats = await startTestNats();
  const operator = await nats.connectAs(OPERATOR_IDENTITY);
  await createTestStreams(operator);
  await operator.close();
  audit = await nats.connectAs('audit');
  pki = await createSyslogTestPki();
  receiver = new SyslogTestReceiver(await freeStablePort(), pki);
  await receiver.start();
});

afterAll(async () => {
  await receiver?.kill();
  await Promise.all([...emitters.values()].map((connection) => connection.close()));
  await audit?.close();
  await nats?.stop();
  pki?.remove();
});

describe('syslog forwarder', () => {
  it('forwards each audit event once, in stream order, as RFC 5424 over mutual TLS, and acks it', async () => {
    await publish('ledger', 3);
    await publish('auth', 1, 'denied');
    // A message that breaks the contract is skipped (and logged), not retried forever.
    await emitters.get('ledger')?.jetstream().publish('audit.events.ledger', new TextEncoder().encode('{"events":[]}'));
    for (let index = 0; index < 20; index += 1) await publish(index % 2 === 0 ? 'ledger' : 'auth', 1 + (index % 3));
    const forwarder = forwarderWith(configFor());

    await forwarder.start();
    try {
      await receiver.waitForCount(published.length);
      await eventually(async () => (await consumerState()).unacknowledged === 0);
      // Past the ack delay: nothing is sent twice on a healthy connection.
      await new Promise((resolve) => setTimeout(resolve, ACK_DELAY_MS * 2));

      expect(receivedIds()).toEqual(published);
      expect(await consumerState()).toEqual({ pending: 0, unacknowledged: 0 });
      expect(new Set(receiver.received.map(({ peer }) => peer))).toEqual(new Set(['strongroom-audit']));
      expect(receiver.errors).toEqual([]);
      const denied = parseSyslogMessage(receiver.received[3]?.message as Buffer);
      expect(denied).toMatchObject({
        pri: 13 * 8 + 4,
        hostname: 'audit-test',
        appName: 'strongroom-audit',
        msgId: 'auth.login.attempt',
        sdId: 'strongroom@32473',
        msgHasBom: true,
      });
      expect(denied.params).toMatchObject({ emitter: 'auth', outcome: 'denied', reason: 'invalid_credentials' });
      expect(parseSyslogMessage(receiver.received[0]?.message as Buffer).pri).toBe(13 * 8 + 5);
    } finally {
      await forwarder.stop();
    }
  });

  it('loses nothing when the receiver is killed mid-stream and comes back (at least once, first arrivals in order)', async () => {
    const before = published.length;
    const forwarder = forwarderWith(configFor());
    await forwarder.start();
    let publishing = true;
    const publisher = (async () => {
      for (let index = 0; index < 300 && publishing; index += 1) {
        await publish(index % 3 === 0 ? 'auth' : 'ledger', 1 + (index % 2));
        if (index % 10 === 9) await new Promise((resolve) => setTimeout(resolve, 15));
      }
    })();
    try {
      await receiver.waitForCount(before + 60);
      await receiver.kill();
      const receivedWhenKilled = receiver.received.length;
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      await receiver.start();
      await publisher;
      publishing = false;

      await eventually(() => firstArrivals().length === published.length, 20_000);
      await eventually(async () => (await consumerState()).unacknowledged === 0);

      expect(receivedWhenKilled).toBeLessThan(published.length);
      expect(firstArrivals()).toEqual(published);
      expect(await consumerState()).toEqual({ pending: 0, unacknowledged: 0 });
      expect(receiver.errors).toEqual([]);
    } finally {
      publishing = false;
      await publisher;
      await forwarder.stop();
    }
  });

  it('refuses a receiver whose certificate another CA issued, acknowledging nothing, and resumes once trusted', async () => {
    const alreadyReceived = receiver.received.length;
    const events = [...(await publish('ledger', 2)), ...(await publish('auth', 1))];
    const untrusting = forwarderWith(configFor({ caFile: pki.foreignCaFile }));

    await untrusting.start();
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await untrusting.stop();

    expect(receiver.received.length).toBe(alreadyReceived);
    // Two AUDIT messages (of two events and one), neither delivered.
    expect(await consumerState()).toEqual({ pending: 2, unacknowledged: 0 });

    // The audit service restarted with the right CA: its durable consumer resumes where it stood.
    const trusting = forwarderWith(configFor());
    await trusting.start();
    try {
      await receiver.waitForCount(alreadyReceived + events.length);
      await eventually(async () => (await consumerState()).unacknowledged === 0);
      await new Promise((resolve) => setTimeout(resolve, ACK_DELAY_MS * 2));

      expect(receivedIds().slice(alreadyReceived)).toEqual(events.map((event) => event.id));
    } finally {
      await trusting.stop();
    }
  });

  it('acknowledges on a graceful stop what the receiver read to the end, so a restart sends nothing twice', async () => {
    const alreadyReceived = receiver.received.length;
    const events = [...(await publish('ledger', 3)), ...(await publish('auth', 2))];
    const forwarder = forwarderWith({ ...configFor(), ackDelayMs: 10_000 });
    await forwarder.start();
    await receiver.waitForCount(alreadyReceived + events.length);
    // Written, and still within their ack delay.
    expect((await consumerState()).unacknowledged).toBe(2);

    await forwarder.stop();

    expect(await consumerState()).toEqual({ pending: 0, unacknowledged: 0 });
    const restarted = forwarderWith(configFor());
    await restarted.start();
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await restarted.stop();
    expect(receivedIds().slice(alreadyReceived)).toEqual(events.map((event) => event.id));
  });
});
