import type { LedgerExportEntry } from '@strongroom/contracts';
import type { ProblemList } from './export-reconciliation';

/** Entries whose transfers one pass of the transfer check holds in memory; a bigger export takes more passes. */
export const TRANSFER_CHECK_ENTRIES_PER_PASS = 500_000;

interface TransferTally {
  occurredAt: string;
  seqs: string[];
  accounts: string[];
  /** Per currency: debits minus credits, posted and pending. */
  net: Map<string, { posted: bigint; pending: bigint }>;
}

/** How many passes over the entries the transfer check needs to hold at most TRANSFER_CHECK_ENTRIES_PER_PASS. */
export function transferPassesFor(entryCount: number): number {
  return Math.max(1, Math.ceil(entryCount / TRANSFER_CHECK_ENTRIES_PER_PASS));
}

/**
 * Each transfer balances per currency (debits = credits, posted and pending), touches an account
 * once, and all its entries carry one time. Entries come grouped by account, not by transfer, so
 * one pass tallies the transfers of one share (`pass` of `passes`, by transfer id) of them.
 */
export class TransferBalances {
  private readonly transfers = new Map<string, TransferTally>();

  constructor(
    private readonly pass: number,
    private readonly passes: number,
    private readonly problems: ProblemList,
  ) {}

  add(entry: LedgerExportEntry): void {
    if (this.passes > 1 && Number.parseInt(entry.transferId.slice(0, 8), 16) % this.passes !== this.pass) return;
    let tally = this.transfers.get(entry.transferId);
    if (tally === undefined) {
      tally = { occurredAt: entry.occurredAt, seqs: [], accounts: [], net: new Map() };
      this.transfers.set(entry.transferId, tally);
    }
    tally.seqs.push(entry.seq);
    if (tally.accounts.includes(entry.accountId)) {
      this.problems.add(
        `transfer ${entry.transferId}: entry ${entry.seq} posts account ${entry.accountCode} a second time`,
      );
    }
    tally.accounts.push(entry.accountId);
    if (entry.occurredAt !== tally.occurredAt) {
      this.problems.add(`transfer ${entry.transferId}: entry ${entry.seq} has another time than its other entries`);
    }
    const sign = entry.direction === 'debit' ? 1n : -1n;
    const net = tally.net.get(entry.currency) ?? { posted: 0n, pending: 0n };
    tally.net.set(entry.currency, {
      posted: net.posted + sign * BigInt(entry.postedAmount),
      pending: net.pending + sign * BigInt(entry.pendingChange),
    });
  }

  finish(): void {
    for (const [transferId, tally] of this.transfers) {
      for (const [currency, net] of tally.net) {
        if (net.posted === 0n && net.pending === 0n) continue;
        this.problems.add(
          `transfer ${transferId} (entries ${tally.seqs.join(', ')}): debits and credits differ in ${currency} ` +
            `(posted by ${net.posted}, pending by ${net.pending})`,
        );
      }
    }
    this.transfers.clear();
  }
}
