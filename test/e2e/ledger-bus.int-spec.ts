import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { RunningStack } from '@strongroom/cli';
import {
  createLedgerAccount,
  createTransfer,
  createTransfers,
  getLedgerAccount,
  getLedgerBalance,
  getTransfer,
  listLedgerEntries,
  type RequestContract,
  type RequestInputOf,
  type ResponseOf,
} from '@strongroom/contracts';
import type { BusClient } from '@strongroom/platform';
import type { NatsConnection } from 'nats';
import { clientCredentialsToken, startTestStack, type TestStack } from './test-stack';

/** The ledger on the real bus, as the gateway calls it: the demo client's token, the real service and Postgres. */
describe('ledger over the bus', () => {
  let testStack: TestStack;
  let stack: RunningStack;
  let connection: NatsConnection;
  let bus: BusClient;
  let credential: string;

  const call = <C extends RequestContract>(contract: C, input: RequestInputOf<C>): Promise<ResponseOf<C>> =>
    bus.request(contract, input, { credential });
  const openAccount = (code: string, extra: Partial<RequestInputOf<typeof createLedgerAccount>> = {}) =>
    call(createLedgerAccount, {
      tenantId: stack.demo.tenantId,
      code,
      name: code,
      currency: 'USD',
      type: 'asset',
      ...extra,
    });

  beforeAll(async () => {
    testStack = await startTestStack();
    stack = testStack.stack;
    credential = `Bearer ${await clientCredentialsToken(stack.gatewayUrl, stack.demo)}`;
    const { BusClient, busTlsFilesFor, connectBus } = await import('@strongroom/platform');
    connection = await connectBus({
      servers: stack.natsUrl,
      tls: busTlsFilesFor(join(testStack.stateDir, 'pki'), 'gateway'),
      name: 'ledger-test',
    });
    bus = new BusClient(connection, { defaultTimeoutMs: 10_000 });
  }, 120_000);

  afterAll(async () => {
    await connection?.close();
    await testStack?.dispose();
  }, 60_000);

  it('moves money between two accounts and reads the balances back', async () => {
    const tenantId = stack.demo.tenantId;
    const cash = await openAccount(`cash-${randomUUID().slice(0, 8)}`);
    const wallet = await openAccount(`wallet-${randomUUID().slice(0, 8)}`, {
      type: 'liability',
      flags: { debitsMustNotExceedCredits: true },
    });
    const transferId = randomUUID();
    const transfer = await call(createTransfer, {
      tenantId,
      transfer: {
        type: 'immediate',
        id: transferId,
        category: 'allocation',
        postings: [
          { accountId: cash.id, direction: 'debit', amount: '1050', currency: 'USD' },
          { accountId: wallet.id, direction: 'credit', amount: '1050', currency: 'USD' },
        ],
      },
    });
    expect(transfer).toMatchObject({ id: transferId, type: 'immediate', category: 'allocation' });
    const again = await call(createTransfer, {
      tenantId,
      transfer: {
        type: 'immediate',
        id: transferId,
        category: 'allocation',
        postings: [
          { accountId: cash.id, direction: 'debit', amount: '1050', currency: 'USD' },
          { accountId: wallet.id, direction: 'credit', amount: '1050', currency: 'USD' },
        ],
      },
    });
    expect(again).toEqual(transfer);
    const batch = await call(createTransfers, {
      tenantId,
      transfers: [
        {
          type: 'immediate',
          id: randomUUID(),
          postings: [
            { accountId: wallet.id, direction: 'debit', amount: '2000', currency: 'USD' },
            { accountId: cash.id, direction: 'credit', amount: '2000', currency: 'USD' },
          ],
        },
        {
          type: 'pending',
          id: randomUUID(),
          timeoutSeconds: 60,
          postings: [
            { accountId: wallet.id, direction: 'debit', amount: '50', currency: 'USD' },
            { accountId: cash.id, direction: 'credit', amount: '50', currency: 'USD' },
          ],
        },
      ],
    });
    expect(batch.results.map((result) => result.result)).toEqual(['insufficient_funds', 'ok']);
    const account = await call(getLedgerAccount, { tenantId, accountId: wallet.id });
    expect(account.balances).toEqual({
      debitsPosted: '0',
      creditsPosted: '1050',
      debitsPending: '50',
      creditsPending: '0',
    });
    const balance = await call(getLedgerBalance, { tenantId, accountId: wallet.id, asOf: transfer.createdAt });
    expect(balance.postedNet).toBe('1050');
    expect(balance.debitsPending).toBe('0');
    const entries = await call(listLedgerEntries, { tenantId, accountId: wallet.id });
    expect(entries.entries).toHaveLength(2);
    expect((await call(getTransfer, { tenantId, transferId })).id).toBe(transferId);
  });
});
