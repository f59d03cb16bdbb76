import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createCertificateAuthority,
  issueLeafCertificate,
  loadCertificateAuthority,
  pkiPaths,
  validityFor,
} from '@strongroom/cli';
import {
  BUS_CERTIFICATE_ORGANIZATION,
  busInboxPrefixOf,
  EVENT_STREAMS,
  eventStreamOf,
  OPERATOR_IDENTITY,
} from '@strongroom/contracts';
import { startTestNats, type TestNats } from '@strongroom/testing';
import { AckPolicy, type NatsConnection, type Status, StringCodec } from 'nats';
import { BusConnectionError, connectBus, dialBus } from '../src/bus/connection';
import { BusTlsError, type BusTlsFiles, checkBusTlsFiles } from '../src/bus/tls';

const codec = StringCodec();
const DAY_MS = 86_400_000;
const REFUSAL_TIMEOUT_MS = 1_000;
// A refusal must surface within the connect timeout plus scheduling slack, never hang.
const REFUSAL_DEADLINE_MS = REFUSAL_TIMEOUT_MS + 2_000;

let nats: TestNats;
let scratchDir: string;
const open: NatsConnection[] = [];

async function connectAs(identity: string): Promise<NatsConnection> {
  const connection = await nats.connectAs(identity);
  open.push(connection);
  return connection;
}

/** Writes a leaf into a scratch dir, with the test PKI's CA as `caFile` (what a client trusts). */
function writeClientFiles(name: string, material: { certificatePem: string; privateKeyPem: string }): BusTlsFiles {
  const dir = join(scratchDir, name);
  mkdirSync(dir, { recursive: true });
  const files = {
    caFile: pkiPaths(nats.pkiDir).caCert,
    certFile: join(dir, 'client.crt'),
    keyFile: join(dir, 'client.key'),
  };
  writeFileSync(files.certFile, material.certificatePem);
  writeFileSync(files.keyFile, material.privateKeyPem, { mode: 0o600 });
  return files;
}

async function timed<T>(run: () => Promise<T>): Promise<{ error: unknown; elapsedMs: number }> {
  const startedAt = Date.now();
  try {
    await run();
    return { error: undefined, elapsedMs: Date.now() - startedAt };
  } catch (error) {
    return { error, elapsedMs: Date.now() - startedAt };
  }
}

/** Resolves with the first status matching `wanted`, described, or 'none' after `withinMs`. */
async function nextStatus(
  connection: NatsConnection,
  wanted: 'reconnect' | 'PERMISSIONS_VIOLATION',
  withinMs: number,
): Promise<string> {
  const statuses = connection.status()[Symbol.asyncIterator]();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'none'>((resolve) => {
    timer = setTimeout(() => resolve('none'), withinMs);
  });
  try {
    for (;;) {
      const next = await Promise.race([statuses.next(), deadline]);
      if (next === 'none' || next.done) return 'none';
      const status = next.value as Status & { permissionContext?: { operation: string; subject: string } };
      if (wanted === 'reconnect' && status.type === 'reconnect') return 'reconnect';
      if (wanted === 'PERMISSIONS_VIOLATION' && status.type === 'error' && status.data === wanted) {
        return `${status.permissionContext?.operation} ${status.permissionContext?.subject}`;
      }
    }
  } finally {
    clearTimeout(timer);
    // Not awaited: a pending next() settles when the connection closes after the test.
    void statuses.return?.();
  }
}

const nextPermissionViolation = (connection: NatsConnection, withinMs = 2_000) =>
  nextStatus(connection, 'PERMISSIONS_VIOLATION', withinMs);

beforeAll(async () => {
  nats = await startTestNats({ identities: ['intruder'] });
  scratchDir = mkdtempSync(join(tmpdir(), 'strongroom-mtls-spec-'));
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((connection) => connection.close()));
});

afterAll(async () => {
  await nats?.stop();
  if (scratchDir) rmSync(scratchDir, { recursive: true, force: true });
});

describe('bus with mutual TLS', () => {
  it('lets a service with a valid certificate answer a request from the gateway', async () => {
    const ledger = await connectAs('ledger');
    ledger.subscribe('ledger.v1.health.check', {
      queue: 'ledger',
      callback: (_error, message) => message.respond(codec.encode(`pong to ${codec.decode(message.data)}`)),
    });
    await ledger.flush();
    const gateway = await connectAs('gateway');

    const reply = await gateway.request('ledger.v1.health.check', codec.encode('gateway'), { timeout: 2_000 });

    expect(codec.decode(reply.data)).toBe('pong to gateway');
  });

  it('refuses, fast and typed, a service whose certificate file is missing', async () => {
    const files = { ...nats.tlsFor('ledger'), certFile: join(scratchDir, 'absent.crt') };

    const { error, elapsedMs } = await timed(() => connectBus({ servers: nats.url, tls: files, name: 'ledger' }));

    expect(error).toBeInstanceOf(BusTlsError);
    expect(error).toMatchObject({ code: 'TLS_FILE_MISSING', file: files.certFile });
    expect(elapsedMs).toBeLessThan(REFUSAL_DEADLINE_MS);
  });

  it('is refused by nats-server without a client certificate, as a typed error instead of a hang', async () => {
    const { error, elapsedMs } = await timed(() =>
      dialBus({
        servers: nats.url,
        tls: { caFile: pkiPaths(nats.pkiDir).caCert },
        name: 'anonymous',
        timeoutMs: REFUSAL_TIMEOUT_MS,
      }),
    );

    expect(error).toBeInstanceOf(BusConnectionError);
    expect(error).toMatchObject({ code: 'BUS_HANDSHAKE_REFUSED' });
    expect((error as BusConnectionError).message).toContain(nats.url);
    expect((error as BusConnectionError).message).toMatch(/certificate/);
    expect(elapsedMs).toBeLessThan(REFUSAL_DEADLINE_MS);
  });

  it('refuses a certificate issued by another CA, before dialling and at the server', async () => {
    const foreignCa = await createCertificateAuthority({
      commonName: 'Someone Else CA',
      organization: BUS_CERTIFICATE_ORGANIZATION,
      validity: validityFor(30),
    });
    const impostor = await issueLeafCertificate({
      issuer: foreignCa,
      commonName: 'ledger',
      organization: BUS_CERTIFICATE_ORGANIZATION,
      usage: 'client',
      validity: validityFor(30),
    });
    const files = writeClientFiles('foreign-ca', impostor);

    expect(() => checkBusTlsFiles(files)).toThrow(expect.objectContaining({ code: 'TLS_CERT_NOT_ISSUED_BY_CA' }));
    const { error, elapsedMs } = await timed(() =>
      dialBus({ servers: nats.url, tls: files, name: 'ledger', timeoutMs: REFUSAL_TIMEOUT_MS }),
    );
    expect(error).toBeInstanceOf(BusConnectionError);
    expect(error).toMatchObject({ code: 'BUS_HANDSHAKE_REFUSED' });
    expect(elapsedMs).toBeLessThan(REFUSAL_DEADLINE_MS);
  });

  it('refuses an expired certificate from the right CA, before dialling and at the server', async () => {
    const paths = pkiPaths(nats.pkiDir);
    const ca = await loadCertificateAuthority(readFileSync(paths.caCert, 'utf8'), readFileSync(paths.caKey, 'utf8'));
    const expired = await issueLeafCertificate({
      issuer: ca,
      commonName: 'ledger',
      organization: BUS_CERTIFICATE_ORGANIZATION,
      usage: 'client',
      validity: { notBefore: new Date(Date.now() - 10 * DAY_MS), notAfter: new Date(Date.now() - DAY_MS) },
    });
    const files = writeClientFiles('expired', expired);

    expect(() => checkBusTlsFiles(files)).toThrow(expect.objectContaining({ code: 'TLS_CERT_EXPIRED' }));
    await expect(connectBus({ servers: nats.url, tls: files, name: 'ledger' })).rejects.toBeInstanceOf(BusTlsError);
    const { error } = await timed(() =>
      dialBus({ servers: nats.url, tls: files, name: 'ledger', timeoutMs: REFUSAL_TIMEOUT_MS }),
    );
    expect(error).toBeInstanceOf(BusConnectionError);
    expect(error).toMatchObject({ code: 'BUS_HANDSHAKE_REFUSED' });
  });

  it('names the problem when the key does not belong to the certificate', () => {
    const files = { ...nats.tlsFor('ledger'), keyFile: nats.tlsFor('audit').keyFile };

    expect(() => checkBusTlsFiles(files)).toThrow(expect.objectContaining({ code: 'TLS_KEY_MISMATCH' }));
  });

  it('refuses a certificate the server verifies but whose identity has no permissions', async () => {
    await expect(
      connectBus({ servers: nats.url, tls: nats.tlsFor('intruder'), name: 'intruder' }),
    ).rejects.toMatchObject({
      code: 'BUS_IDENTITY_UNKNOWN',
    });
  });
});

describe('bus permissions', () => {
  it("reports a violation when a service publishes another service's event", async () => {
    const ledger = await connectAs('ledger');
    const violation = nextPermissionViolation(ledger);

    ledger.publish('evt.auth.v1.tokens.revoked', codec.encode('{}'));

    await expect(violation).resolves.toBe('publish evt.auth.v1.tokens.revoked');
  });

  it('lets a service publish its own events without a violation', async () => {
    const ledger = await connectAs('ledger');
    const violation = nextPermissionViolation(ledger, 500);

    ledger.publish('evt.ledger.v1.transfers.posted', codec.encode('{}'));

    await expect(violation).resolves.toBe('none');
  });

  it.each([
    ['auth.v1.>', "another service's requests"],
    ['_INBOX.>', "every identity's replies"],
    [`${busInboxPrefixOf('gateway')}.>`, "the gateway's replies"],
  ])('refuses a service subscribing to %s (%s)', async (subject) => {
    const ledger = await connectAs('ledger');
    const refused = new Promise<string>((resolve) => {
      setTimeout(() => resolve('no error'), 2_000);
      ledger.subscribe(subject, { callback: (error) => resolve(error ? error.code : 'message') });
    });

    await expect(refused).resolves.toBe('PERMISSIONS_VIOLATION');
  });

  it('refuses a backend calling a service it does not declare', async () => {
    const ledger = await connectAs('ledger');
    const violation = nextPermissionViolation(ledger);

    ledger.publish('kyc.v1.health.check', codec.encode('{}'));

    await expect(violation).resolves.toBe('publish kyc.v1.health.check');
  });

  it('carries revocation events from auth to every service through JetStream, and only the operator manages streams', async () => {
    const admin = await connectAs(OPERATOR_IDENTITY);
    const jsm = await admin.jetstreamManager();
    for (const stream of EVENT_STREAMS) await jsm.streams.add({ name: stream.name, subjects: [...stream.subjects] });
    const ledger = await connectAs('ledger');
    await expect(
      (await ledger.jetstreamManager()).streams.add({ name: 'ROGUE', subjects: ['rogue.>'] }),
    ).rejects.toMatchObject({
      code: 'PERMISSIONS_VIOLATION',
    });

    const auth = await connectAs('auth');
    const ack = await auth.jetstream().publish('evt.auth.v1.tokens.revoked', codec.encode('jti-1'));
    expect(ack.stream).toBe(eventStreamOf('auth').name);

    const ledgerJsm = await ledger.jetstreamManager();
    await ledgerJsm.consumers.add(eventStreamOf('auth').name, {
      durable_name: 'ledger-revocations',
      ack_policy: AckPolicy.Explicit,
    });
    const consumer = await ledger.jetstream().consumers.get(eventStreamOf('auth').name, 'ledger-revocations');
    const message = await consumer.next({ expires: 2_000 });
    expect(message && codec.decode(message.data)).toBe('jti-1');
    await message?.ackAck();
  });
});

describe('bus restart', () => {
  it('reconnects a service to a restarted nats-server on the same port, with its streams kept', async () => {
    const admin = await connectAs(OPERATOR_IDENTITY);
    const jsm = await admin.jetstreamManager();
    await jsm.streams.add({ name: eventStreamOf('ledger').name, subjects: [...eventStreamOf('ledger').subjects] });
    const ledger = await connectAs('ledger');
    await ledger.jetstream().publish('evt.ledger.v1.transfers.posted', codec.encode('t-1'));

    const reconnected = nextStatus(admin, 'reconnect', 10_000);
    await nats.restart();

    await expect(reconnected).resolves.toBe('reconnect');

    expect((await jsm.streams.info(eventStreamOf('ledger').name)).state.messages).toBe(1);
  });
});
