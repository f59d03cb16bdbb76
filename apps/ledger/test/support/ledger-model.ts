import { AMOUNT_MINOR_MAX, type TransferCommand, type TransferResult } from '@strongroom/contracts';

/**
 * The ledger's rules, written a second time from the contracts (ledger-transfers.ts) and
 * TigerBeetle's semantics, without the engine's code: each transfer is applied to a copy of the
 * ledger and the copy is kept only when every check passes; a linked chain is kept or dropped
 * whole. Slow and plain on purpose: the property tests hold the engine and the repository to it.
 */

export type Side = 'debit' | 'credit';

export interface ModelBalances {
  debitsPosted: bigint;
  creditsPosted: bigint;
  debitsPending: bigint;
  creditsPending: bigint;
}

export interface ModelAccount extends ModelBalances {
  id: string;
  currency: string;
  closed: boolean;
  debitsMustNotExceedCredits: boolean;
  creditsMustNotExceedDebits: boolean;
}

/** What the ledger writes itself when a pending transfer's timeout has passed. */
export interface ModelExpiry {
  type: 'expiry';
  id: string;
  pendingId: string;
}

export type ModelCommand = TransferCommand | ModelExpiry;

interface ModelLeg {
  accountId: string;
  direction: Side;
  amount: bigint;
  currency: string;
}

interface ModelTransfer {
  /** The command as sent: the same id with another body is `id_already_used`. */
  body: string;
  /** What it moved to posted balances when a reversal may compensate it (immediate, post_pending); null otherwise. */
  reversible: ModelLeg[] | null;
  reversed: boolean;
}

interface ModelPending {
  legs: ModelLeg[];
  expiresAtMs: number | null;
  status: 'open' | 'posted' | 'voided' | 'expired';
}

export interface ModelLedger {
  accounts: Map<string, ModelAccount>;
  transfers: Map<string, ModelTransfer>;
  pendings: Map<string, ModelPending>;
}

type Verdict = Omit<TransferResult, 'id'>;

export function modelLedgerOf(accounts: readonly ModelAccount[]): ModelLedger {
  return {
    accounts: new Map(accounts.map((account) => [account.id, { ...account }])),
    transfers: new Map(),
    pendings: new Map(),
  };
}

/** The ledger after a batch, and one result per command; the ledger passed in is left as it was. */
export function applyModelBatch(
  ledger: ModelLedger,
  commands: readonly ModelCommand[],
  nowMs: number,
): { ledger: ModelLedger; results: TransferResult[] } {
  let current = ledger;
  const results: TransferResult[] = [];
  for (const chain of chainsOf(commands)) {
    const outcome = applyChain(current, chain, nowMs);
    current = outcome.ledger;
    results.push(...outcome.results);
  }
  return { ledger: current, results };
}

/** Pending transfers still open whose timeout has passed at `nowMs`: what the expiry sweep would expire. */
export function duePendingIds(ledger: ModelLedger, nowMs: number): string[] {
  return [...ledger.pendings]
    .filter(([, pending]) => pending.status === 'open' && pending.expiresAtMs !== null && pending.expiresAtMs <= nowMs)
    .map(([id]) => id);
}

/** Runs of commands joined by `linked`: each chain ends at the first command that is not linked. */
function chainsOf(commands: readonly ModelCommand[]): ModelCommand[][] {
  const chains: ModelCommand[][] = [];
  let chain: ModelCommand[] = [];
  for (const command of commands) {
    chain.push(command);
    if (command.type === 'expiry' || !command.linked) {
      chains.push(chain);
      chain = [];
    }
  }
  if (chain.length > 0) throw new Error('the batch ends inside a linked chain (the contract refuses it)');
  return chains;
}

function applyChain(
  ledger: ModelLedger,
  chain: readonly ModelCommand[],
  nowMs: number,
): { ledger: ModelLedger; results: TransferResult[] } {
  let working = ledger;
  const results: TransferResult[] = [];
  for (const [index, command] of chain.entries()) {
    const attempt = cloneLedger(working);
    const verdict = applyTransfer(attempt, command, nowMs);
    if (verdict.result === 'ok' || verdict.result === 'exists') {
      working = attempt;
      results.push({ id: command.id, result: verdict.result });
      continue;
    }
    // The chain fails as a whole: what it applied is dropped (a retry that `exists` stays so).
    const undone = results.map((result) =>
      result.result === 'ok' ? { id: result.id, result: 'linked_event_failed' as const } : result,
    );
    const skipped = chain.slice(index + 1).map((rest) => ({ id: rest.id, result: 'linked_event_failed' as const }));
    return { ledger, results: [...undone, { id: command.id, ...verdict }, ...skipped] };
  }
  return { ledger: working, results };
}

function cloneLedger(ledger: ModelLedger): ModelLedger {
  return {
    accounts: new Map([...ledger.accounts].map(([id, account]) => [id, { ...account }])),
    transfers: new Map([...ledger.transfers].map(([id, transfer]) => [id, { ...transfer }])),
    pendings: new Map([...ledger.pendings].map(([id, pending]) => [id, { ...pending }])),
  };
}

/** Applies one command to `ledger` (a copy the caller throws away unless the verdict is ok or exists). */
function applyTransfer(ledger: ModelLedger, command: ModelCommand, nowMs: number): Verdict {
  const stored = ledger.transfers.get(command.id);
  if (stored !== undefined) return { result: stored.body === JSON.stringify(command) ? 'exists' : 'id_already_used' };
  switch (command.type) {
    case 'immediate':
    case 'pending': {
      const legs = command.postings.map(legOf);
      const refused = refuseAccounts(ledger, legs);
      if (refused) return refused;
      for (const leg of legs) {
        const account = accountOf(ledger, leg);
        if (command.type === 'immediate') addPosted(account, leg.direction, leg.amount);
        else addPending(account, leg.direction, leg.amount);
      }
      if (command.type === 'pending') {
        const expiresAtMs = command.timeoutSeconds > 0 ? nowMs + command.timeoutSeconds * 1000 : null;
        ledger.pendings.set(command.id, { legs, expiresAtMs, status: 'open' });
      }
      return settle(ledger, command, legs, command.type === 'immediate' ? legs : null);
    }
    case 'post_pending':
    case 'void_pending':
    case 'expiry': {
      const pending = ledger.pendings.get(command.pendingId);
      if (pending === undefined) return { result: 'pending_transfer_not_found' };
      const refused = refuseResolution(pending, command.type, nowMs);
      if (refused) return refused;
      const posted = command.type === 'post_pending' ? (command.postings?.map(legOf) ?? pending.legs) : [];
      const mismatch = command.type === 'post_pending' ? refuseMismatch(pending.legs, posted) : undefined;
      if (mismatch) return mismatch;
      for (const leg of pending.legs) {
        const account = accountOf(ledger, leg);
        addPending(account, leg.direction, -leg.amount);
        addPosted(account, leg.direction, posted.find((part) => part.accountId === leg.accountId)?.amount ?? 0n);
      }
      pending.status = STATUS_AFTER[command.type];
      return settle(ledger, command, pending.legs, command.type === 'post_pending' ? posted : null);
    }
    case 'reversal': {
      const target = ledger.transfers.get(command.reversesId);
      if (target === undefined) return { result: 'reversal_target_not_found' };
      if (target.reversible === null) return { result: 'reversal_target_not_posted' };
      if (target.reversed) return { result: 'transfer_already_reversed' };
      const legs = target.reversible.map(
        (leg) => ({ ...leg, direction: leg.direction === 'debit' ? 'credit' : 'debit' }) as const,
      );
      const refused = refuseAccounts(ledger, legs);
      if (refused) return refused;
      for (const leg of legs) addPosted(accountOf(ledger, leg), leg.direction, leg.amount);
      target.reversed = true;
      return settle(ledger, command, legs, null);
    }
  }
}

const STATUS_AFTER = { post_pending: 'posted', void_pending: 'voided', expiry: 'expired' } as const;
const REFUSAL_OF_STATUS = {
  posted: 'pending_transfer_already_posted',
  voided: 'pending_transfer_already_voided',
  expired: 'pending_transfer_expired',
} as const;

function refuseResolution(
  pending: ModelPending,
  type: 'post_pending' | 'void_pending' | 'expiry',
  nowMs: number,
): Verdict | undefined {
  if (pending.status !== 'open') return { result: REFUSAL_OF_STATUS[pending.status] };
  const due = pending.expiresAtMs !== null && pending.expiresAtMs <= nowMs;
  // Only a pending transfer whose timeout passed can expire; only one whose timeout has not can be posted or voided.
  if (type === 'expiry' && !due) return { result: 'pending_transfer_not_found' };
  if (type !== 'expiry' && due) return { result: 'pending_transfer_expired' };
  return undefined;
}

/** A post names the pending transfer's accounts, directions and currencies, each amount no larger. */
function refuseMismatch(reserved: readonly ModelLeg[], posted: readonly ModelLeg[]): Verdict | undefined {
  if (posted.length !== reserved.length) return { result: 'postings_must_match_pending' };
  for (const leg of posted) {
    const match = reserved.find((candidate) => candidate.accountId === leg.accountId);
    if (match === undefined || match.direction !== leg.direction || match.currency !== leg.currency) {
      return { result: 'postings_must_match_pending', accountId: leg.accountId };
    }
    if (leg.amount > match.amount) return { result: 'post_exceeds_pending_amount', accountId: leg.accountId };
  }
  return undefined;
}

function refuseAccounts(ledger: ModelLedger, legs: readonly ModelLeg[]): Verdict | undefined {
  for (const leg of legs) {
    const account = ledger.accounts.get(leg.accountId);
    if (account === undefined) return { result: 'account_not_found', accountId: leg.accountId };
    if (account.closed) return { result: 'account_closed', accountId: leg.accountId };
    if (account.currency !== leg.currency) return { result: 'currency_mismatch', accountId: leg.accountId };
  }
  return undefined;
}

/** Keeps the transfer when every account it touched is within bigint and within its limit. */
function settle(
  ledger: ModelLedger,
  command: ModelCommand,
  touched: readonly ModelLeg[],
  reversible: ModelLeg[] | null,
): Verdict {
  for (const leg of touched) {
    const account = accountOf(ledger, leg);
    const balances = [account.debitsPosted, account.creditsPosted, account.debitsPending, account.creditsPending];
    if (balances.some((balance) => balance < 0n)) throw new Error(`model: a balance of ${account.id} went negative`);
    if (balances.some((balance) => balance > AMOUNT_MINOR_MAX)) return { result: 'overflow', accountId: account.id };
    if (account.debitsMustNotExceedCredits && account.debitsPosted + account.debitsPending > account.creditsPosted) {
      return { result: 'insufficient_funds', accountId: account.id };
    }
    if (account.creditsMustNotExceedDebits && account.creditsPosted + account.creditsPending > account.debitsPosted) {
      return { result: 'credit_limit_exceeded', accountId: account.id };
    }
  }
  ledger.transfers.set(command.id, { body: JSON.stringify(command), reversible, reversed: false });
  return { result: 'ok' };
}

function legOf(posting: { accountId: string; direction: Side; amount: string; currency: string }): ModelLeg {
  return { ...posting, amount: BigInt(posting.amount) };
}

function accountOf(ledger: ModelLedger, leg: ModelLeg): ModelAccount {
  const account = ledger.accounts.get(leg.accountId);
  if (account === undefined) throw new Error(`model: no account ${leg.accountId}`);
  return account;
}

function addPosted(account: ModelAccount, side: Side, amount: bigint): void {
  if (side === 'debit') account.debitsPosted += amount;
  else account.creditsPosted += amount;
}

function addPending(account: ModelAccount, side: Side, amount: bigint): void {
  if (side === 'debit') account.debitsPending += amount;
  else account.creditsPending += amount;
}
