import { Injectable } from '@nestjs/common';
import { TRANSFERS_PER_EVENT_MAX, type Transfer, type TransferResult } from '@strongroom/contracts';
import { PlatformError } from '@strongroom/platform';
import type { LedgerScope } from '../ledger-scope';
import { type AttributedCommand, TransfersRepository } from './transfers.repository';

/** A group commit carries at most this many single transfers: one audit event's worth. */
const GROUP_SIZE_MAX = TRANSFERS_PER_EVENT_MAX;
/** Single transfers of one ledger waiting for a group; beyond, callers are told to retry. */
const WAITING_PER_LEDGER_MAX = 8 * GROUP_SIZE_MAX;
/**
 * Groups of one ledger written at once. Measured on 2 cores (bench ledger.single_transfers):
 * one at a time gives the largest groups and the most transfers a second (1,468/s against
 * 1,018/s with four); more help only where Postgres, not CPU, is what a transfer waits for.
 */
const FLUSHERS_PER_LEDGER_MAX = 1;

/** A single transfer's result and, when applied now, the transfer as stored (no read back). */
export interface SubmittedTransfer {
  result: TransferResult;
  transfer: Transfer | undefined;
}

interface Waiting {
  item: AttributedCommand;
  resolve(outcome: SubmittedTransfer): void;
  reject(error: unknown): void;
}

interface ScopeQueue {
  scope: LedgerScope;
  waiting: Waiting[];
  flushers: number;
}

/**
 * Group commit for single transfers (TigerBeetle's batching, applied on the server): transfers
 * of one ledger that arrive while its groups are being written are applied together in the
 * next transaction, each with its own result, none linked to another. Under load a transaction
 * carries many transfers instead of one; idle, a transfer waits for nothing.
 */
@Injectable()
export class TransferBatcher {
  private readonly queues = new Map<string, ScopeQueue>();

  constructor(private readonly transfers: TransfersRepository) {}

  submit(scope: LedgerScope, item: AttributedCommand): Promise<SubmittedTransfer> {
    const key = `${scope.tenantId}/${scope.environment}`;
    let queue = this.queues.get(key);
    if (queue === undefined) {
      queue = { scope, waiting: [], flushers: 0 };
      this.queues.set(key, queue);
    }
    if (queue.waiting.length >= WAITING_PER_LEDGER_MAX) {
      // STYLE: a limit on every queue. Nothing was applied; the caller may retry the same id.
      return Promise.reject(
        PlatformError.unavailable('The ledger is busy; retry the transfer (same id) shortly', {
          reason: 'LEDGER_BUSY',
        }),
      );
    }
    const promise = new Promise<SubmittedTransfer>((resolve, reject) => queue.waiting.push({ item, resolve, reject }));
    if (queue.flushers < FLUSHERS_PER_LEDGER_MAX) void this.flush(key, queue);
    return promise;
  }

  private async flush(key: string, queue: ScopeQueue): Promise<void> {
    queue.flushers += 1;
    // Transfers submitted in the same turn of the event loop join the first group.
    await Promise.resolve();
    while (queue.waiting.length > 0) {
      const group = takeGroup(queue);
      try {
        await this.apply(queue.scope, group);
      } catch (error) {
        // The transaction rolled back, nothing of the group was applied. One caller's transfer
        // must not fail its neighbours': each runs again alone and learns its own outcome.
        if (group.length === 1 || error instanceof PlatformError) for (const waiting of group) waiting.reject(error);
        else for (const waiting of group) await this.apply(queue.scope, [waiting]).catch(waiting.reject);
      }
    }
    queue.flushers -= 1;
    if (queue.flushers === 0) this.queues.delete(key);
  }

  private async apply(scope: LedgerScope, group: readonly Waiting[]): Promise<void> {
    const applied = await this.transfers.applyBatch(
      scope,
      group.map((waiting) => waiting.item),
    );
    for (const [index, waiting] of group.entries()) {
      const result = applied.results[index] as TransferResult;
      waiting.resolve({ result, transfer: applied.appliedTransfer(result.id) });
    }
  }
}

/** Up to GROUP_SIZE_MAX waiting transfers with distinct ids (a batch names an id once); the rest wait for the next group. */
function takeGroup(queue: ScopeQueue): Waiting[] {
  const ids = new Set<string>();
  const group: Waiting[] = [];
  const later: Waiting[] = [];
  for (const waiting of queue.waiting) {
    const id = waiting.item.command.id;
    if (group.length < GROUP_SIZE_MAX && !ids.has(id)) {
      ids.add(id);
      group.push(waiting);
    } else later.push(waiting);
  }
  queue.waiting = later;
  return group;
}
