import { randomUUID } from 'node:crypto';
import type { RunningStack } from '@strongroom/cli';
import {
  createLedgerAccount,
  createTransfer,
  createTransfers,
  type Posting,
  type TransferCommandInput,
  type TransferResultCode,
} from '@strongroom/contracts';
import { PlatformError } from '@strongroom/platform';
import {
  applyPostings,
  type Balances,
  expectBalancesAnswered,
  expectConsistentBooks,
  readStoredLedger,
  zeroBalances,
} from './support/ledger-books';
import { type BusCall, type LedgerBus, ledgerBusOf } from './support/ledger-bus';
import { startTestStack, type TestStack } from './test-stack';

const CLIENTS = 48;
const OPERATIONS_PER_CLIENT = 10;
const BATCH_SIZE_MAX = 8;
/** The clients share a few bus connections, as a few gateway replicas would. */
const CONNECTIONS = 4;
/** Resolutions pick among this many latest pending transfers, so that clients collide on them. */
const RACED_PENDINGS = 8;
const LOAD_DURATION_MS_MAX = 40_000;

/** Refusals a client may get while others move the same money: anything else (INTERNAL, a deadlock, a timeout) fails the test. */
const EXPECTED_REFUSALS = new Set<TransferResultCode>([
  'insufficient_funds',
  'linked_event_failed',
  'pending_transfer_already_posted',
  'pending_transfer_already_voided',
]);

/** What the books must hold: every transfer acknowledged `ok`, applied once, and nothing else. */
class ExpectedBooks {
  readonly balances = new Map<string, Balances>();
  readonly okIds = new Set<string>();
  /** Each refused transfer's result code. */
  readonly refusals = new Map<string, TransferResultCode>();
  /** Pending transfers acknowledged `ok` (open or already resolved): any client may try to post or void one, several race for it. */
  readonly pendings: Array<{ id: string; postings: Posting[] }> = [];
  readonly resolutionsOf = new Map<string, number>();

  constructor(accountIds: readonly string[]) {
    for (const id of accountIds) this.balances.set(id, zeroBalances());
  }

  /** Applies an acknowledged transfer as the ledger must have. */
  applyOk(command: TransferCommandInput): void {
    this.okIds.add(command.id);
    if (command.type === 'immediate') applyPostings(this.balances, command.postings, 'Posted');
    if (command.type === 'pending') {
      applyPostings(this.balances, command.postings, 'Pending');
      this.pendings.push({ id: command.id, postings: command.postings });
    }
    if (command.type === 'post_pending' || command.type === 'void_pending') {
      const pending = this.pendings.find((candidate) => candidate.id === command.pendingId);
      if (pending === undefined) throw new Error(`resolved an unknown pending transfer ${command.pendingId}`);
      this.resolutionsOf.set(pending.id, (this.resolutionsOf.get(pending.id) ?? 0) + 1);
      applyPostings(this.balances, pending.postings, 'Pending', -1n);
      if (command.type === 'post_pending') applyPostings(this.balances, command.postings ?? pending.postings, 'Posted');
    }
  }
}

/** The ledger under contention: N clients on the bus moving money between the same four accounts at once. */
describe('ledger under concurrent clients', () => {
  let testStack: TestStack;
  let stack: RunningStack;
  let ledger: LedgerBus;

  beforeAll(async () => {
    testStack = await startTestStack();
    stack = testStack.stack;
    ledger = await ledgerBusOf(testStack, { name: 'ledger-concurrency', timeoutMs: 20_000, connections: CONNECTIONS });
  }, 120_000);

  afterAll(async () => {
    await ledger?.close();
    await testStack?.dispose();
  }, 60_000);

  it('keeps every balance exact: the sum of what was acknowledged, each entry checkable against the one before', async () => {
    const tenantId = stack.demo.tenantId;
    const { call } = ledger;
    const openAccount = (code: string, type: 'asset' | 'liability' | 'income', limited = false) =>
      call(createLedgerAccount, {
        tenantId,
        code: `${code}-${randomUUID().slice(0, 8)}`,
        name: code,
        currency: 'USD',
        type,
        flags: { debitsMustNotExceedCredits: limited, creditsMustNotExceedDebits: false },
      });
    const bank = (await openAccount('bank', 'asset')).id;
    // Wallets cannot go negative: concurrent spends race for the same funds and some must be refused.
    const wallets = [
      (await openAccount('wallet-a', 'liability', true)).id,
      (await openAccount('wallet-b', 'liability', true)).id,
    ];
    const fees = (await openAccount('fees', 'income')).id;
    const accountIds = [bank, ...wallets, fees];
    const books = new ExpectedBooks(accountIds);
    const unexpected: string[] = [];
    const counts = { calls: 0, transfers: 0, ok: 0 };

    const usd = (accountId: string, direction: 'debit' | 'credit', amount: number): Posting => ({
      accountId,
      direction,
      amount: String(amount),
      currency: 'USD',
    });

    async function runClient(index: number): Promise<void> {
      const call = ledger.callers[index % CONNECTIONS] as BusCall;
      const pick = <T>(items: readonly T[]) => items[Math.floor(Math.random() * items.length)] as T;
      const amount = (max: number) => 1 + Math.floor(Math.random() * max);
      const shuffled = (postings: Posting[]) => (Math.random() < 0.5 ? postings : postings.reverse());

      function newPostings(): Posting[] {
        const [from, to] = Math.random() < 0.5 ? wallets : [...wallets].reverse();
        const shape = Math.random();
        if (shape < 0.3) {
          const funds = amount(4_000);
          return shuffled([usd(bank, 'debit', funds), usd(pick(wallets), 'credit', funds)]);
        }
        const paid = amount(3_000);
        if (shape < 0.7) return shuffled([usd(from as string, 'debit', paid), usd(to as string, 'credit', paid)]);
        const fee = amount(100);
        return shuffled([
          usd(from as string, 'debit', paid + fee),
          usd(to as string, 'credit', paid),
          usd(fees, 'credit', fee),
        ]);
      }

      function newCommand(): TransferCommandInput {
        const id = randomUUID();
        const kind = Math.random();
        if (kind < 0.45) return { type: 'immediate', id, postings: newPostings() };
        if (kind < 0.7) return { type: 'pending', id, postings: newPostings() };
        // The latest pending transfers: several clients race to post or void the same one.
        const pending = books.pendings.length > 0 ? pick(books.pendings.slice(-RACED_PENDINGS)) : undefined;
        if (pending === undefined) return { type: 'immediate', id, postings: newPostings() };
        if (kind < 0.82) return { type: 'void_pending', id, pendingId: pending.id };
        if (kind < 0.92 || pending.postings.length > 2) return { type: 'post_pending', id, pendingId: pending.id };
        const part = BigInt(amount(Number(pending.postings[0]?.amount)));
        const partial = pending.postings.map((posting) => ({ ...posting, amount: String(part) }));
        return { type: 'post_pending', id, pendingId: pending.id, postings: partial };
      }

      function record(command: TransferCommandInput, result: TransferResultCode): void {
        counts.transfers += 1;
        if (result === 'ok') {
          counts.ok += 1;
          books.applyOk(command);
        } else if (EXPECTED_REFUSALS.has(result)) {
          books.refusals.set(command.id, result);
        } else unexpected.push(`${command.type} ${command.id}: ${result}`);
      }

      for (let operation = 0; operation < OPERATIONS_PER_CLIENT; operation += 1) {
        counts.calls += 1;
        if (Math.random() < 0.5) {
          const command = newCommand();
          try {
            await call(createTransfer, { tenantId, transfer: command });
            record(command, 'ok');
          } catch (error) {
            const reason = error instanceof PlatformError ? String(error.details?.reason ?? '').toLowerCase() : '';
            if (
              error instanceof PlatformError &&
              error.code === 'CONFLICT' &&
              EXPECTED_REFUSALS.has(reason as TransferResultCode)
            )
              record(command, reason as TransferResultCode);
            else unexpected.push(`createTransfer ${command.type}: ${describeError(error)}`);
          }
          continue;
        }
        const batch = Array.from({ length: 2 + Math.floor(Math.random() * (BATCH_SIZE_MAX - 1)) }, newCommand);
        // Some neighbours are linked: the chain succeeds or fails as a whole.
        for (const command of batch.slice(0, -1)) command.linked = Math.random() < 0.2;
        try {
          const { results } = await call(createTransfers, { tenantId, transfers: batch });
          for (const [position, command] of batch.entries())
            record(command, results[position]?.result as TransferResultCode);
        } catch (error) {
          unexpected.push(`createTransfers: ${describeError(error)}`);
        }
      }
    }

    const startedAtMs = Date.now();
    await Promise.all(Array.from({ length: CLIENTS }, (_, index) => runClient(index)));
    const loadMs = Date.now() - startedAtMs;

    expect(unexpected).toEqual([]);
    expect(loadMs).toBeLessThan(LOAD_DURATION_MS_MAX);
    // The mix exercised both sides: money moved, and contention refused some of it.
    expect(counts.ok).toBeGreaterThan(counts.transfers / 4);
    const refusedWith = (code: TransferResultCode) => [...books.refusals.values()].filter((c) => c === code).length;
    expect(refusedWith('insufficient_funds')).toBeGreaterThan(0);
    for (const [pendingId, resolutions] of books.resolutionsOf)
      expect([pendingId, resolutions]).toEqual([pendingId, 1]);

    // The ledger's own answer: exactly the acknowledged sum.
    await expectBalancesAnswered(call, tenantId, books.balances);

    const stored = await readStoredLedger(await testStack.adminUrlOf('ledger'), tenantId, accountIds);
    // Every acknowledged transfer is stored, and nothing refused is (the refused ones listed with their answer).
    expect([...books.okIds].filter((id) => !stored.transfers.has(id))).toEqual([]);
    expect(
      [...stored.transfers.keys()]
        .filter((id) => !books.okIds.has(id))
        .map((id) => `${id}: ${books.refusals.get(id) ?? 'never sent'}`),
    ).toEqual([]);
    // No lost update, no half-applied transfer: the stored books replay to exactly the acknowledged sum.
    expectConsistentBooks(stored, books.balances);
    // Double entry, as stored: every debit has its credit, posted and pending.
    const total = (field: keyof Balances) =>
      [...stored.accounts.values()].reduce((sum, account) => sum + account.balances[field], 0n);
    expect(total('debitsPosted')).toBe(total('creditsPosted'));
    expect(total('debitsPending')).toBe(total('creditsPending'));

    console.log(
      `ledger concurrency: ${CLIENTS} clients, ${counts.calls} calls, ${counts.transfers} transfers ` +
        `(${counts.ok} ok; refused: ${[...EXPECTED_REFUSALS].map((code) => `${refusedWith(code)} ${code}`).join(', ')}), ` +
        `${books.resolutionsOf.size} pending transfers resolved, ` +
        `${stored.entryCount} entries, in ${loadMs} ms`,
    );
  }, 90_000);
});

function describeError(error: unknown): string {
  return error instanceof PlatformError ? `${error.code} ${error.message}` : String(error);
}
