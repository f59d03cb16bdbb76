import { createHash } from 'node:crypto';
import { AMOUNT_MINOR_MAX, type TransferResult, type TransferResultCode } from '@strongroom/contracts';
import type {
  AccountState,
  AppliedTransfer,
  Direction,
  EngineCommand,
  EntryDraft,
  LedgerView,
  Leg,
  OpenPending,
  PendingOutcome,
  ReversalTarget,
} from './ledger-state';

/** What a batch did: one result per command, and the rows to write for those applied. */
export interface BatchOutcome {
  results: TransferResult[];
  applied: AppliedTransfer[];
  /** Accounts whose balances changed, in their final state. */
  changedAccounts: AccountState[];
  /** Pending transfers opened by the batch and still open at its end. */
  openedPendings: OpenPending[];
  /** Pending transfers (opened before or within the batch) resolved by it. */
  resolvedPendings: Array<{ id: string; outcome: PendingOutcome }>;
  /** Transfers the batch reversed. */
  reversedIds: string[];
}

interface Refusal {
  code: Exclude<TransferResultCode, 'ok' | 'exists' | 'linked_event_failed'>;
  accountId?: string;
}

/** A balance change before it is applied: the amounts one leg adds to its account. */
interface Movement {
  accountId: string;
  direction: Direction;
  postedAmount: bigint;
  pendingChange: bigint;
}

/**
 * Applies a batch of transfers to the balances in `view`, in order, as TigerBeetle does: each
 * transfer gets its own result, a linked chain succeeds or fails as a whole, and nothing a
 * refused transfer asked for is kept. Pure: the repository loads `view` under row locks and
 * writes what this returns; `nowMs` decides which pending transfers have expired.
 */
export function applyTransferBatch(
  commands: readonly EngineCommand[],
  view: LedgerView,
  nowMs: number,
  /** Fingerprints by command id, when computed beforehand (outside the accounts' locks). */
  fingerprints?: ReadonlyMap<string, string>,
): BatchOutcome {
  return new BatchRun(view, nowMs, fingerprints).run(commands);
}

class BatchRun {
  private readonly results: TransferResult[] = [];
  private readonly applied: AppliedTransfer[] = [];
  private readonly opened = new Map<string, OpenPending>();
  private readonly resolved = new Map<string, PendingOutcome>();
  private readonly reversed = new Set<string>();
  /** Transfers applied earlier in this batch that a later reversal may name. */
  private readonly batchTargets = new Map<string, ReversalTarget>();
  /** While a linked chain runs: how to undo what it changed. */
  private undo: Array<() => void> | undefined;

  constructor(
    private readonly view: LedgerView,
    private readonly nowMs: number,
    private readonly fingerprints: ReadonlyMap<string, string> | undefined,
  ) {}

  run(commands: readonly EngineCommand[]): BatchOutcome {
    let chainStart = -1;
    for (let index = 0; index < commands.length; index += 1) {
      const command = commands[index] as EngineCommand;
      const linked = command.type !== 'expiry' && command.linked;
      if (chainStart < 0 && linked) {
        chainStart = index;
        const appliedBeforeChain = this.applied.length;
        this.undo = [() => this.applied.splice(appliedBeforeChain)];
      }
      const appliedBefore = this.applied.length;
      const refusal = this.apply(command);
      this.results.push(
        refusal === undefined
          ? { id: command.id, result: this.applied.length > appliedBefore ? 'ok' : 'exists' }
          : { id: command.id, result: refusal.code, ...(refusal.accountId ? { accountId: refusal.accountId } : {}) },
      );
      if (chainStart < 0) continue;
      if (refusal !== undefined) {
        index = this.failChain(commands, chainStart, index);
        chainStart = -1;
      } else if (!linked) {
        this.undo = undefined;
        chainStart = -1;
      }
    }
    return {
      results: this.results,
      applied: this.applied,
      // The accounts of what was applied (one touched only by an undone chain is as it was).
      changedAccounts: [
        ...new Set(this.applied.flatMap((transfer) => transfer.entries.map((entry) => entry.accountId))),
      ].map((id) => this.view.accounts.get(id) as AccountState),
      openedPendings: [...this.opened.values()].filter((pending) => this.view.openPendings.has(pending.id)),
      resolvedPendings: [...this.resolved].map(([id, outcome]) => ({ id, outcome })),
      reversedIds: [...this.reversed],
    };
  }

  /** Undoes the chain, marks its applied members failed and skips its remaining ones; returns the last index of the chain. */
  private failChain(commands: readonly EngineCommand[], chainStart: number, failedIndex: number): number {
    const undo = this.undo ?? [];
    for (let step = undo.length - 1; step >= 0; step -= 1) undo[step]?.();
    this.undo = undefined;
    for (let index = chainStart; index < failedIndex; index += 1) {
      const result = this.results[index] as TransferResult;
      if (result.result === 'ok') this.results[index] = { id: result.id, result: 'linked_event_failed' };
    }
    let index = failedIndex;
    while (index + 1 < commands.length && isLinked(commands[index] as EngineCommand)) {
      index += 1;
      this.results.push({ id: (commands[index] as EngineCommand).id, result: 'linked_event_failed' });
    }
    return index;
  }

  /** Applies one command; undefined when it was applied or already existed. */
  private apply(command: EngineCommand): Refusal | undefined {
    const fingerprint = this.fingerprints?.get(command.id) ?? fingerprintOf(command);
    const stored = this.view.existing.get(command.id);
    if (stored !== undefined) return stored === fingerprint ? undefined : { code: 'id_already_used' };
    switch (command.type) {
      case 'immediate':
      case 'pending': {
        const legs = command.postings.map(legOf);
        const refusal = this.checkAccounts(legs);
        if (refusal) return refusal;
        const pending = command.type === 'pending';
        const movements = legs.map((leg) => movementOf(leg, pending ? 0n : leg.amount, pending ? leg.amount : 0n));
        const timeoutSeconds = pending ? command.timeoutSeconds : null;
        const expiresAtMs = timeoutSeconds ? this.nowMs + timeoutSeconds * 1000 : null;
        return this.commit(command, fingerprint, legs, movements, { timeoutSeconds, expiresAtMs }, () => {
          if (pending) this.openPending({ id: command.id, legs, expiresAtMs });
        });
      }
      case 'post_pending': {
        const found = this.openPendingOf(command.pendingId);
        if ('code' in found) return found;
        const legs = command.postings ? command.postings.map(legOf) : found.legs;
        const refusal = partialPostRefusal(found.legs, legs);
        if (refusal) return refusal;
        const posted = new Map(legs.map((leg) => [leg.accountId, leg.amount]));
        const movements = found.legs.map((leg) => movementOf(leg, posted.get(leg.accountId) ?? 0n, -leg.amount));
        return this.commit(command, fingerprint, legs, movements, {}, () => this.resolvePending(found, 'posted'));
      }
      case 'void_pending':
      case 'expiry': {
        const found = this.openPendingOf(command.pendingId, command.type === 'expiry');
        if ('code' in found) return found;
        const movements = found.legs.map((leg) => movementOf(leg, 0n, -leg.amount));
        const outcome = command.type === 'expiry' ? 'expired' : 'voided';
        return this.commit(command, fingerprint, found.legs, movements, {}, () => this.resolvePending(found, outcome));
      }
      case 'reversal': {
        const target = this.batchTargets.get(command.reversesId) ?? this.view.reversalTargets.get(command.reversesId);
        if (target === undefined) return { code: 'reversal_target_not_found' };
        if (target.type !== 'immediate' && target.type !== 'post_pending')
          return { code: 'reversal_target_not_posted' };
        if (target.reversed || this.reversed.has(target.id)) return { code: 'transfer_already_reversed' };
        const legs = target.legs.map((leg) => ({ ...leg, direction: opposite(leg.direction) }));
        const refusal = this.checkAccounts(legs);
        if (refusal) return refusal;
        const movements = legs.map((leg) => movementOf(leg, leg.amount, 0n));
        return this.commit(command, fingerprint, legs, movements, {}, () => {
          this.reversed.add(target.id);
          this.undo?.push(() => this.reversed.delete(target.id));
        });
      }
    }
  }

  /** Every account of new postings exists, is open and holds the posting's currency. */
  private checkAccounts(legs: readonly Leg[]): Refusal | undefined {
    for (const leg of legs) {
      const account = this.view.accounts.get(leg.accountId);
      if (account === undefined) return { code: 'account_not_found', accountId: leg.accountId };
      if (account.closed) return { code: 'account_closed', accountId: leg.accountId };
      if (account.currency !== leg.currency) return { code: 'currency_mismatch', accountId: leg.accountId };
    }
    return undefined;
  }

  /** A pending transfer that is open now, or why it cannot be posted, voided or expired. */
  private openPendingOf(pendingId: string, expiring = false): OpenPending | Refusal {
    const outcome = this.resolved.get(pendingId) ?? this.view.resolvedPendings.get(pendingId);
    if (outcome !== undefined) return { code: OUTCOME_REFUSALS[outcome] };
    const pending = this.view.openPendings.get(pendingId);
    if (pending === undefined) return { code: 'pending_transfer_not_found' };
    const expired = pending.expiresAtMs !== null && pending.expiresAtMs <= this.nowMs;
    // An expiry applies only to an expired pending transfer; a post or void only to a live one.
    if (expired !== expiring) return { code: expiring ? 'pending_transfer_not_found' : 'pending_transfer_expired' };
    return pending;
  }

  /**
   * Applies the movements when every resulting balance is within bounds and limits; the
   * balances of a refused transfer are left as they were.
   */
  private commit(
    command: EngineCommand,
    fingerprint: string,
    legs: readonly Leg[],
    movements: readonly Movement[],
    timing: { timeoutSeconds?: number | null; expiresAtMs?: number | null },
    onApplied: () => void,
  ): Refusal | undefined {
    const next = movements.map((movement) => ({ movement, after: balancesAfter(this.accountOf(movement), movement) }));
    for (const { movement, after } of next) {
      const refusal = limitRefusal(after);
      if (refusal) return { code: refusal, accountId: movement.accountId };
    }
    const entries: EntryDraft[] = next.map(({ movement, after }) => {
      this.replaceBalances(after);
      return {
        ...movement,
        debitsPostedAfter: after.debitsPosted,
        creditsPostedAfter: after.creditsPosted,
        debitsPendingAfter: after.debitsPending,
        creditsPendingAfter: after.creditsPending,
      };
    });
    const isClient = command.type !== 'expiry';
    this.applied.push({
      id: command.id,
      type: command.type,
      category: isClient ? command.category : 'other',
      reference: isClient ? (command.reference ?? null) : null,
      metadata: isClient ? command.metadata : {},
      legs,
      pendingId: 'pendingId' in command ? command.pendingId : null,
      reversesId: command.type === 'reversal' ? command.reversesId : null,
      timeoutSeconds: timing.timeoutSeconds ?? null,
      expiresAtMs: timing.expiresAtMs ?? null,
      fingerprint,
      entries,
    });
    // A later reversal in the batch may name it: only immediate and post_pending moved posted amounts.
    const posted = command.type === 'immediate' || command.type === 'post_pending';
    this.addTarget({ id: command.id, type: command.type, legs: posted ? legs : [], reversed: false });
    onApplied();
    return undefined;
  }

  private accountOf(movement: Movement): AccountState {
    const account = this.view.accounts.get(movement.accountId);
    // The pending and reversal legs name accounts loaded with them; a missing one is a repository bug.
    if (account === undefined) throw new Error(`account ${movement.accountId} was not loaded for the batch`);
    return account;
  }

  private replaceBalances(after: AccountState): void {
    const before = this.view.accounts.get(after.id) as AccountState;
    this.view.accounts.set(after.id, after);
    this.undo?.push(() => this.view.accounts.set(before.id, before));
  }

  private openPending(pending: OpenPending): void {
    this.view.openPendings.set(pending.id, pending);
    this.opened.set(pending.id, pending);
    this.undo?.push(() => {
      this.view.openPendings.delete(pending.id);
      this.opened.delete(pending.id);
    });
  }

  private resolvePending(pending: OpenPending, outcome: PendingOutcome): void {
    this.view.openPendings.delete(pending.id);
    this.resolved.set(pending.id, outcome);
    this.undo?.push(() => {
      this.view.openPendings.set(pending.id, pending);
      this.resolved.delete(pending.id);
    });
  }

  private addTarget(target: ReversalTarget): void {
    this.batchTargets.set(target.id, target);
    this.undo?.push(() => this.batchTargets.delete(target.id));
  }
}

const OUTCOME_REFUSALS = {
  posted: 'pending_transfer_already_posted',
  voided: 'pending_transfer_already_voided',
  expired: 'pending_transfer_expired',
} as const satisfies Record<PendingOutcome, Refusal['code']>;

function isLinked(command: EngineCommand): boolean {
  return command.type !== 'expiry' && command.linked;
}

function opposite(direction: Direction): Direction {
  return direction === 'debit' ? 'credit' : 'debit';
}

function legOf(posting: { accountId: string; direction: Direction; amount: string; currency: string }): Leg {
  return {
    accountId: posting.accountId,
    direction: posting.direction,
    amount: BigInt(posting.amount),
    currency: posting.currency,
  };
}

function movementOf(leg: Leg, postedAmount: bigint, pendingChange: bigint): Movement {
  return { accountId: leg.accountId, direction: leg.direction, postedAmount, pendingChange };
}

/** A partial post names exactly the pending transfer's accounts and directions, each amount no larger. */
function partialPostRefusal(pendingLegs: readonly Leg[], legs: readonly Leg[]): Refusal | undefined {
  if (legs.length !== pendingLegs.length) return { code: 'postings_must_match_pending' };
  const reserved = new Map(pendingLegs.map((leg) => [leg.accountId, leg]));
  for (const leg of legs) {
    const pending = reserved.get(leg.accountId);
    if (pending === undefined || pending.direction !== leg.direction || pending.currency !== leg.currency) {
      return { code: 'postings_must_match_pending', accountId: leg.accountId };
    }
    if (leg.amount > pending.amount) return { code: 'post_exceeds_pending_amount', accountId: leg.accountId };
  }
  return undefined;
}

function balancesAfter(account: AccountState, movement: Movement): AccountState {
  const debit = movement.direction === 'debit';
  return {
    ...account,
    debitsPosted: account.debitsPosted + (debit ? movement.postedAmount : 0n),
    creditsPosted: account.creditsPosted + (debit ? 0n : movement.postedAmount),
    debitsPending: account.debitsPending + (debit ? movement.pendingChange : 0n),
    creditsPending: account.creditsPending + (debit ? 0n : movement.pendingChange),
  };
}

/** TigerBeetle's limits: reserved and posted debits within posted credits (and the mirror); every balance fits a bigint. */
function limitRefusal(after: AccountState): Refusal['code'] | undefined {
  const { debitsPosted, creditsPosted, debitsPending, creditsPending } = after;
  if (debitsPending < 0n || creditsPending < 0n) throw new Error(`pending balance of ${after.id} would be negative`);
  if ([debitsPosted, creditsPosted, debitsPending, creditsPending].some((value) => value > AMOUNT_MINOR_MAX)) {
    return 'overflow';
  }
  if (after.debitsMustNotExceedCredits && debitsPosted + debitsPending > creditsPosted) return 'insufficient_funds';
  if (after.creditsMustNotExceedDebits && creditsPosted + creditsPending > debitsPosted) return 'credit_limit_exceeded';
  return undefined;
}

/**
 * What a transfer asked for, as one string: the same id sent again with the same fingerprint is
 * a retry (`exists`), with another one a reuse of the id (`id_already_used`). SHA-256 hex, as stored.
 */
export function fingerprintOf(command: EngineCommand): string {
  return createHash('sha256').update(fingerprintJson(command)).digest('hex');
}

function fingerprintJson(command: EngineCommand): string {
  if (command.type === 'expiry') return JSON.stringify(['expiry', command.pendingId]);
  return JSON.stringify([
    command.type,
    command.category,
    command.reference ?? null,
    Object.entries(command.metadata).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    command.linked,
    'postings' in command && command.postings
      ? command.postings.map((posting) => [posting.accountId, posting.direction, posting.amount, posting.currency])
      : null,
    'pendingId' in command ? command.pendingId : null,
    command.type === 'reversal' ? command.reversesId : null,
    command.type === 'pending' ? command.timeoutSeconds : null,
  ]);
}
