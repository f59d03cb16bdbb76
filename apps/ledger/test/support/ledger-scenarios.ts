import { AMOUNT_MINOR_MAX } from '@strongroom/contracts';
import fc from 'fast-check';
import type { Side } from './ledger-model';

/**
 * Random ledgers and random batches of transfers for the property tests, as plain specs
 * (indices, amounts, shapes); a ScenarioDriver (scenario-driver.ts) turns them into commands.
 */

export const SCENARIO_CURRENCIES = ['USD', 'KWD'] as const;
/** Whole minutes, as are the clock's steps: see LedgerTestDatabase.moveClock for why. */
const TIMEOUTS_SECONDS = [0, 60, 60, 120, 300] as const;
const ADVANCES_SECONDS = [0, 0, 60, 60, 120, 300] as const;

export interface AccountSpec {
  currencyIndex: number;
  limit: 'none' | 'debits' | 'credits';
  closed: boolean;
}

/** One account on one side of a transfer, one or two on the other; the single side gets the sum. */
export interface LegsSpec {
  currencyIndex: number;
  oneSide: Side;
  onePick: number;
  others: Array<{ pick: number; amountMinor: bigint }>;
  stray: 'none' | 'unknown_account' | 'other_currency';
}

export type PostShape = 'full' | 'same' | 'partial' | 'exceed' | 'swap' | 'foreign';

export type OperationSpec =
  | ({ kind: 'immediate'; linked: boolean } & LegsSpec)
  | ({ kind: 'pending'; linked: boolean; timeoutSeconds: number } & LegsSpec)
  | { kind: 'post'; linked: boolean; pick: number; shape: PostShape; percent: number }
  | { kind: 'void'; linked: boolean; pick: number }
  | { kind: 'reverse'; linked: boolean; pick: number }
  | { kind: 'retry'; pick: number }
  | ({ kind: 'reuse'; linked: boolean; pick: number } & LegsSpec);

export interface BatchSpec {
  /** How far the clock moves before the batch. */
  advanceSeconds: number;
  /** Whether the expiry sweep runs before the batch. */
  sweep: boolean;
  /** Expiries sent for pending transfers picked at random (due or not, open or not). */
  expiryPicks: number[];
  operations: OperationSpec[];
}

export interface ScenarioSpec {
  accounts: AccountSpec[];
  batches: BatchSpec[];
}

const amountMinor = fc.oneof(
  { arbitrary: fc.bigInt(1n, 500n), weight: 12 },
  // Near the top of bigint: sums overflow.
  { arbitrary: fc.bigInt(AMOUNT_MINOR_MAX - 100n, AMOUNT_MINOR_MAX), weight: 1 },
);
/** Which earlier transfer an operation names: mostly one of the last few, sometimes any. */
const pick = fc.oneof({ arbitrary: fc.nat(2), weight: 3 }, { arbitrary: fc.nat(), weight: 1 });
const linked = fc.integer({ min: 0, max: 3 }).map((draw) => draw === 0);
const legs = fc.record({
  currencyIndex: fc.nat(SCENARIO_CURRENCIES.length - 1),
  oneSide: fc.constantFrom<Side>('debit', 'credit'),
  onePick: fc.nat(),
  others: fc.array(fc.record({ pick: fc.nat(), amountMinor }), { minLength: 1, maxLength: 2 }),
  stray: fc.oneof(
    { arbitrary: fc.constant('none' as const), weight: 12 },
    { arbitrary: fc.constantFrom('unknown_account' as const, 'other_currency' as const), weight: 1 },
  ),
});

const operation: fc.Arbitrary<OperationSpec> = fc.oneof(
  { arbitrary: legs.map((spec) => ({ ...spec, kind: 'immediate' as const, linked: false })), weight: 5 },
  {
    arbitrary: fc
      .tuple(legs, fc.constantFrom(...TIMEOUTS_SECONDS))
      .map(([spec, timeoutSeconds]) => ({ ...spec, kind: 'pending' as const, linked: false, timeoutSeconds })),
    weight: 4,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant('post' as const),
      linked: fc.constant(false),
      pick,
      shape: fc.constantFrom<PostShape>(
        'full',
        'full',
        'full',
        'same',
        'partial',
        'partial',
        'partial',
        'exceed',
        'swap',
        'foreign',
      ),
      percent: fc.integer({ min: 1, max: 100 }),
    }),
    weight: 4,
  },
  { arbitrary: fc.record({ kind: fc.constant('void' as const), linked: fc.constant(false), pick }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('reverse' as const), linked: fc.constant(false), pick }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('retry' as const), pick }), weight: 2 },
  {
    arbitrary: fc.tuple(legs, pick).map(([spec, pick]) => ({ ...spec, kind: 'reuse' as const, linked: false, pick })),
    weight: 1,
  },
);
const maybeLinked = fc
  .tuple(operation, linked)
  .map(([spec, isLinked]) => (spec.kind === 'retry' ? spec : { ...spec, linked: isLinked }));

export function scenarioArbitrary(limits: { batchesMax: number; operationsMax: number }): fc.Arbitrary<ScenarioSpec> {
  const account = fc.record({
    currencyIndex: fc.nat(SCENARIO_CURRENCIES.length - 1),
    limit: fc.constantFrom<AccountSpec['limit']>('none', 'none', 'none', 'debits', 'credits'),
    closed: fc.integer({ min: 0, max: 11 }).map((draw) => draw === 0),
  });
  const batch = fc.record({
    advanceSeconds: fc.constantFrom(...ADVANCES_SECONDS),
    sweep: fc.boolean(),
    expiryPicks: fc.oneof(
      { arbitrary: fc.constant<number[]>([]), weight: 3 },
      { arbitrary: pick.map((one) => [one]), weight: 1 },
    ),
    operations: fc.array(maybeLinked, { minLength: 1, maxLength: limits.operationsMax }),
  });
  return fc.record({
    accounts: fc.array(account, { minLength: 3, maxLength: 7 }),
    batches: fc.array(batch, { minLength: 1, maxLength: limits.batchesMax }),
  });
}
