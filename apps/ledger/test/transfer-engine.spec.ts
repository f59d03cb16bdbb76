import { AMOUNT_MINOR_MAX } from '@strongroom/contracts';
import { applyTransferBatch, fingerprintOf } from '../src/transfers/transfer-engine';
import {
  account,
  accounts,
  balances,
  balancesOf,
  CASH,
  CLOSED,
  CREDIT_LINE,
  EURO_CASH,
  idOf,
  immediate,
  ledgerView,
  legsOf,
  MERCHANT,
  move,
  NOW_MS,
  pending,
  reversal,
  UNKNOWN_ACCOUNT,
  WALLET,
} from './support/engine-fixtures';

const T1 = idOf(101);
const T2 = idOf(102);
const T3 = idOf(103);
const T4 = idOf(104);
const T5 = idOf(105);

describe('transfer engine: immediate transfers', () => {
  it('moves posted amounts from the debited to the credited account and answers ok', () => {
    const view = ledgerView(accounts());
    const outcome = applyTransferBatch([immediate(T1, move(CASH, MERCHANT, 250n))], view, NOW_MS);

    expect(outcome.results).toEqual([{ id: T1, result: 'ok' }]);
    expect(balancesOf(view, CASH)).toEqual(balances({ debitsPosted: 250n }));
    expect(balancesOf(view, MERCHANT)).toEqual(balances({ creditsPosted: 250n }));
    // Nothing reserved, no other account touched.
    expect(balancesOf(view, WALLET)).toEqual(balances());
    expect(outcome.changedAccounts.map((state) => state.id).sort()).toEqual([CASH, MERCHANT]);
    expect(outcome.applied).toMatchObject([{ id: T1, type: 'immediate', legs: legsOf(move(CASH, MERCHANT, 250n)) }]);
    expect(outcome.openedPendings).toEqual([]);
  });

  it('lets a debit-limited account be spent to exactly zero, and refuses one unit more (insufficient_funds)', () => {
    const refused = ledgerView(accounts(100n));
    const tooMuch = applyTransferBatch([immediate(T1, move(WALLET, MERCHANT, 101n))], refused, NOW_MS);
    expect(tooMuch.results).toEqual([{ id: T1, result: 'insufficient_funds', accountId: WALLET }]);
    expect(balancesOf(refused, WALLET)).toEqual(balances({ creditsPosted: 100n }));
    expect(balancesOf(refused, MERCHANT)).toEqual(balances());
    expect(tooMuch.applied).toEqual([]);
    expect(tooMuch.changedAccounts).toEqual([]);

    const accepted = ledgerView(accounts(100n));
    const all = applyTransferBatch([immediate(T1, move(WALLET, MERCHANT, 100n))], accepted, NOW_MS);
    expect(all.results).toEqual([{ id: T1, result: 'ok' }]);
    expect(balancesOf(accepted, WALLET)).toEqual(balances({ debitsPosted: 100n, creditsPosted: 100n }));
  });

  it('counts reserved debits against a debit-limited account', () => {
    const wallet = account(WALLET, { debitsMustNotExceedCredits: true, creditsPosted: 100n, debitsPending: 60n });
    const view = ledgerView([wallet, account(MERCHANT, { creditsPending: 60n })]);
    const outcome = applyTransferBatch(
      [immediate(T1, move(WALLET, MERCHANT, 41n)), immediate(T2, move(WALLET, MERCHANT, 40n))],
      view,
      NOW_MS,
    );
    expect(outcome.results).toEqual([
      { id: T1, result: 'insufficient_funds', accountId: WALLET },
      { id: T2, result: 'ok' },
    ]);
    expect(balancesOf(view, WALLET)).toEqual(balances({ debitsPosted: 40n, creditsPosted: 100n, debitsPending: 60n }));
  });

  it('refuses a credit beyond what a credit-limited account was debited (credit_limit_exceeded), up to it is fine', () => {
    const view = ledgerView([
      account(CASH),
      account(CREDIT_LINE, { creditsMustNotExceedDebits: true, debitsPosted: 500n }),
    ]);
    const outcome = applyTransferBatch(
      [immediate(T1, move(CASH, CREDIT_LINE, 501n)), immediate(T2, move(CASH, CREDIT_LINE, 500n))],
      view,
      NOW_MS,
    );
    expect(outcome.results).toEqual([
      { id: T1, result: 'credit_limit_exceeded', accountId: CREDIT_LINE },
      { id: T2, result: 'ok' },
    ]);
    expect(balancesOf(view, CREDIT_LINE)).toEqual(balances({ debitsPosted: 500n, creditsPosted: 500n }));
  });

  it.each([
    ['account_not_found', UNKNOWN_ACCOUNT, move(CASH, UNKNOWN_ACCOUNT, 10n)],
    ['account_closed', CLOSED, move(CASH, CLOSED, 10n)],
    ['currency_mismatch', EURO_CASH, move(CASH, EURO_CASH, 10n)],
    ['currency_mismatch', CASH, move(CASH, EURO_CASH, 10n, 'EUR')],
  ] as const)(
    'refuses postings naming an account it cannot use (%s, %s) and changes nothing',
    (code, refusedId, postings) => {
      const view = ledgerView(accounts());
      const outcome = applyTransferBatch([immediate(T1, postings)], view, NOW_MS);
      expect(outcome.results).toEqual([{ id: T1, result: code, accountId: refusedId }]);
      for (const state of accounts()) expect(balancesOf(view, state.id)).toEqual(balances());
      expect(outcome.applied).toEqual([]);
    },
  );

  it('refuses a transfer that would take a balance above 2^63-1 (overflow), and reaches it exactly', () => {
    const view = ledgerView([account(CASH), account(MERCHANT, { creditsPosted: AMOUNT_MINOR_MAX - 10n })]);
    const outcome = applyTransferBatch(
      [immediate(T1, move(CASH, MERCHANT, 11n)), immediate(T2, move(CASH, MERCHANT, 10n))],
      view,
      NOW_MS,
    );
    expect(outcome.results).toEqual([
      { id: T1, result: 'overflow', accountId: MERCHANT },
      { id: T2, result: 'ok' },
    ]);
    expect(balancesOf(view, MERCHANT)).toEqual(balances({ creditsPosted: AMOUNT_MINOR_MAX }));
  });

  it('writes each change as an entry carrying the account’s balances after it', () => {
    const view = ledgerView(accounts());
    const outcome = applyTransferBatch(
      [
        immediate(T1, move(CASH, MERCHANT, 100n)),
        pending(T2, move(CASH, WALLET, 30n)),
        immediate(T3, move(CASH, MERCHANT, 5n)),
      ],
      view,
      NOW_MS,
    );
    const cashEntries = outcome.applied.flatMap((transfer) =>
      transfer.entries.filter((entry) => entry.accountId === CASH),
    );
    expect(cashEntries).toEqual([
      { accountId: CASH, direction: 'debit', postedAmount: 100n, pendingChange: 0n, ...after(100n, 0n, 0n, 0n) },
      { accountId: CASH, direction: 'debit', postedAmount: 0n, pendingChange: 30n, ...after(100n, 0n, 30n, 0n) },
      { accountId: CASH, direction: 'debit', postedAmount: 5n, pendingChange: 0n, ...after(105n, 0n, 30n, 0n) },
    ]);
    expect(outcome.applied[1]?.entries.find((entry) => entry.accountId === WALLET)).toEqual({
      accountId: WALLET,
      direction: 'credit',
      postedAmount: 0n,
      pendingChange: 30n,
      ...after(0n, 0n, 0n, 30n),
    });
    expect(balancesOf(view, CASH)).toEqual(balances({ debitsPosted: 105n, debitsPending: 30n }));
  });
});

function after(debitsPosted: bigint, creditsPosted: bigint, debitsPending: bigint, creditsPending: bigint) {
  return {
    debitsPostedAfter: debitsPosted,
    creditsPostedAfter: creditsPosted,
    debitsPendingAfter: debitsPending,
    creditsPendingAfter: creditsPending,
  };
}

describe('transfer engine: retries', () => {
  it('answers exists for the same transfer sent again, and applies it once', () => {
    const transfer = immediate(T1, move(CASH, MERCHANT, 100n));
    const view = ledgerView(accounts(), { existing: new Map([[T1, fingerprintOf(transfer)]]) });
    const outcome = applyTransferBatch([transfer], view, NOW_MS);
    expect(outcome.results).toEqual([{ id: T1, result: 'exists' }]);
    expect(outcome.applied).toEqual([]);
    expect(balancesOf(view, MERCHANT)).toEqual(balances());
  });

  it.each([
    ['another amount', immediate(T1, move(CASH, MERCHANT, 101n))],
    ['another reference', immediate(T1, move(CASH, MERCHANT, 100n), { reference: 'loan-7' })],
    ['another type', pending(T1, move(CASH, MERCHANT, 100n))],
    ['linked this time', immediate(T1, move(CASH, MERCHANT, 100n), { linked: true })],
  ])('answers id_already_used for a transfer under a taken id with %s', (_, reused) => {
    const stored = immediate(T1, move(CASH, MERCHANT, 100n));
    const view = ledgerView(accounts(), { existing: new Map([[T1, fingerprintOf(stored)]]) });
    const batch = reused.linked ? [reused, immediate(T2, move(CASH, MERCHANT, 1n))] : [reused];
    const outcome = applyTransferBatch(batch, view, NOW_MS);
    expect(outcome.results[0]).toEqual({ id: T1, result: 'id_already_used' });
    expect(balancesOf(view, MERCHANT)).toEqual(balances());
    expect(outcome.applied).toEqual([]);
  });
});

describe('transfer engine: linked chains', () => {
  it('applies a chain whose every transfer succeeds', () => {
    const view = ledgerView(accounts());
    const outcome = applyTransferBatch(
      [
        immediate(T1, move(CASH, WALLET, 100n), { linked: true }),
        immediate(T2, move(WALLET, MERCHANT, 100n), { linked: true }),
        pending(T3, move(CASH, WALLET, 40n)),
      ],
      view,
      NOW_MS,
    );
    expect(outcome.results.map((result) => result.result)).toEqual(['ok', 'ok', 'ok']);
    expect(balancesOf(view, WALLET)).toEqual(
      balances({ debitsPosted: 100n, creditsPosted: 100n, creditsPending: 40n }),
    );
    expect(outcome.applied.map((transfer) => transfer.id)).toEqual([T1, T2, T3]);
  });

  it('undoes every earlier member of a chain that fails in the middle, and marks the rest linked_event_failed', () => {
    const view = ledgerView(accounts(), {
      reversalTargets: new Map([
        [T5, { id: T5, type: 'immediate', legs: legsOf(move(CASH, MERCHANT, 10n)), reversed: false }],
      ]),
    });
    view.accounts.set(CASH, account(CASH, { debitsPosted: 10n }));
    view.accounts.set(MERCHANT, account(MERCHANT, { creditsPosted: 10n }));
    const outcome = applyTransferBatch(
      [
        immediate(T1, move(CASH, WALLET, 100n), { linked: true }),
        pending(T2, move(WALLET, MERCHANT, 50n), 60, { linked: true }),
        reversal(T3, T5, { linked: true }),
        immediate(T4, move(WALLET, MERCHANT, 51n), { linked: true }),
        immediate(idOf(106), move(CASH, MERCHANT, 1n)),
      ],
      view,
      NOW_MS,
    );

    expect(outcome.results).toEqual([
      { id: T1, result: 'linked_event_failed' },
      { id: T2, result: 'linked_event_failed' },
      { id: T3, result: 'linked_event_failed' },
      { id: T4, result: 'insufficient_funds', accountId: WALLET },
      { id: idOf(106), result: 'linked_event_failed' },
    ]);
    expect(balancesOf(view, CASH)).toEqual(balances({ debitsPosted: 10n }));
    expect(balancesOf(view, WALLET)).toEqual(balances());
    expect(balancesOf(view, MERCHANT)).toEqual(balances({ creditsPosted: 10n }));
    expect(outcome.openedPendings).toEqual([]);
    expect(outcome.reversedIds).toEqual([]);
    expect(view.openPendings.has(T2)).toBe(false);
    // Nothing of the chain is written: not its transfers, not their entries.
    expect(outcome.applied.map((transfer) => transfer.id)).toEqual([]);
  });

  it('lets the rest of the batch see the ledger as it was before a failed chain', () => {
    const view = ledgerView(accounts(), {
      reversalTargets: new Map([
        [T5, { id: T5, type: 'immediate', legs: legsOf(move(CASH, MERCHANT, 10n)), reversed: false }],
      ]),
    });
    view.accounts.set(CASH, account(CASH, { debitsPosted: 10n }));
    view.accounts.set(MERCHANT, account(MERCHANT, { creditsPosted: 10n }));
    const outcome = applyTransferBatch(
      [
        reversal(T1, T5, { linked: true }),
        immediate(T2, move(CASH, CLOSED, 1n)),
        // The reversal was undone: T5 can be reversed again.
        reversal(T3, T5),
      ],
      view,
      NOW_MS,
    );
    expect(outcome.results).toEqual([
      { id: T1, result: 'linked_event_failed' },
      { id: T2, result: 'account_closed', accountId: CLOSED },
      { id: T3, result: 'ok' },
    ]);
    expect(outcome.reversedIds).toEqual([T5]);
    expect(balancesOf(view, MERCHANT)).toEqual(balances({ creditsPosted: 10n, debitsPosted: 10n }));
  });

  it('keeps a second chain of the batch apart from the first one’s failure', () => {
    const view = ledgerView(accounts());
    const outcome = applyTransferBatch(
      [
        immediate(T1, move(CASH, WALLET, 100n), { linked: true }),
        immediate(T2, move(CASH, UNKNOWN_ACCOUNT, 1n)),
        immediate(T3, move(CASH, WALLET, 70n), { linked: true }),
        immediate(T4, move(WALLET, MERCHANT, 70n)),
      ],
      view,
      NOW_MS,
    );
    expect(outcome.results).toEqual([
      { id: T1, result: 'linked_event_failed' },
      { id: T2, result: 'account_not_found', accountId: UNKNOWN_ACCOUNT },
      { id: T3, result: 'ok' },
      { id: T4, result: 'ok' },
    ]);
    expect(balancesOf(view, WALLET)).toEqual(balances({ debitsPosted: 70n, creditsPosted: 70n }));
    expect(balancesOf(view, MERCHANT)).toEqual(balances({ creditsPosted: 70n }));
  });

  it('leaves a retried member of a failed chain as exists: it was applied before, not now', () => {
    const retried = immediate(T1, move(CASH, MERCHANT, 5n), { linked: true });
    const view = ledgerView(accounts(), { existing: new Map([[T1, fingerprintOf(retried)]]) });
    const outcome = applyTransferBatch([retried, immediate(T2, move(WALLET, MERCHANT, 1n))], view, NOW_MS);
    expect(outcome.results).toEqual([
      { id: T1, result: 'exists' },
      { id: T2, result: 'insufficient_funds', accountId: WALLET },
    ]);
  });
});
