import { randomUUID } from 'node:crypto';
import type { RunningStack } from '@strongroom/cli';
import {
  createLedgerAccount,
  createTransfer,
  createTransfers,
  type Posting,
  type Transfer,
  type TransferCommandInput,
  type TransferResult,
} from '@strongroom/contracts';
import { PlatformError } from '@strongroom/platform';
import { Client } from 'pg';
import {
  applyPostings,
  type Balances,
  expectBalancesAnswered,
  expectConsistentBooks,
  readStoredLedger,
  type StoredTransfer,
  zeroBalances,
} from './support/ledger-books';
import { type BusCall, type LedgerBus, ledgerBusOf } from './support/ledger-bus';
import { startTestStack, type TestStack } from './test-stack';

const WORKERS = 16;
const BATCH_SIZE_MAX = 10;
/** Acknowledged transfers before the kill, and after the restart, before the load stops. */
const ACKED_BEFORE_KILL = 300;
const ACKED_AFTER_RESTART = 150;
/** A call the killed process never answers times out; the dead ledger has no responders. */
const CALL_TIMEOUT_MS = 3_000;
const LOAD_DURATION_MS_MAX = 45_000;
const RETRY_PAUSE_MS = 50;

/** One call a client made: a single transfer or a batch, the ledger's answer if it got one. */
interface Call {
  commands: TransferCommandInput[];
  single: boolean;
  /** The transfer (single) or the results (batch) the client was acknowledged with. */
  acknowledged?: Transfer | TransferResult[];
}

const idsOf = (calls: readonly Call[]) => calls.flatMap((sent) => sent.commands.map((command) => command.id));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * SIGKILL of the ledger in the middle of a load of transfers with client-chosen ids: what was
 * acknowledged survives exactly once, nothing is half-applied, and retrying every transfer after
 * the restart applies each one exactly once.
 */
describe('ledger killed mid-load', () => {
  let testStack: TestStack;
  let stack: RunningStack;
  let ledger: LedgerBus;
  /** Set by the last test, which stops the stack itself. */
  let stopped = false;

  const call: BusCall = (contract, input) => ledger.call(contract, input);

  beforeAll(async () => {
    testStack = await startTestStack();
    stack = testStack.stack;
    ledger = await ledgerBusOf(testStack, { name: 'ledger-crash-test', timeoutMs: CALL_TIMEOUT_MS });
  }, 120_000);

  afterAll(async () => {
    await ledger?.close();
    await testStack?.dispose({ stopped });
  }, 60_000);

  /**
   * WORKERS clients send transfers (single and batches, some linked) until ACKED_BEFORE_KILL are
   * acknowledged, the ledger is SIGKILLed and restarted, and ACKED_AFTER_RESTART more are acknowledged.
   */
  async function runLoadAcrossKill() {
    const tenantId = stack.demo.tenantId;
    const sentCalls: Call[] = [];
    const unexpected: string[] = [];
    let ackedTransfers = 0;
    let inFlight = 0;
    let stopLoad = false;

    const newCommand = (): TransferCommandInput => {
      const fromIndex = Math.floor(Math.random() * accountIds.length);
      const toIndex = (fromIndex + 1 + Math.floor(Math.random() * (accountIds.length - 1))) % accountIds.length;
      const amount = String(1 + Math.floor(Math.random() * 10_000));
      const postings: Posting[] = [
        { accountId: accountIds[fromIndex] as string, direction: 'debit', amount, currency: 'USD' },
        { accountId: accountIds[toIndex] as string, direction: 'credit', amount, currency: 'USD' },
      ];
      return { type: Math.random() < 0.75 ? 'immediate' : 'pending', id: randomUUID(), postings };
    };

    async function send(sent: Call): Promise<void> {
      inFlight += 1;
      try {
        if (sent.single) {
          sent.acknowledged = await call(createTransfer, {
            tenantId,
            transfer: sent.commands[0] as TransferCommandInput,
          });
        } else {
          sent.acknowledged = (await call(createTransfers, { tenantId, transfers: sent.commands })).results;
          const refused = sent.acknowledged.filter((result) => result.result !== 'ok');
          if (refused.length > 0) unexpected.push(`batch refused: ${JSON.stringify(refused)}`);
        }
        ackedTransfers += sent.commands.length;
      } catch (error) {
        // While the ledger is down: a lost reply (TIMEOUT) or nobody serving (UNAVAILABLE). Anything else is a bug.
        if (!(error instanceof PlatformError) || (error.code !== 'TIMEOUT' && error.code !== 'UNAVAILABLE'))
          unexpected.push(`during the load: ${String(error)}`);
        await sleep(RETRY_PAUSE_MS);
      } finally {
        inFlight -= 1;
      }
    }

    async function runWorker(): Promise<void> {
      while (!stopLoad) {
        const single = Math.random() < 0.4;
        const size = single ? 1 : 2 + Math.floor(Math.random() * (BATCH_SIZE_MAX - 1));
        const commands = Array.from({ length: size }, newCommand);
        // Some neighbours are linked (a chain is applied whole): a kill must not split a chain either.
        for (const command of commands.slice(0, -1)) command.linked = Math.random() < 0.3;
        const sent: Call = { commands, single };
        sentCalls.push(sent);
        await send(sent);
      }
    }

    const deadline = Date.now() + LOAD_DURATION_MS_MAX;
    const waitUntil = async (condition: () => boolean, what: string) => {
      while (!condition()) {
        if (Date.now() > deadline) throw new Error(`the load did not reach ${what} within ${LOAD_DURATION_MS_MAX} ms`);
        await sleep(20);
      }
    };
    const startedAtMs = Date.now();
    const workers = Array.from({ length: WORKERS }, runWorker);
    let restartMs = 0;
    let inFlightAtKill = 0;
    try {
      await waitUntil(() => ackedTransfers >= ACKED_BEFORE_KILL, `${ACKED_BEFORE_KILL} acknowledged transfers`);
      const killedPid = stack.pidOf('ledger');
      inFlightAtKill = inFlight;
      const killedAtMs = Date.now();
      await stack.restart('ledger', { killWith: 'SIGKILL' });
      restartMs = Date.now() - killedAtMs;
      expect(stack.pidOf('ledger')).not.toBe(killedPid);
      const ackedAtRestart = ackedTransfers;
      await waitUntil(
        () => ackedTransfers >= ackedAtRestart + ACKED_AFTER_RESTART,
        `${ACKED_AFTER_RESTART} acknowledged transfers after the restart`,
      );
    } finally {
      stopLoad = true;
      await Promise.all(workers);
    }
    // A call its client gave up on (TIMEOUT) may still be running in the ledger: let it finish
    // before the books are read, so "unacknowledged" is settled either way.
    await waitForIdleLedger(await testStack.adminUrlOf('ledger'));
    return { calls: sentCalls, unexpected, inFlightAtKill, restartMs, loadMs: Date.now() - startedAtMs };
  }

  /** What the load sent, with the ledger's answers, and what was stored right after the restart. */
  let accountIds: string[];
  let calls: Call[];
  let storedAfterCrash: ReadonlyMap<string, StoredTransfer>;

  it('keeps every acknowledged transfer after a SIGKILL mid-load, and none half-applied', async () => {
    // No balance limits: every transfer is applicable, so after the retries every one of them must be applied.
    accountIds = [];
    for (const [code, type] of [
      ['bank', 'asset'],
      ['wallet-a', 'liability'],
      ['wallet-b', 'liability'],
      ['fees', 'income'],
    ] as const) {
      const account = await call(createLedgerAccount, {
        tenantId: stack.demo.tenantId,
        code: `${code}-${randomUUID().slice(0, 8)}`,
        name: code,
        currency: 'USD',
        type,
      });
      accountIds.push(account.id);
    }
    const load = await runLoadAcrossKill();
    calls = load.calls;
    expect(load.unexpected).toEqual([]);
    expect(load.inFlightAtKill).toBeGreaterThan(0);
    // A deliberate kill is not a failure of the stack.
    await expect(Promise.race([stack.failed, sleep(0).then(() => 'no child failed')])).resolves.toBe('no child failed');

    const afterCrash = await readStoredLedger(await testStack.adminUrlOf('ledger'), stack.demo.tenantId, accountIds);
    storedAfterCrash = afterCrash.transfers;
    const acknowledged = calls.filter((sent) => sent.acknowledged !== undefined);
    const unacknowledged = calls.filter((sent) => sent.acknowledged === undefined);
    const sentIds = new Set(idsOf(calls));
    expect(idsOf(acknowledged).filter((id) => !storedAfterCrash.has(id))).toEqual([]);
    expect([...storedAfterCrash.keys()].filter((id) => !sentIds.has(id))).toEqual([]);
    // A call in flight at the kill is applied whole or not at all: a batch (a linked chain too) is never split.
    const splitCalls = unacknowledged.filter(
      (sent) => new Set(idsOf([sent]).map((id) => storedAfterCrash.has(id))).size > 1,
    );
    expect(splitCalls.map((sent) => idsOf([sent]))).toEqual([]);
    expectConsistentBooks(afterCrash, expectedBalances(calls, storedAfterCrash, accountIds));

    console.log(
      `ledger crash: ${calls.length} calls, ${sentIds.size} transfers in ${load.loadMs} ms; SIGKILL with ${load.inFlightAtKill} calls in flight, ` +
        `ledger answering again ${load.restartMs} ms later; ${unacknowledged.length} calls (${idsOf(unacknowledged).length} transfers) ` +
        `unacknowledged, ${idsOf(unacknowledged).filter((id) => storedAfterCrash.has(id)).length} of those transfers applied before the kill`,
    );
  }, 90_000);

  it('answers every retry with the original transfer or `exists`, so each transfer is applied exactly once', async () => {
    const tenantId = stack.demo.tenantId;
    const unexpected: string[] = [];
    const retryQueue = [...calls];
    const retryWorker = async () => {
      for (let sent = retryQueue.pop(); sent !== undefined; sent = retryQueue.pop()) {
        try {
          await expectRetryAnswered(sent);
        } catch (error) {
          unexpected.push(
            `retry of ${idsOf([sent]).join(',')}: ${error instanceof Error ? error.message : String(error)}`,
          );
        }
      }
    };
    const startedAtMs = Date.now();
    await Promise.all(Array.from({ length: WORKERS }, retryWorker));
    const retryMs = Date.now() - startedAtMs;
    expect(unexpected).toEqual([]);

    const afterRetries = await readStoredLedger(await testStack.adminUrlOf('ledger'), tenantId, accountIds);
    expect(new Set(afterRetries.transfers.keys())).toEqual(new Set(idsOf(calls)));
    // The balances hold every transfer once: acknowledged ones were not applied again by their retry.
    const expected = expectedBalances(calls, afterRetries.transfers, accountIds);
    expectConsistentBooks(afterRetries, expected);
    await expectBalancesAnswered(call, tenantId, expected);
    console.log(`ledger crash: ${calls.length} calls (${idsOf(calls).length} transfers) retried in ${retryMs} ms`);

    /** The original transfer for an acknowledged single one; `ok` or `exists` as stored before the retry for the others. */
    async function expectRetryAnswered(sent: Call): Promise<void> {
      if (sent.single) {
        const command = sent.commands[0] as TransferCommandInput;
        const transfer = await call(createTransfer, { tenantId, transfer: command });
        const acknowledged = sent.acknowledged as Transfer | undefined;
        const original = acknowledged ?? storedAfterCrash.get(command.id);
        // Stored before the retry: the retry answers that transfer, not a second one.
        if (original !== undefined) expect(transfer.createdAt).toBe(original.createdAt);
        if (acknowledged !== undefined) expect(transfer).toEqual(acknowledged);
        return;
      }
      const { results } = await call(createTransfers, { tenantId, transfers: sent.commands });
      expect(results).toEqual(
        sent.commands.map((command) => ({
          id: command.id,
          result: storedAfterCrash.has(command.id) ? 'exists' : 'ok',
        })),
      );
    }
  }, 60_000);

  it('stops the restarted ledger as cleanly as every other process', async () => {
    stopped = true;
    const outcomes = await stack.stop();
    expect(Object.entries(outcomes).filter(([, outcome]) => outcome !== 0)).toEqual([]);
  }, 30_000);
});

/** The balances the stored transfers must add up to (immediate: posted; pending: reserved). */
function expectedBalances(
  calls: readonly Call[],
  stored: ReadonlyMap<string, StoredTransfer>,
  accountIds: readonly string[],
): Map<string, Balances> {
  const balances = new Map(accountIds.map((id) => [id, zeroBalances()]));
  for (const command of calls.flatMap((sent) => sent.commands)) {
    if (!stored.has(command.id) || !('postings' in command) || command.postings === undefined) continue;
    applyPostings(balances, command.postings, command.type === 'pending' ? 'Pending' : 'Posted');
  }
  return balances;
}

/** Waits (bounded) until no ledger connection is inside a transaction or a statement. */
async function waitForIdleLedger(adminUrl: string): Promise<void> {
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const deadline = Date.now() + 4 * CALL_TIMEOUT_MS;
    for (;;) {
      const { rows } = await admin.query<{ busy: number }>(
        `SELECT count(*)::int AS busy FROM pg_stat_activity
          WHERE datname = current_database() AND pid <> pg_backend_pid()
            AND usename LIKE '%_app' AND state <> 'idle'`,
      );
      if (rows[0]?.busy === 0) return;
      if (Date.now() > deadline) throw new Error('the ledger was still working 4 call timeouts after the load stopped');
      await sleep(100);
    }
  } finally {
    await admin.end();
  }
}
