import { randomUUID } from 'node:crypto';
import {
  type LedgerBalances,
  type TransferCommand,
  type TransferCommandInput,
  transferCommandSchema,
} from '@strongroom/contracts';
import fc from 'fast-check';
import type { LedgerScope } from '../src/ledger-scope';
import type { EngineCommand } from '../src/transfers/ledger-state';
import { LedgerTestDatabase, TEST_TRAIL } from './support/ledger-database';
import { balancesById, ledgerViolations } from './support/ledger-invariants';
import {
  applyModelBatch,
  duePendingIds,
  type ModelAccount,
  type ModelBalances,
  type ModelLedger,
  modelLedgerOf,
} from './support/ledger-model';
import { type ScenarioSpec, scenarioArbitrary } from './support/ledger-scenarios';
import { expiryOf, numberedIds, ScenarioDriver } from './support/scenario-driver';

const SEQUENCES = 30;
const PROPERTY_TIME_LIMIT_MS = 60_000;
/** The model's clock starts anywhere: only its steps matter (LedgerTestDatabase.moveClock). */
const START_MS = Date.parse('2030-01-01T00:00:00Z');
const ZERO: ModelBalances = { debitsPosted: 0n, creditsPosted: 0n, debitsPending: 0n, creditsPending: 0n };

/** Balances as the repositories return them (decimal strings). */
function asStrings(byId: Record<string, ModelBalances>): Record<string, LedgerBalances> {
  return Object.fromEntries(
    Object.entries(byId).map(([id, balances]) => [
      id,
      {
        debitsPosted: `${balances.debitsPosted}`,
        creditsPosted: `${balances.creditsPosted}`,
        debitsPending: `${balances.debitsPending}`,
        creditsPending: `${balances.creditsPending}`,
      },
    ]),
  );
}

function asBigints(balances: LedgerBalances): ModelBalances {
  return {
    debitsPosted: BigInt(balances.debitsPosted),
    creditsPosted: BigInt(balances.creditsPosted),
    debitsPending: BigInt(balances.debitsPending),
    creditsPending: BigInt(balances.creditsPending),
  };
}

describe('ledger repositories against the reference model (real Postgres)', () => {
  let ledger: LedgerTestDatabase;

  beforeAll(async () => {
    ledger = await LedgerTestDatabase.open('ledger_repository');
  });

  afterAll(async () => {
    await ledger?.close();
  });

  /** Stored balances are the model's, and within every rule. */
  async function expectStoredLikeModel(scope: LedgerScope, opened: readonly ModelAccount[], model: ModelLedger) {
    const stored = await ledger.storedBalances(scope);
    expect(stored).toEqual(asStrings(balancesById(model.accounts.values())));
    const limited = opened.map((account) => ({ ...account, ...asBigints(stored[account.id] as LedgerBalances) }));
    expect(ledgerViolations(limited)).toEqual([]);
  }

  /** Each entry's balances-after are the one before's plus its change; the entries add up to the account's. */
  async function expectEntriesAddUp(scope: LedgerScope, model: ModelLedger): Promise<void> {
    for (const [accountId, account] of model.accounts) {
      const page = await ledger.accounts.entries(scope, accountId, { limit: 1_000 });
      let running = ZERO;
      for (const entry of page?.entries ?? []) {
        const debit = entry.direction === 'debit';
        const posted = BigInt(entry.postedAmount);
        const pending = BigInt(entry.pendingChange);
        running = {
          debitsPosted: running.debitsPosted + (debit ? posted : 0n),
          creditsPosted: running.creditsPosted + (debit ? 0n : posted),
          debitsPending: running.debitsPending + (debit ? pending : 0n),
          creditsPending: running.creditsPending + (debit ? 0n : pending),
        };
        expect({ seq: entry.seq, after: asBigints(entry.balancesAfter) }).toEqual({ seq: entry.seq, after: running });
      }
      expect({ accountId, sum: running }).toEqual({ accountId, sum: balancesById([account])[accountId] });
    }
  }

  async function expectBalancesAsOf(
    scope: LedgerScope,
    checkpoints: ReadonlyArray<{ at: Date; balances: Record<string, ModelBalances> }>,
  ): Promise<void> {
    for (const { at, balances } of checkpoints) {
      const asOf = await Promise.all(Object.keys(balances).map((id) => ledger.accounts.balanceAsOf(scope, id, at)));
      const stored = Object.fromEntries(
        asOf.map((balance) => [
          balance?.accountId,
          {
            debitsPosted: balance?.debitsPosted,
            creditsPosted: balance?.creditsPosted,
            debitsPending: balance?.debitsPending,
            creditsPending: balance?.creditsPending,
          },
        ]),
      );
      expect({ at, balances: stored }).toEqual({ at, balances: asStrings(balances) });
    }
  }

  async function runScenario(scenario: ScenarioSpec): Promise<void> {
    const driver = new ScenarioDriver(scenario, numberedIds());
    const scope = await ledger.ledgerWith(driver.accounts);
    let model = modelLedgerOf(driver.accounts);
    let nowMs = START_MS;
    const checkpoints = [{ at: await ledger.instantBetweenBatches(), balances: balancesById(model.accounts.values()) }];
    const keep = async (next: ModelLedger) => {
      model = next;
      await expectStoredLikeModel(scope, driver.accounts, model);
      checkpoints.push({ at: await ledger.instantBetweenBatches(), balances: balancesById(model.accounts.values()) });
    };

    for (const batch of scenario.batches) {
      if (batch.advanceSeconds > 0) {
        await ledger.moveClock(scope.tenantId, batch.advanceSeconds);
        nowMs += batch.advanceSeconds * 1000;
      }
      if (batch.sweep) {
        const before = await ledger.expiriesWritten(scope.tenantId);
        await ledger.expirySweep.sweep();
        // The model expires the same pending transfers under the ids the sweep drew.
        const written = await ledger.expiryIdsByPending(scope.tenantId);
        const sweptExpiries = duePendingIds(model, nowMs).map((pendingId) => {
          const expiry = expiryOf(pendingId);
          return { ...expiry, id: written.get(pendingId) ?? expiry.id };
        });
        const expected = applyModelBatch(model, sweptExpiries, nowMs);
        const expiredCount = expected.results.filter((result) => result.result === 'ok').length;
        expect((await ledger.expiriesWritten(scope.tenantId)) - before).toBe(expiredCount);
        await keep(expected.ledger);
      }
      const batches: EngineCommand[][] = [driver.expiriesOf(batch), driver.commandsOf(batch)];
      for (const commands of batches.filter((some) => some.length > 0)) {
        const attributed = commands.map((command) => ({ command, actor: 'property-test', trail: TEST_TRAIL }));
        const { results } = await ledger.transfers.applyBatch(scope, attributed);
        const expected = applyModelBatch(model, commands, nowMs);
        expect({ commands, results }).toEqual({ commands, results: expected.results });
        await keep(expected.ledger);
      }
    }
    await expectEntriesAddUp(scope, model);
    await expectBalancesAsOf(scope, checkpoints);
  }

  it(
    'stores what the model computes: results, balances, entries that add up, and balances as of any past instant',
    async () => {
      await fc.assert(fc.asyncProperty(scenarioArbitrary({ batchesMax: 8, operationsMax: 5 }), runScenario), {
        numRuns: SEQUENCES,
        // Shrinking replays whole sequences against Postgres: bounded, it reports the smallest found so far.
        interruptAfterTimeLimit: PROPERTY_TIME_LIMIT_MS,
        markInterruptAsFailure: true,
      });
    },
    PROPERTY_TIME_LIMIT_MS + 30_000,
  );

  /** A new tenant with two open USD accounts without limits. */
  async function twoAccounts(): Promise<{ scope: LedgerScope; from: string; to: string }> {
    const spec = { currencyIndex: 0, limit: 'none' as const, closed: false };
    const driver = new ScenarioDriver({ accounts: [spec, spec], batches: [] }, numberedIds());
    const [from, to] = driver.accounts.map((account) => account.id) as [string, string];
    return { scope: await ledger.ledgerWith(driver.accounts), from, to };
  }

  function moveTen(from: string, to: string, fields: Partial<TransferCommandInput> = {}): TransferCommand {
    return transferCommandSchema.parse({
      type: 'immediate',
      id: randomUUID(),
      postings: [
        { accountId: from, direction: 'debit', amount: '10', currency: 'USD' },
        { accountId: to, direction: 'credit', amount: '10', currency: 'USD' },
      ],
      ...fields,
    });
  }

  const tenPosted = { debitsPosted: '0', creditsPosted: '10', debitsPending: '0', creditsPending: '0' };

  it('answers one ok and one exists when two batches race to apply the same new transfer', async () => {
    const { scope, from, to } = await twoAccounts();
    const transfer = moveTen(from, to);
    // Both batches read "not stored yet" before either holds the accounts' locks: the second to
    // lock inserts an id the first has just committed (unique violation), and answers `exists` on its retry.
    const results = await ledger.whileAccountsLocked(scope.tenantId, 2, () =>
      [1, 2].map(
        async () =>
          (await ledger.transfers.applyBatch(scope, [{ command: transfer, actor: 'racer', trail: TEST_TRAIL }]))
            .results,
      ),
    );
    expect(results.map(([result]) => result?.result).sort()).toEqual(['exists', 'ok']);
    expect((await ledger.storedBalances(scope))[to]).toEqual(tenPosted);
  });

  it('posts a pending transfer once when two batches race to post it', async () => {
    const { scope, from, to } = await twoAccounts();
    const reservation = moveTen(from, to, { type: 'pending', timeoutSeconds: 60 });
    await ledger.transfers.applyBatch(scope, [{ command: reservation, actor: 'client', trail: TEST_TRAIL }]);
    const post = () =>
      transferCommandSchema.parse({ type: 'post_pending', id: randomUUID(), pendingId: reservation.id });
    const results = await ledger.whileAccountsLocked(scope.tenantId, 2, () =>
      [post(), post()].map(
        async (command) =>
          (await ledger.transfers.applyBatch(scope, [{ command, actor: 'racer', trail: TEST_TRAIL }])).results,
      ),
    );
    expect(results.map(([result]) => result?.result).sort()).toEqual(['ok', 'pending_transfer_already_posted']);
    expect((await ledger.storedBalances(scope))[to]).toEqual(tenPosted);
  });

  it('expires a pending transfer through the sweep once its timeout has passed, and only then', async () => {
    const { scope, from, to } = await twoAccounts();
    const reservation = moveTen(from, to, { type: 'pending', timeoutSeconds: 120 });
    await ledger.transfers.applyBatch(scope, [{ command: reservation, actor: 'client', trail: TEST_TRAIL }]);

    await ledger.moveClock(scope.tenantId, 60);
    await ledger.expirySweep.sweep();
    expect(await ledger.expiriesWritten(scope.tenantId)).toBe(0);
    expect((await ledger.storedBalances(scope))[to]?.creditsPending).toBe('10');

    await ledger.moveClock(scope.tenantId, 60);
    await ledger.expirySweep.sweep();
    await ledger.expirySweep.sweep();
    expect(await ledger.expiriesWritten(scope.tenantId)).toBe(1);
    expect((await ledger.storedBalances(scope))[to]?.creditsPending).toBe('0');
    expect(await ledger.transfers.find(scope, reservation.id)).toMatchObject({ pendingStatus: 'expired' });
  });
});
