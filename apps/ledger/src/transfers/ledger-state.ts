import type { TransferCommand, TransferType } from '@strongroom/contracts';

/** An account as the engine sees it: its currency, limits and the four balances (minor units). */
export interface AccountState {
  id: string;
  currency: string;
  closed: boolean;
  debitsMustNotExceedCredits: boolean;
  creditsMustNotExceedDebits: boolean;
  debitsPosted: bigint;
  creditsPosted: bigint;
  debitsPending: bigint;
  creditsPending: bigint;
}

export type Direction = 'debit' | 'credit';

/** One posting with its amount as a number the engine can add. */
export interface Leg {
  accountId: string;
  direction: Direction;
  amount: bigint;
  currency: string;
}

/** A pending transfer not yet posted, voided or expired: what it reserved and until when. */
export interface OpenPending {
  id: string;
  legs: readonly Leg[];
  /** Epoch milliseconds; null: never expires. */
  expiresAtMs: number | null;
}

export type PendingOutcome = 'posted' | 'voided' | 'expired';

/** A stored transfer a reversal may name: what it moved to posted balances, and whether it was reversed. */
export interface ReversalTarget {
  id: string;
  type: TransferType;
  /** Posted amounts (empty for a pending, void or expiry, which moved nothing to posted balances). */
  legs: readonly Leg[];
  reversed: boolean;
}

/** An expiry the ledger writes for a pending transfer whose timeout passed. */
export interface ExpiryCommand {
  type: 'expiry';
  id: string;
  pendingId: string;
}

export type EngineCommand = TransferCommand | ExpiryCommand;

/**
 * What a batch can see, loaded by the repository under row locks before the engine runs:
 * every account the batch names, the transfers it names (by id, pending id, reversal target),
 * and the fingerprints of those of its ids already stored.
 */
export interface LedgerView {
  accounts: Map<string, AccountState>;
  /** Stored transfers with one of the batch's ids → fingerprint of what was stored. */
  existing: Map<string, string>;
  openPendings: Map<string, OpenPending>;
  /** Pending transfers already resolved, and how. */
  resolvedPendings: Map<string, PendingOutcome>;
  reversalTargets: Map<string, ReversalTarget>;
}

/** One balance change of an applied transfer, with the account's balances after it. */
export interface EntryDraft {
  accountId: string;
  direction: Direction;
  /** Added to the posted balance of `direction`'s side (≥ 0). */
  postedAmount: bigint;
  /** Added to the pending balance of `direction`'s side: > 0 reserves, < 0 releases. */
  pendingChange: bigint;
  debitsPostedAfter: bigint;
  creditsPostedAfter: bigint;
  debitsPendingAfter: bigint;
  creditsPendingAfter: bigint;
}

/** A transfer the batch applied: the row to store and its entries. */
export interface AppliedTransfer {
  id: string;
  type: TransferType;
  category: string;
  reference: string | null;
  metadata: Record<string, string>;
  /** The amounts it moved (posted, reserved, released or reversed). */
  legs: readonly Leg[];
  pendingId: string | null;
  reversesId: string | null;
  timeoutSeconds: number | null;
  expiresAtMs: number | null;
  fingerprint: string;
  entries: EntryDraft[];
}
