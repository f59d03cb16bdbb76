import type {
  AccountState,
  LedgerView,
  OpenPending,
  PendingOutcome,
  ReversalTarget,
} from '../src/transfers/ledger-state';
import { applyTransferBatch, fingerprintOf } from '../src/transfers/transfer-engine';
import {
  account,
  accounts,
  balances,
  balancesOf,
  CASH,
  expiry,
  idOf,
  immediate,
  ledgerView,
  legsOf,
  MERCHANT,
  move,
  NOW_MS,
  pending,
  post,
  reversal,
  voidPending,
  WALLET,
} from './support/engine-fixtures';

const PENDING = idOf(201);
const T1 = idOf(202);
const T2 = idOf(203);
const T3 = idOf(204);
const STORED = idOf(205);

/** CASH → MERCHANT, 100 reserved by a pending transfer stored before, open until `expiresAtMs`. */
function withOpenPending(expiresAtMs: number | null = null): LedgerView {
  const open: OpenPending = { id: PENDING, legs: legsOf(move(CASH, MERCHANT, 100n)), expiresAtMs };
  return ledgerView(
    [account(CASH, { debitsPending: 100n }), account(MERCHANT, { creditsPending: 100n }), account(WALLET)],
    {
      openPendings: new Map([[PENDING, open]]),
      reversalTargets: new Map([[PENDING, { id: PENDING, type: 'pending', legs: [], reversed: false }]]),
    },
  );
}

/** A stored transfer a reversal may name. */
function storedTarget(target: Partial<ReversalTarget>, loaded: AccountState[] = accounts()): LedgerView {
  const full: ReversalTarget = { id: STORED, type: 'immediate', legs: [], reversed: false, ...target };
  return ledgerView(loaded, { reversalTargets: new Map([[STORED, full]]) });
}

describe('transfer engine: pending transfers', () => {
  it('reserves a pending transfer’s amounts without posting them, open until its timeout', () => {
    const view = ledgerView(accounts());
    const outcome = applyTransferBatch(
      [pending(T1, move(CASH, MERCHANT, 70n), 30), pending(T2, move(CASH, MERCHANT, 5n), 0)],
      view,
      NOW_MS,
    );
    expect(outcome.results.map((result) => result.result)).toEqual(['ok', 'ok']);
    expect(balancesOf(view, CASH)).toEqual(balances({ debitsPending: 75n }));
    expect(balancesOf(view, MERCHANT)).toEqual(balances({ creditsPending: 75n }));
    expect(outcome.openedPendings).toEqual([
      { id: T1, legs: legsOf(move(CASH, MERCHANT, 70n)), expiresAtMs: NOW_MS + 30_000 },
      // A timeout of 0 never expires.
      { id: T2, legs: legsOf(move(CASH, MERCHANT, 5n)), expiresAtMs: null },
    ]);
  });

  it('posts a pending transfer in full: the reservation becomes posted', () => {
    const view = withOpenPending();
    const outcome = applyTransferBatch([post(T1, PENDING)], view, NOW_MS);
    expect(outcome.results).toEqual([{ id: T1, result: 'ok' }]);
    expect(balancesOf(view, CASH)).toEqual(balances({ debitsPosted: 100n }));
    expect(balancesOf(view, MERCHANT)).toEqual(balances({ creditsPosted: 100n }));
    expect(outcome.resolvedPendings).toEqual([{ id: PENDING, outcome: 'posted' }]);
    expect(outcome.applied[0]?.entries.map((entry) => [entry.postedAmount, entry.pendingChange])).toEqual([
      [100n, -100n],
      [100n, -100n],
    ]);
  });

  it('posts part of a pending transfer and releases the rest', () => {
    const view = withOpenPending();
    const outcome = applyTransferBatch([post(T1, PENDING, move(CASH, MERCHANT, 60n))], view, NOW_MS);
    expect(outcome.results).toEqual([{ id: T1, result: 'ok' }]);
    expect(balancesOf(view, CASH)).toEqual(balances({ debitsPosted: 60n }));
    expect(balancesOf(view, MERCHANT)).toEqual(balances({ creditsPosted: 60n }));
    // The stored transfer records what was posted, not what was reserved.
    expect(outcome.applied[0]?.legs).toEqual(legsOf(move(CASH, MERCHANT, 60n)));
  });

  it('refuses to post more than was reserved (post_exceeds_pending_amount), leaving the reservation open', () => {
    const view = withOpenPending();
    const outcome = applyTransferBatch([post(T1, PENDING, move(CASH, MERCHANT, 101n))], view, NOW_MS);
    expect(outcome.results).toEqual([{ id: T1, result: 'post_exceeds_pending_amount', accountId: CASH }]);
    expect(balancesOf(view, CASH)).toEqual(balances({ debitsPending: 100n }));
    expect(view.openPendings.has(PENDING)).toBe(true);
    expect(outcome.resolvedPendings).toEqual([]);
  });

  it.each([
    ['another account', move(CASH, WALLET, 50n)],
    ['directions swapped', move(MERCHANT, CASH, 50n)],
    ['another currency', move(CASH, MERCHANT, 50n, 'EUR')],
    [
      'a third account',
      [...move(CASH, MERCHANT, 40n), ...move(CASH, WALLET, 10n).slice(1)].map((posting, index) =>
        index === 0 ? { ...posting, amount: '50' } : posting,
      ),
    ],
  ])(
    'refuses a post whose postings do not match the pending transfer: %s (postings_must_match_pending)',
    (_, postings) => {
      const view = withOpenPending();
      const outcome = applyTransferBatch([post(T1, PENDING, postings)], view, NOW_MS);
      expect(outcome.results[0]).toMatchObject({ id: T1, result: 'postings_must_match_pending' });
      expect(balancesOf(view, MERCHANT)).toEqual(balances({ creditsPending: 100n }));
    },
  );

  it('voids a pending transfer: the reservation is released and nothing is posted', () => {
    const view = withOpenPending();
    const outcome = applyTransferBatch([voidPending(T1, PENDING)], view, NOW_MS);
    expect(outcome.results).toEqual([{ id: T1, result: 'ok' }]);
    expect(balancesOf(view, CASH)).toEqual(balances());
    expect(balancesOf(view, MERCHANT)).toEqual(balances());
    expect(outcome.resolvedPendings).toEqual([{ id: PENDING, outcome: 'voided' }]);
  });

  it('answers pending_transfer_not_found for an unknown id and for a transfer that was never pending', () => {
    const view = storedTarget({ legs: legsOf(move(CASH, MERCHANT, 1n)) });
    const outcome = applyTransferBatch([post(T1, idOf(299)), voidPending(T2, STORED)], view, NOW_MS);
    expect(outcome.results).toEqual([
      { id: T1, result: 'pending_transfer_not_found' },
      { id: T2, result: 'pending_transfer_not_found' },
    ]);
  });

  it.each([
    ['posted', 'pending_transfer_already_posted'],
    ['voided', 'pending_transfer_already_voided'],
    ['expired', 'pending_transfer_expired'],
  ] as const)('refuses to post or void a pending transfer %s before (%s)', (outcome, code) => {
    const view = ledgerView(accounts(), { resolvedPendings: new Map<string, PendingOutcome>([[PENDING, outcome]]) });
    const result = applyTransferBatch([post(T1, PENDING), voidPending(T2, PENDING), expiry(T3, PENDING)], view, NOW_MS);
    expect(result.results).toEqual([
      { id: T1, result: code },
      { id: T2, result: code },
      { id: T3, result: code },
    ]);
  });

  it('resolves a pending transfer once within a batch: the second post or void is refused', () => {
    const view = withOpenPending();
    const outcome = applyTransferBatch([post(T1, PENDING), voidPending(T2, PENDING), post(T3, PENDING)], view, NOW_MS);
    expect(outcome.results).toEqual([
      { id: T1, result: 'ok' },
      { id: T2, result: 'pending_transfer_already_posted' },
      { id: T3, result: 'pending_transfer_already_posted' },
    ]);
    expect(balancesOf(view, MERCHANT)).toEqual(balances({ creditsPosted: 100n }));
  });

  it('posts a pending transfer opened earlier in the same batch', () => {
    const view = ledgerView(accounts());
    const outcome = applyTransferBatch([pending(T1, move(CASH, MERCHANT, 9n), 60), post(T2, T1)], view, NOW_MS);
    expect(outcome.results.map((result) => result.result)).toEqual(['ok', 'ok']);
    expect(balancesOf(view, MERCHANT)).toEqual(balances({ creditsPosted: 9n }));
    expect(outcome.openedPendings).toEqual([]);
    expect(outcome.resolvedPendings).toEqual([{ id: T1, outcome: 'posted' }]);
  });
});

describe('transfer engine: expiry of pending transfers', () => {
  it('refuses to post or void a pending transfer whose timeout has passed, even before its expiry is written', () => {
    const atDeadline = withOpenPending(NOW_MS);
    const late = applyTransferBatch([post(T1, PENDING), voidPending(T2, PENDING)], atDeadline, NOW_MS);
    expect(late.results).toEqual([
      { id: T1, result: 'pending_transfer_expired' },
      { id: T2, result: 'pending_transfer_expired' },
    ]);
    const justInTime = withOpenPending(NOW_MS + 1);
    expect(applyTransferBatch([post(T1, PENDING)], justInTime, NOW_MS).results).toEqual([{ id: T1, result: 'ok' }]);
  });

  it('expires a pending transfer only once its timeout has passed, releasing the reservation', () => {
    const early = withOpenPending(NOW_MS + 1_000);
    const tooEarly = applyTransferBatch([expiry(T1, PENDING)], early, NOW_MS + 999);
    expect(tooEarly.results).toEqual([{ id: T1, result: 'pending_transfer_not_found' }]);
    expect(balancesOf(early, CASH)).toEqual(balances({ debitsPending: 100n }));

    const due = withOpenPending(NOW_MS + 1_000);
    const expired = applyTransferBatch([expiry(T1, PENDING), post(T2, PENDING)], due, NOW_MS + 1_000);
    expect(expired.results).toEqual([
      { id: T1, result: 'ok' },
      { id: T2, result: 'pending_transfer_expired' },
    ]);
    expect(balancesOf(due, CASH)).toEqual(balances());
    expect(balancesOf(due, MERCHANT)).toEqual(balances());
    expect(expired.resolvedPendings).toEqual([{ id: PENDING, outcome: 'expired' }]);
  });

  it('answers exists for the same expiry written again, never releasing twice', () => {
    const view = ledgerView(accounts(), {
      existing: new Map([[T1, fingerprintOf(expiry(T1, PENDING))]]),
      resolvedPendings: new Map([[PENDING, 'expired']]),
    });
    const outcome = applyTransferBatch([expiry(T1, PENDING)], view, NOW_MS);
    expect(outcome.results).toEqual([{ id: T1, result: 'exists' }]);
    expect(outcome.applied).toEqual([]);
  });

  it('never expires a pending transfer without a timeout', () => {
    const view = withOpenPending(null);
    const outcome = applyTransferBatch([expiry(T1, PENDING)], view, NOW_MS + 10 * 365 * 86_400_000);
    expect(outcome.results).toEqual([{ id: T1, result: 'pending_transfer_not_found' }]);
    expect(balancesOf(view, CASH)).toEqual(balances({ debitsPending: 100n }));
  });
});

describe('transfer engine: reversals', () => {
  it('reverses a stored transfer with its mirror postings', () => {
    const loaded = [account(CASH, { debitsPosted: 40n }), account(MERCHANT, { creditsPosted: 40n })];
    const view = storedTarget({ legs: legsOf(move(CASH, MERCHANT, 40n)) }, loaded);
    const outcome = applyTransferBatch([reversal(T1, STORED)], view, NOW_MS);
    expect(outcome.results).toEqual([{ id: T1, result: 'ok' }]);
    expect(outcome.applied[0]?.legs).toEqual([
      { accountId: CASH, direction: 'credit', amount: 40n, currency: 'USD' },
      { accountId: MERCHANT, direction: 'debit', amount: 40n, currency: 'USD' },
    ]);
    expect(balancesOf(view, CASH)).toEqual(balances({ debitsPosted: 40n, creditsPosted: 40n }));
    expect(outcome.reversedIds).toEqual([STORED]);
  });

  it('reverses a transfer applied earlier in the same batch, once', () => {
    const view = ledgerView(accounts());
    const outcome = applyTransferBatch(
      [immediate(T1, move(CASH, WALLET, 25n)), reversal(T2, T1), reversal(T3, T1)],
      view,
      NOW_MS,
    );
    expect(outcome.results).toEqual([
      { id: T1, result: 'ok' },
      { id: T2, result: 'ok' },
      { id: T3, result: 'transfer_already_reversed' },
    ]);
    expect(balancesOf(view, WALLET)).toEqual(balances({ debitsPosted: 25n, creditsPosted: 25n }));
  });

  it('reverses only the posted part of a partially posted transfer', () => {
    const view = withOpenPending();
    const outcome = applyTransferBatch([post(T1, PENDING, move(CASH, MERCHANT, 30n)), reversal(T2, T1)], view, NOW_MS);
    expect(outcome.results.map((result) => result.result)).toEqual(['ok', 'ok']);
    expect(balancesOf(view, MERCHANT)).toEqual(balances({ debitsPosted: 30n, creditsPosted: 30n }));
  });

  it.each([
    ['an unknown transfer', 'reversal_target_not_found', undefined],
    ['a pending transfer', 'reversal_target_not_posted', { type: 'pending' }],
    ['a void', 'reversal_target_not_posted', { type: 'void_pending' }],
    ['an expiry', 'reversal_target_not_posted', { type: 'expiry' }],
    ['a reversal', 'reversal_target_not_posted', { type: 'reversal', legs: legsOf(move(CASH, MERCHANT, 1n)) }],
    [
      'a transfer reversed before',
      'transfer_already_reversed',
      { legs: legsOf(move(CASH, MERCHANT, 1n)), reversed: true },
    ],
  ] as const)('refuses to reverse %s (%s)', (_, code, target) => {
    const view = target ? storedTarget(target) : ledgerView(accounts());
    const outcome = applyTransferBatch([reversal(T1, STORED)], view, NOW_MS);
    expect(outcome.results).toEqual([{ id: T1, result: code }]);
    expect(outcome.applied).toEqual([]);
  });

  it('answers reversal_target_not_posted for a pending transfer opened earlier in the same batch, as for a stored one', () => {
    const view = ledgerView(accounts());
    const outcome = applyTransferBatch([pending(T1, move(CASH, MERCHANT, 5n)), reversal(T2, T1)], view, NOW_MS);
    expect(outcome.results).toEqual([
      { id: T1, result: 'ok' },
      { id: T2, result: 'reversal_target_not_posted' },
    ]);
  });

  it('refuses a reversal the accounts can no longer afford (insufficient_funds)', () => {
    // CASH → WALLET 50 was stored; the wallet has spent 30 of it since.
    const loaded = accounts(50n);
    loaded[1] = account(WALLET, { debitsMustNotExceedCredits: true, creditsPosted: 50n, debitsPosted: 30n });
    const view = storedTarget({ legs: legsOf(move(CASH, WALLET, 50n)) }, loaded);
    const outcome = applyTransferBatch([reversal(T1, STORED)], view, NOW_MS);
    expect(outcome.results).toEqual([{ id: T1, result: 'insufficient_funds', accountId: WALLET }]);
    expect(outcome.reversedIds).toEqual([]);
  });
});
