import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLedgerAccount, createTransfer, createTransfers } from '@strongroom/contracts';
import { BusClient, busTlsFilesFor, connectBus } from '@strongroom/platform';
import type { NatsConnection } from 'nats';
import { Client } from 'pg';
import { clientCredentialsToken, type TestStack } from '../test/e2e/test-stack';
import type { BenchTransfer } from './ledger-transfers';

/** Access tokens live 15 minutes; a fresh one well before that keeps a long run (1M transfers) authenticated. */
const TOKEN_REFRESH_MS = 5 * 60_000;
const CALL_TIMEOUT_MS = 30_000;
const RELAY_POLL_MS = 250;

export interface ServiceMemory {
  rssMb: number;
  /** VmHWM: the highest RSS the process has had. */
  peakRssMb: number;
}

/**
 * The ledger as the gateway calls it: on the real bus (the gateway's mTLS identity), with the demo
 * client's access token, against the running service and its Postgres. Inputs go out unparsed
 * (`forward`, as the gateway forwards a body): the service validates every message, and the
 * bench process, sharing 2 cores with it, does not validate them a second time.
 */
export class LedgerBusClient {
  /** Shared by every caller in flight, so a refresh is one token request, not one per caller. */
  private token: { credential: Promise<string>; fetchedAtMs: number } | undefined;
  /** A superuser session on the ledger's database, to look at what it wrote (the runtime role's RLS aside). */
  private admin: Promise<Client> | undefined;

  private constructor(
    private readonly testStack: TestStack,
    private readonly connection: NatsConnection,
    private readonly bus: BusClient,
  ) {}

  static async connect(testStack: TestStack): Promise<LedgerBusClient> {
    const connection = await connectBus({
      servers: testStack.stack.natsUrl,
      tls: busTlsFilesFor(join(testStack.stateDir, 'pki'), 'gateway'),
      name: 'bench-ledger',
    });
    return new LedgerBusClient(testStack, connection, new BusClient(connection, { defaultTimeoutMs: CALL_TIMEOUT_MS }));
  }

  get tenantId(): string {
    return this.testStack.stack.demo.tenantId;
  }

  /** Opens `count` USD asset accounts without balance limits, `concurrency` calls in flight; returns their ids. */
  async openAccounts(count: number, codePrefix: string, concurrency: number): Promise<string[]> {
    const ids = Array.from({ length: count }, () => randomUUID());
    let next = 0;
    const worker = async () => {
      while (next < count) {
        const index = next;
        next += 1;
        const account = await this.bus.forward(
          createLedgerAccount,
          {
            tenantId: this.tenantId,
            id: ids[index],
            code: `${codePrefix}${index}`,
            name: `${codePrefix}${index}`,
            currency: 'USD',
            type: 'asset',
          },
          { credential: await this.credential() },
        );
        if (account.id !== ids[index]) throw new Error(`account ${ids[index]} was opened as ${account.id}`);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return ids;
  }

  /** One createTransfers call; throws unless every transfer of it comes back `ok`. */
  async applyBatch(transfers: readonly BenchTransfer[]): Promise<void> {
    const { results } = await this.bus.forward(
      createTransfers,
      { tenantId: this.tenantId, transfers: transfers.map(commandOf) },
      { credential: await this.credential() },
    );
    if (results.length !== transfers.length)
      throw new Error(`createTransfers answered ${results.length} results for ${transfers.length} transfers`);
    const refused = results.find((result) => result.result !== 'ok');
    if (refused !== undefined) throw new Error(`transfer ${refused.id} came back ${refused.result}, not ok`);
  }

  /** One createTransfer call; a refusal is an error the bus client throws, an answer for another id is thrown here. */
  async applyOne(transfer: BenchTransfer): Promise<void> {
    const applied = await this.bus.forward(
      createTransfer,
      { tenantId: this.tenantId, transfer: commandOf(transfer) },
      { credential: await this.credential() },
    );
    if (applied.id !== transfer.id) throw new Error(`createTransfer ${transfer.id} answered transfer ${applied.id}`);
  }

  /** The ledger process's resident memory, from /proc (Linux). */
  serviceMemory(): ServiceMemory {
    const pid = this.testStack.stack.pidOf('ledger');
    if (pid === undefined) throw new Error('the stack has no ledger process');
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kilobytes = (field: string) => {
      const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
      if (match === null) throw new Error(`/proc/${pid}/status has no ${field}`);
      return Number(match[1]);
    };
    return { rssMb: kilobytes('VmRSS') / 1024, peakRssMb: kilobytes('VmHWM') / 1024 };
  }

  /** Events written by the ledger that its outbox relay has not yet published to JetStream. */
  async unpublishedEvents(): Promise<number> {
    const { rows } = await (await this.adminSession()).query<{ count: string }>(
      'SELECT count(*) FROM outbox WHERE published_at IS NULL',
    );
    return Number(rows[0]?.count ?? 0);
  }

  /**
   * Transfers the ledger wrote from `since` on, and in how many transactions: a batch's transfers
   * share one `created_at` (its transaction's clock), so this is how well group commit groups.
   */
  async transfersWrittenSince(since: Date): Promise<{ transfers: number; transactions: number }> {
    const { rows } = await (await this.adminSession()).query<{ transfers: string; transactions: string }>(
      'SELECT count(*) AS transfers, count(DISTINCT created_at) AS transactions FROM ledger_transfers WHERE created_at >= $1',
      [since],
    );
    return { transfers: Number(rows[0]?.transfers ?? 0), transactions: Number(rows[0]?.transactions ?? 0) };
  }

  /** Waits (at most `waitMsMax`) for the relay to publish what the ledger wrote; resolves to the events left. */
  async relayDrained(waitMsMax: number): Promise<number> {
    const deadline = Date.now() + waitMsMax;
    for (;;) {
      const left = await this.unpublishedEvents();
      if (left === 0 || Date.now() >= deadline) return left;
      await new Promise((resolve) => setTimeout(resolve, RELAY_POLL_MS));
    }
  }

  async close(): Promise<void> {
    await this.connection.close();
    await (await this.admin)?.end();
  }

  private adminSession(): Promise<Client> {
    this.admin ??= this.testStack.adminUrlOf('ledger').then(async (url) => {
      const admin = new Client({ connectionString: url, application_name: 'bench-ledger-observer' });
      await admin.connect();
      return admin;
    });
    return this.admin;
  }

  private credential(): Promise<string> {
    if (this.token === undefined || Date.now() - this.token.fetchedAtMs > TOKEN_REFRESH_MS) {
      const { gatewayUrl, demo } = this.testStack.stack;
      this.token = {
        credential: clientCredentialsToken(gatewayUrl, demo).then((accessToken) => `Bearer ${accessToken}`),
        fetchedAtMs: Date.now(),
      };
    }
    return this.token.credential;
  }
}

function commandOf(transfer: BenchTransfer) {
  const amount = transfer.amountMinor.toString();
  return {
    type: 'immediate' as const,
    id: transfer.id,
    postings: [
      { accountId: transfer.debitAccountId, direction: 'debit' as const, amount, currency: 'USD' },
      { accountId: transfer.creditAccountId, direction: 'credit' as const, amount, currency: 'USD' },
    ],
  };
}
