import 'reflect-metadata';
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Controller, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { defineEvent, defineRequest, OPERATOR_IDENTITY } from '@strongroom/contracts';
import {
  BusClient,
  BusServer,
  createLogger,
  createServiceDataSource,
  DATA_KEYS_TABLE_SQL,
  EnvelopeEncryption,
  enqueueEvent,
  ensureEventStreams,
  Handles,
  LocalSecretsProvider,
  Outbox1763856000000,
  OutboxRelay,
  PgDataKeyRepository,
  withoutTenant,
} from '@strongroom/platform';
import { createTestDatabase, startTestNats } from '@strongroom/testing';
import { Pool } from 'pg';
import { z } from 'zod';
import { benchJwtVerification, benchRevocationPropagation } from './credentials.bench';
import { type Figure, figure, throughputPerSecond } from './measure';

const echo = defineRequest({
  subject: 'ledger.v1.bench.echo',
  request: z.object({ accountId: z.uuid(), amountMinor: z.number().int() }).strict(),
  response: z.object({ accountId: z.uuid(), amountMinor: z.number().int() }),
  permission: 'platform.health.read',
  // Public: this figure is the bus path alone; token verification has its own figures (credentials.bench).
  authentication: 'none',
  summary: 'Benchmark echo',
});
const benchEvent = defineEvent({
  subject: 'evt.ledger.v1.bench.recorded',
  payload: z.object({ n: z.number().int() }),
  summary: 'Benchmark event',
});

@Controller()
class EchoHandler {
  @Handles(echo)
  async echo(input: { accountId: string; amountMinor: number }) {
    return input;
  }
}
@Module({ controllers: [EchoHandler] })
class EchoModule {}

const REQUESTS = 20_000;
const CONCURRENCY = 64;
const EVENTS = 10_000;
const EVENTS_PER_TRANSACTION = 100;
const ENCRYPTIONS = 20_000;

/** Expects the test Postgres (`testAdminUrl()`) bench/run.ts acquired. */
export async function runPlatformBenchmarks(log: (line: string) => void): Promise<Figure[]> {
  const nats = await startTestNats();
  try {
    return [
      await benchBus(nats, log),
      await benchOutbox(nats, log),
      await benchEnvelope(log),
      ...(await benchJwtVerification(log)),
      await benchRevocationPropagation(nats, log),
    ];
  } finally {
    await nats.stop();
  }
}

/** Typed request/reply (Nest handler, zod both ways, tracing) against raw NATS request/reply. */
async function benchBus(nats: Awaited<ReturnType<typeof startTestNats>>, log: (line: string) => void) {
  const payload = { accountId: randomUUID(), amountMinor: 12_345 };
  const responder = await nats.connectAs('ledger');
  responder.subscribe('ledger.v1.bench.raw', { queue: 'ledger', callback: (_e, m) => m.respond(m.data) });
  const app = await NestFactory.createMicroservice(EchoModule, {
    strategy: new BusServer(() => nats.connectAs('ledger'), { queue: 'ledger' }),
    logger: false,
  });
  await app.listen();
  const caller = await nats.connectAs('gateway');
  const encoded = new TextEncoder().encode(JSON.stringify(payload));
  const raw = await throughputPerSecond(REQUESTS, CONCURRENCY, () =>
    caller.request('ledger.v1.bench.raw', encoded, { timeout: 5_000 }),
  );
  const bus = new BusClient(caller, { defaultTimeoutMs: 5_000 });
  const typed = await throughputPerSecond(REQUESTS, CONCURRENCY, () => bus.request(echo, payload));
  log(`bus: ${REQUESTS} requests, ${CONCURRENCY} in flight`);
  await app.close();
  await caller.close();
  await responder.close();
  return figure('bus.typed_request_reply', typed, 'req/s', 'raw NATS request/reply', raw);
}

/** Outbox → relay → JetStream (committed in transactions of 100) against publishing straight to JetStream. */
async function benchOutbox(nats: Awaited<ReturnType<typeof startTestNats>>, log: (line: string) => void) {
  const admin = await nats.connectAs(OPERATOR_IDENTITY);
  await ensureEventStreams(admin);
  const publisher = await nats.connectAs('ledger');
  const js = publisher.jetstream();
  const payload = new TextEncoder().encode(JSON.stringify({ n: 1 }));
  const direct = await throughputPerSecond(EVENTS, 256, () =>
    js.publish('evt.ledger.v1.bench.recorded', payload, { msgID: randomUUID() }),
  );

  const database = await createTestDatabase('bench_outbox', [Outbox1763856000000]);
  const dataSource = createServiceDataSource({ url: database.runtimeUrl, applicationName: 'bench', poolSize: 8 });
  await dataSource.initialize();
  const relay = new OutboxRelay({
    dataSource,
    connection: publisher,
    logger: createLogger({ service: 'ledger', level: 'silent' }),
    batchSize: 512,
  });
  const startedAt = performance.now();
  relay.start();
  await throughputPerSecond(EVENTS / EVENTS_PER_TRANSACTION, 8, () =>
    withoutTenant(dataSource, async (manager) => {
      for (let i = 0; i < EVENTS_PER_TRANSACTION; i += 1) await enqueueEvent(manager, benchEvent, { n: i });
    }),
  );
  for (;;) {
    const [{ pending }] = await dataSource.query(
      'SELECT count(*)::int AS pending FROM outbox WHERE published_at IS NULL',
    );
    if (pending === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const throughOutbox = EVENTS / ((performance.now() - startedAt) / 1000);
  log(`outbox: ${EVENTS} events committed in transactions of ${EVENTS_PER_TRANSACTION}`);
  await relay.stop();
  await dataSource.destroy();
  await database.drop();
  await publisher.close();
  await admin.close();
  return figure('outbox.events_published', throughOutbox, 'events/s', 'direct JetStream publish', direct);
}

/** Envelope encryption (per-tenant data key from Postgres, KEK-wrapped) against bare AES-256-GCM. */
async function benchEnvelope(log: (line: string) => void) {
  const plaintext = randomBytes(1_024);
  const key = randomBytes(32);
  const bare = await throughputPerSecond(ENCRYPTIONS, 1, async () => {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    const sealed = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    const decipher = createDecipheriv('aes-256-gcm', key, iv);
    decipher.setAuthTag(cipher.getAuthTag());
    return Buffer.concat([decipher.update(sealed), decipher.final()]);
  });

  const database = await createTestDatabase('bench_keys');
  const pool = new Pool({ connectionString: database.ownerUrl, max: 2 });
  await pool.query(DATA_KEYS_TABLE_SQL);
  const secretsDir = mkdtempSync(join(tmpdir(), 'strongroom-bench-secrets-'));
  const envelope = new EnvelopeEncryption({
    transit: new LocalSecretsProvider({
      stateDir: secretsDir,
      logger: createLogger({ service: 'bench', level: 'silent' }),
      nodeEnv: 'test',
    }),
    repository: new PgDataKeyRepository(pool),
  });
  const context = { tenantId: randomUUID(), purpose: 'bench.document' };
  const envelopeRate = await throughputPerSecond(ENCRYPTIONS, 1, async () =>
    envelope.decrypt(context, await envelope.encrypt(context, plaintext)),
  );
  log(`envelope: ${ENCRYPTIONS} encrypt+decrypt round trips of 1 KiB`);
  await pool.end();
  await database.drop();
  rmSync(secretsDir, { recursive: true, force: true });
  return figure('crypto.envelope_round_trip', envelopeRate, 'ops/s', 'bare AES-256-GCM', bare);
}
