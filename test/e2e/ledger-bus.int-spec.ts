import { randomUUID } from 'node:crypto';
import type { RunningStack } from '@strongroom/cli';
import {
  createLedgerAccount,
  createTransfer,
  createTransfers,
  getLedgerAccount,
  getLedgerBalance,
  getTransfer,
  listLedgerEntries,
  type RequestInputOf,
  type TransferCommandInput,
} from '@strongroom/contracts';
import { moving } from './support/ledger-api';
import { type BusCall, type LedgerBus, ledgerBusOf } from './support/ledger-bus';
import { startTestStack, type TestStack } from './test-stack';

/** The ledger on the real bus, as the gateway calls it: the demo client's token, the real service and Postgres. */
describe('ledger over the bus', () => {
  let testStack: TestStack;
  let stack: RunningStack;
  let ledger: LedgerBus;

  const call: BusCall = (contract, input) => ledger.call(contract, input);
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
    ledger = await ledgerBusOf(testStack, { name: 'ledger-test', timeoutMs: 10_000 });
  }, 120_000);

  afterAll(async () => {
    await ledger?.close();
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
    const allocation: TransferCommandInput = {
      type: 'immediate',
      id: transferId,
      category: 'allocation',
      postings: moving(cash, wallet, '1050'),
    };
    const transfer = await call(createTransfer, { tenantId, transfer: allocation });
    expect(transfer).toMatchObject({ id: transferId, type: 'immediate', category: 'allocation' });
    // The same command again (a retry): the transfer already made, not a second one.
    const again = await call(createTransfer, { tenantId, transfer: allocation });
    expect(again).toEqual(transfer);
    const batch = await call(createTransfers, {
      tenantId,
      transfers: [
        { type: 'immediate', id: randomUUID(), postings: moving(wallet, cash, '2000') },
        { type: 'pending', id: randomUUID(), timeoutSeconds: 60, postings: moving(wallet, cash, '50') },
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
