import type { TransferResult, TransferType } from '@strongroom/contracts';
import fc from 'fast-check';
import type {
  AccountState,
  EngineCommand,
  LedgerView,
  Leg,
  OpenPending,
  PendingOutcome,
} from '../src/transfers/ledger-state';
import { applyTransferBatch, type BatchOutcome } from '../src/transfers/transfer-engine';
import { balancesById, ledgerViolations } from './support/ledger-invariants';
import {
  applyModelBatch,
  duePendingIds,
  type ModelAccount,
  type ModelBalances,
  modelLedgerOf,
} from './support/ledger-model';
import { scenarioArbitrary } from './support/ledger-scenarios';
import { expiryOf, numberedIds, ScenarioDriver } from './support/scenario-driver';

const START_MS = Date.parse('2030-01-01T00:00:00Z');
const RUNS = 1_000;

const RESOLUTION_OF: Partial<Record<TransferType, PendingOutcome>> = {
  post_pending: 'posted',
  void_pending: 'voided',
  expiry: 'expired',
};

interface StoredTransfer {
  fingerprint: string;
  type: TransferType;
  legs: readonly Leg[];
  reversed: boolean;
}

/**
 * The engine with the storage the repository gives it, in memory: each batch sees every stored
 * transfer and account, and only what the outcome says is written back (as the repository
 * writes it), so a transfer the outcome lists by mistake shows up in later batches.
 */
class InMemoryLedger {
  readonly accounts: Map<string, AccountState>;
  private readonly stored = new Map<string, StoredTransfer>();
  private readonly openPendings = new Map<string, OpenPending>();
  private readonly resolved = new Map<string, PendingOutcome>();
  /** Entries whose balances-after do not follow from the entry before them. */
  readonly entryViolations: string[] = [];

  constructor(accounts: readonly ModelAccount[]) {
    this.accounts = new Map(accounts.map((account) => [account.id, { ...account }]));
  }

  apply(commands: readonly EngineCommand[], nowMs: number): BatchOutcome {
    const view: LedgerView = {
      accounts: new Map(this.accounts),
      existing: new Map(
        commands.flatMap((command) => {
          const stored = this.stored.get(command.id);
          return stored ? [[command.id, stored.fingerprint] as const] : [];
        }),
      ),
      openPendings: new Map(this.openPendings),
      resolvedPendings: new Map(this.resolved),
      reversalTargets: new Map(
        [...this.stored].map(([id, stored]) => {
          const posted = stored.type === 'immediate' || stored.type === 'post_pending';
          return [id, { id, type: stored.type, legs: posted ? stored.legs : [], reversed: stored.reversed }];
        }),
      ),
    };
    const outcome = applyTransferBatch(commands, view, nowMs);
    this.checkEntries(outcome);
    for (const transfer of outcome.applied) {
      this.stored.set(transfer.id, {
        fingerprint: transfer.fingerprint,
        type: transfer.type,
        legs: transfer.legs,
        reversed: false,
      });
      const resolution = RESOLUTION_OF[transfer.type];
      if (transfer.pendingId !== null && resolution !== undefined) this.resolved.set(transfer.pendingId, resolution);
      const target = transfer.reversesId === null ? undefined : this.stored.get(transfer.reversesId);
      if (target !== undefined) target.reversed = true;
    }
    for (const account of outcome.changedAccounts) this.accounts.set(account.id, account);
    for (const pending of outcome.openedPendings) this.openPendings.set(pending.id, pending);
    for (const { id } of outcome.resolvedPendings) this.openPendings.delete(id);
    return outcome;
  }

  /** Each entry's balances-after are the previous ones plus its change; the last ones are the account's. */
  private checkEntries(outcome: BatchOutcome): void {
    const running = new Map<string, ModelBalances>();
    for (const transfer of outcome.applied) {
      for (const entry of transfer.entries) {
        const before = running.get(entry.accountId) ?? this.accounts.get(entry.accountId);
        if (before === undefined) throw new Error(`an entry names an unknown account ${entry.accountId}`);
        const debit = entry.direction === 'debit';
        const expected = {
          debitsPosted: before.debitsPosted + (debit ? entry.postedAmount : 0n),
          creditsPosted: before.creditsPosted + (debit ? 0n : entry.postedAmount),
          debitsPending: before.debitsPending + (debit ? entry.pendingChange : 0n),
          creditsPending: before.creditsPending + (debit ? 0n : entry.pendingChange),
        };
        const after = {
          debitsPosted: entry.debitsPostedAfter,
          creditsPosted: entry.creditsPostedAfter,
          debitsPending: entry.debitsPendingAfter,
          creditsPending: entry.creditsPendingAfter,
        };
        if (fourOf(after) !== fourOf(expected)) {
          this.entryViolations.push(`the entry of ${transfer.id} on ${entry.accountId} does not follow the one before`);
        }
        running.set(entry.accountId, after);
      }
    }
    for (const account of outcome.changedAccounts) {
      const last = running.get(account.id);
      if (last !== undefined && fourOf(last) !== fourOf(account)) {
        this.entryViolations.push(`the last entry of ${account.id} is ${fourOf(last)}, its balance ${fourOf(account)}`);
      }
    }
  }
}

function fourOf(balances: ModelBalances): string {
  return [balances.debitsPosted, balances.creditsPosted, balances.debitsPending, balances.creditsPending].join('/');
}

const okIds = (results: readonly TransferResult[]) => results.filter((r) => r.result === 'ok').map((r) => r.id);

describe('transfer engine against a reference model (property)', () => {
  it('keeps debits equal to credits, every account within its limits, and agrees with the model on every result and balance', () => {
    fc.assert(
      fc.property(scenarioArbitrary({ batchesMax: 10, operationsMax: 6 }), (scenario) => {
        const driver = new ScenarioDriver(scenario, numberedIds());
        const engine = new InMemoryLedger(driver.accounts);
        let model = modelLedgerOf(driver.accounts);
        let nowMs = START_MS;
        for (const batch of scenario.batches) {
          nowMs += batch.advanceSeconds * 1000;
          const swept = batch.sweep ? duePendingIds(model, nowMs).map(expiryOf) : [];
          const expiries = [...swept, ...driver.expiriesOf(batch)].filter(
            (expiry, index, all) => all.findIndex((other) => other.id === expiry.id) === index,
          );
          for (const commands of [expiries, driver.commandsOf(batch)]) {
            if (commands.length === 0) continue;
            const expected = applyModelBatch(model, commands, nowMs);
            const outcome = engine.apply(commands, nowMs);
            expect(outcome.results).toEqual(expected.results);
            // Only what was applied now is written: nothing of a refused transfer or a failed chain.
            expect(outcome.applied.map((transfer) => transfer.id)).toEqual(okIds(expected.results));
            expect(engine.entryViolations).toEqual([]);
            expect(ledgerViolations([...engine.accounts.values()])).toEqual([]);
            expect(balancesById(engine.accounts.values())).toEqual(balancesById(expected.ledger.accounts.values()));
            model = expected.ledger;
          }
        }
      }),
      { numRuns: RUNS },
    );
  });
});
