import {
  type Posting,
  type TransferCommand,
  type TransferCommandInput,
  transferCommandSchema,
} from '@strongroom/contracts';
import type { AccountState, ExpiryCommand, LedgerView, Leg } from '../../src/transfers/ledger-state';

/** Fixtures of the engine's unit tests: a few accounts, commands as a client sends them, balances. */

export const NOW_MS = Date.parse('2030-01-01T00:00:00Z');

export function idOf(n: number): string {
  return `00000000-0000-4000-8000-${n.toString().padStart(12, '0')}`;
}

/** The bank's settlement account: no limits. */
export const CASH = idOf(1);
/** A customer's wallet: cannot go negative (debits ≤ credits). */
export const WALLET = idOf(2);
export const MERCHANT = idOf(3);
/** A credit line: credits ≤ debits. */
export const CREDIT_LINE = idOf(4);
export const EURO_CASH = idOf(5);
export const CLOSED = idOf(6);
/** Named by commands, never loaded. */
export const UNKNOWN_ACCOUNT = idOf(7);

export type Balances = Pick<AccountState, 'debitsPosted' | 'creditsPosted' | 'debitsPending' | 'creditsPending'>;

export function balances(some: Partial<Balances> = {}): Balances {
  return { debitsPosted: 0n, creditsPosted: 0n, debitsPending: 0n, creditsPending: 0n, ...some };
}

export function account(id: string, fields: Partial<AccountState> = {}): AccountState {
  return {
    id,
    currency: 'USD',
    closed: false,
    debitsMustNotExceedCredits: false,
    creditsMustNotExceedDebits: false,
    ...balances(),
    ...fields,
  };
}

/** The six accounts above, the wallet holding `walletCreditsMinor` (funded from cash). */
export function accounts(walletCreditsMinor = 0n): AccountState[] {
  return [
    account(CASH, { debitsPosted: walletCreditsMinor }),
    account(WALLET, { debitsMustNotExceedCredits: true, creditsPosted: walletCreditsMinor }),
    account(MERCHANT),
    account(CREDIT_LINE, { creditsMustNotExceedDebits: true }),
    account(EURO_CASH, { currency: 'EUR' }),
    account(CLOSED, { closed: true }),
  ];
}

export function ledgerView(
  loaded: readonly AccountState[],
  stored: Partial<Omit<LedgerView, 'accounts'>> = {},
): LedgerView {
  return {
    accounts: new Map(loaded.map((state) => [state.id, state])),
    existing: new Map(),
    openPendings: new Map(),
    resolvedPendings: new Map(),
    reversalTargets: new Map(),
    ...stored,
  };
}

export function balancesOf(view: LedgerView, accountId: string): Balances {
  const state = view.accounts.get(accountId);
  if (state === undefined) throw new Error(`account ${accountId} is not in the view`);
  const { debitsPosted, creditsPosted, debitsPending, creditsPending } = state;
  return { debitsPosted, creditsPosted, debitsPending, creditsPending };
}

/** Debits `from`, credits `to`. */
export function move(from: string, to: string, amountMinor: bigint, currency = 'USD'): Posting[] {
  return [
    { accountId: from, direction: 'debit', amount: amountMinor.toString(), currency },
    { accountId: to, direction: 'credit', amount: amountMinor.toString(), currency },
  ];
}

/** The legs the engine keeps for `postings`. */
export function legsOf(postings: readonly Posting[]): Leg[] {
  return postings.map((posting) => ({ ...posting, amount: BigInt(posting.amount) }));
}

type Extra = Partial<Pick<TransferCommandInput, 'linked' | 'reference' | 'category'>>;

/** Parsed by the contract, defaults filled in, as the handler passes it on. */
export function command(input: TransferCommandInput): TransferCommand {
  return transferCommandSchema.parse(input);
}

export const immediate = (id: string, postings: Posting[], extra: Extra = {}) =>
  command({ type: 'immediate', id, postings, ...extra });
export const pending = (id: string, postings: Posting[], timeoutSeconds = 0, extra: Extra = {}) =>
  command({ type: 'pending', id, postings, timeoutSeconds, ...extra });
export const post = (id: string, pendingId: string, postings?: Posting[], extra: Extra = {}) =>
  command({ type: 'post_pending', id, pendingId, ...(postings ? { postings } : {}), ...extra });
export const voidPending = (id: string, pendingId: string, extra: Extra = {}) =>
  command({ type: 'void_pending', id, pendingId, ...extra });
export const reversal = (id: string, reversesId: string, extra: Extra = {}) =>
  command({ type: 'reversal', id, reversesId, ...extra });
export const expiry = (id: string, pendingId: string): ExpiryCommand => ({ type: 'expiry', id, pendingId });
