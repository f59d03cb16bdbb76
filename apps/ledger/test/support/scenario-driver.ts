import { createHash } from 'node:crypto';
import {
  AMOUNT_MINOR_MAX,
  type Posting,
  type TransferCommand,
  type TransferCommandInput,
  transferCommandSchema,
} from '@strongroom/contracts';
import type { ModelAccount, ModelExpiry, Side } from './ledger-model';
import {
  type BatchSpec,
  type LegsSpec,
  type OperationSpec,
  type PostShape,
  SCENARIO_CURRENCIES,
  type ScenarioSpec,
} from './ledger-scenarios';

/**
 * Turns a scenario's specs into commands valid under the contracts, naming the accounts and
 * transfers of the scenario so far: often ones that were refused, resolved or never existed
 * (the negative space).
 */

/** The ids of one scenario: numbered UUIDs, readable in a counterexample (scenarios in Postgres each have a tenant). */
export function numberedIds(): () => string {
  let next = 0;
  return () => {
    next += 1;
    return `00000000-0000-4000-8000-${next.toString(16).padStart(12, '0')}`;
  };
}

/** An expiry with an id derived from its pending transfer, so the model and the ledger see the same command (the service draws a random one). */
export function expiryOf(pendingId: string): ModelExpiry {
  const hex = createHash('sha256').update(`expiry:${pendingId}`).digest('hex');
  const id = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
  return { type: 'expiry', id, pendingId };
}

/** Turns a scenario's specs into accounts and commands, remembering what it sent. */
export class ScenarioDriver {
  readonly accounts: ModelAccount[];
  private readonly sent: TransferCommand[] = [];
  private readonly pendings: TransferCommand[] = [];

  constructor(
    spec: ScenarioSpec,
    private readonly freshId: () => string,
  ) {
    this.accounts = spec.accounts.map((account) => ({
      id: freshId(),
      currency: SCENARIO_CURRENCIES[account.currencyIndex] as string,
      closed: account.closed,
      debitsMustNotExceedCredits: account.limit === 'debits',
      creditsMustNotExceedDebits: account.limit === 'credits',
      debitsPosted: 0n,
      creditsPosted: 0n,
      debitsPending: 0n,
      creditsPending: 0n,
    }));
  }

  /** Expiries for the pending transfers the batch picks (the sweep's own are the test's to add). */
  expiriesOf(batch: BatchSpec): ModelExpiry[] {
    if (this.pendings.length === 0) return [];
    return batch.expiryPicks.map((pick) => expiryOf(pickOf(this.pendings, pick).id));
  }

  /** The client's batch: ids distinct, the last transfer not linked (the contract refuses both). */
  commandsOf(batch: BatchSpec): TransferCommand[] {
    const commands: TransferCommand[] = [];
    for (const operation of batch.operations) {
      const command = this.commandOf(operation);
      if (command === undefined || commands.some((other) => other.id === command.id)) continue;
      // Later commands of the batch may name this one (post a pending transfer opened just before).
      commands.push(command);
      this.remember(command);
    }
    const last = commands.at(-1);
    if (last?.linked) {
      const unlinked = parse({ ...last, linked: false });
      commands[commands.length - 1] = unlinked;
      this.remember(unlinked);
    }
    return commands;
  }

  private remember(command: TransferCommand): void {
    this.sent.push(command);
    if (command.type === 'pending') this.pendings.push(command);
  }

  private commandOf(spec: OperationSpec): TransferCommand | undefined {
    switch (spec.kind) {
      case 'immediate':
      case 'pending':
      case 'reuse': {
        const postings = this.postingsOf(spec);
        if (postings === undefined) return undefined;
        if (spec.kind === 'reuse' && this.sent.length === 0) return undefined;
        const id = spec.kind === 'reuse' ? pickOf(this.sent, spec.pick).id : this.freshId();
        const timeout = spec.kind === 'pending' ? { timeoutSeconds: spec.timeoutSeconds } : {};
        const type = spec.kind === 'pending' ? 'pending' : 'immediate';
        return parse({ type, id, linked: spec.linked, postings, ...timeout });
      }
      case 'post':
      case 'void':
        // Before any pending transfer was sent, one in four still names one (that never existed).
        if (this.pendings.length === 0 && spec.pick % 4 !== 3) return undefined;
        if (spec.kind === 'post') return this.postOf(spec);
        return parse({
          type: 'void_pending',
          id: this.freshId(),
          linked: spec.linked,
          pendingId: this.pendingIdOf(spec.pick),
        });
      case 'reverse': {
        // One in ten names a transfer that never existed.
        const reversesId =
          this.sent.length === 0 || spec.pick % 10 === 9 ? this.freshId() : pickOf(this.sent, spec.pick).id;
        return parse({ type: 'reversal', id: this.freshId(), linked: spec.linked, reversesId });
      }
      case 'retry':
        return this.sent.length === 0 ? undefined : pickOf(this.sent, spec.pick);
    }
  }

  private pendingIdOf(pick: number): string {
    return this.pendings.length === 0 ? this.freshId() : pickOf(this.pendings, pick).id;
  }

  private postOf(spec: Extract<OperationSpec, { kind: 'post' }>): TransferCommand {
    const base = { type: 'post_pending' as const, id: this.freshId(), linked: spec.linked };
    const pending = this.pendings.length === 0 ? undefined : pickOf(this.pendings, spec.pick);
    if (pending === undefined || pending.type !== 'pending' || spec.shape === 'full') {
      return parse({ ...base, pendingId: pending?.id ?? this.freshId() });
    }
    return parse({ ...base, pendingId: pending.id, postings: this.postPostingsOf(pending.postings, spec) });
  }

  /** Postings of an explicit post, built from the pending transfer's: [single side, ...other side]. */
  private postPostingsOf(reserved: readonly Posting[], spec: { shape: PostShape; percent: number }): Posting[] {
    const [one, ...others] = reserved as [Posting, ...Posting[]];
    const withAmounts = (amounts: readonly bigint[]): Posting[] => {
      const total = amounts.reduce((sum, amount) => sum + amount, 0n);
      return [
        { ...one, amount: total.toString() },
        ...others.map((other, i) => ({ ...other, amount: `${amounts[i]}` })),
      ];
    };
    const otherAmounts = others.map((other) => BigInt(other.amount));
    switch (spec.shape) {
      case 'partial':
        return withAmounts(otherAmounts.map((amount) => maxOf(1n, (amount * BigInt(spec.percent)) / 100n)));
      case 'exceed': {
        const more = withAmounts(otherAmounts.map((amount, i) => (i === 0 ? amount + 1n : amount)));
        return BigInt(more[0]?.amount ?? 0) <= AMOUNT_MINOR_MAX ? more : [...reserved];
      }
      case 'foreign': {
        const used = new Set(reserved.map((posting) => posting.accountId));
        const stranger = this.accounts.find((account) => account.currency === one.currency && !used.has(account.id));
        if (stranger !== undefined)
          return [one, { ...(others[0] as Posting), accountId: stranger.id }, ...others.slice(1)];
        return reserved.map((posting) => ({ ...posting, direction: opposite(posting.direction) }));
      }
      case 'swap':
        return reserved.map((posting) => ({ ...posting, direction: opposite(posting.direction) }));
      default:
        return [...reserved];
    }
  }

  /** Balanced postings in one currency between distinct accounts of it, or undefined when it has too few. */
  private postingsOf(spec: LegsSpec): Posting[] | undefined {
    const currency = SCENARIO_CURRENCIES[spec.currencyIndex] as string;
    const total = spec.others.reduce((sum, other) => sum + other.amountMinor, 0n);
    const others = total > AMOUNT_MINOR_MAX ? spec.others.slice(0, 1) : spec.others;
    const candidates = this.accounts.filter((account) => account.currency === currency).map((account) => account.id);
    if (candidates.length < others.length + 1) return undefined;
    const [oneId, ...otherIds] = distinctPicks(candidates, [spec.onePick, ...others.map((other) => other.pick)]);
    const sum = others.reduce((acc, other) => acc + other.amountMinor, 0n);
    const postings: Posting[] = [
      { accountId: oneId as string, direction: spec.oneSide, amount: sum.toString(), currency },
      ...others.map((other, i) => ({
        accountId: otherIds[i] as string,
        direction: opposite(spec.oneSide),
        amount: other.amountMinor.toString(),
        currency,
      })),
    ];
    const last = postings[postings.length - 1] as Posting;
    if (spec.stray === 'unknown_account') last.accountId = this.freshId();
    if (spec.stray === 'other_currency') {
      const foreign = this.accounts.find((account) => account.currency !== currency);
      if (foreign !== undefined) last.accountId = foreign.id;
    }
    return postings;
  }
}

function parse(input: TransferCommandInput): TransferCommand {
  return transferCommandSchema.parse(input);
}

/** Counting back from the latest. */
function pickOf<T>(items: readonly T[], pick: number): T {
  return items[items.length - 1 - (pick % items.length)] as T;
}

/** Each pick chooses among the candidates not chosen yet. */
function distinctPicks(candidates: readonly string[], picks: readonly number[]): string[] {
  const left = [...candidates];
  return picks.map((pick) => left.splice(pick % left.length, 1)[0] as string);
}

function opposite(side: Side): Side {
  return side === 'debit' ? 'credit' : 'debit';
}

function maxOf(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}
