import { randomUUID } from 'node:crypto';
import { OPERATOR_IDENTITY, type TokenRevocation, tokensRevoked } from '@strongroom/contracts';
import { startTestNats, type TestNats } from '@strongroom/testing';
import type { NatsConnection } from 'nats';
import { createLogger, ensureEventStreams, type Principal, RevocationFeed, RevocationList } from '../src';

const logger = createLogger({ service: 'ledger', level: 'silent' });
const tenantId = randomUUID();

function principal(tokenId: string): Principal {
  return {
    subject: `user-${tokenId}`,
    tenantId,
    environment: 'sandbox',
    clientId: undefined,
    tokenId,
    issuedAt: new Date(),
    expiresAt: new Date(Date.now() + 900_000),
    permissions: new Set(),
  };
}

function revocationOf(tokenId: string): TokenRevocation {
  const now = new Date();
  return {
    scope: 'token',
    tokenId,
    revokedAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + 900_000).toISOString(),
  };
}

describe('revocations reach every service through JetStream', () => {
  let nats: TestNats;
  let auth: NatsConnection;
  let ledger: NatsConnection;
  const feeds: RevocationFeed[] = [];

  beforeAll(async () => {
    nats = await startTestNats();
    const admin = await nats.connectAs(OPERATOR_IDENTITY);
    await ensureEventStreams(admin);
    await admin.close();
    auth = await nats.connectAs('auth');
    ledger = await nats.connectAs('ledger');
  });

  afterAll(async () => {
    for (const feed of feeds) await feed.stop();
    await ledger?.close();
    await auth?.close();
    await nats?.stop();
  });

  async function revoke(tokenId: string): Promise<void> {
    const event = revocationOf(tokenId);
    await auth
      .jetstream()
      .publish(tokensRevoked.subject, new TextEncoder().encode(JSON.stringify(event)), { msgID: randomUUID() });
  }

  async function startFeed(): Promise<RevocationList> {
    const revocations = new RevocationList();
    const feed = new RevocationFeed({ connection: ledger, identity: 'ledger', revocations, logger });
    feeds.push(feed);
    await feed.start();
    return revocations;
  }

  it('rebuilds the denylist from the stream before serving (a restarted service forgets nothing)', async () => {
    const earlier = [randomUUID(), randomUUID(), randomUUID()];
    for (const tokenId of earlier) await revoke(tokenId);
    const revocations = await startFeed();
    for (const tokenId of earlier) expect(revocations.isRevoked(principal(tokenId))).toBe(true);
    expect(revocations.isRevoked(principal(randomUUID()))).toBe(false);
  });

  it('applies a new revocation within a second, in every running service', async () => {
    const [first, second] = [await startFeed(), await startFeed()];
    const tokenId = randomUUID();
    const revokedAt = Date.now();
    await revoke(tokenId);
    while (!(first.isRevoked(principal(tokenId)) && second.isRevoked(principal(tokenId)))) {
      expect(Date.now() - revokedAt).toBeLessThan(1_000);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  });

  it('may not be forged: a service other than auth cannot publish revocations', async () => {
    const forged = ledger
      .jetstream()
      .publish(tokensRevoked.subject, new TextEncoder().encode(JSON.stringify(revocationOf('x'))), { timeout: 1_000 });
    await expect(forged).rejects.toThrow();
  });
});
