import { type AuditEventInput, TRANSFER_CATEGORIES } from '@strongroom/contracts';
import { type AuditTrail, ledgerAuditEvent } from '../ledger-audit';
import type { LedgerScope } from '../ledger-scope';
import type { AppliedTransfer, EngineCommand } from './ledger-state';
import type { BatchOutcome } from './transfer-engine';

/** A command of a batch with who asked for it and the request it came with. */
export interface AuditedCommand {
  command: EngineCommand;
  trail: AuditTrail;
}

const CATEGORIES: ReadonlySet<string> = new Set(TRANSFER_CATEGORIES);

type TransferAction = `ledger.transfer.${(typeof TRANSFER_CATEGORIES)[number]}`;

function actionOf(category: string | undefined): TransferAction {
  return `ledger.transfer.${category !== undefined && CATEGORIES.has(category) ? category : 'other'}` as TransferAction;
}

/** What a transfer moved, per currency (the sum of its debit legs, minor units as decimal strings). */
function amountsMinorOf(transfer: AppliedTransfer): Record<string, string> {
  const sums = new Map<string, bigint>();
  for (const leg of transfer.legs) {
    if (leg.direction === 'debit') sums.set(leg.currency, (sums.get(leg.currency) ?? 0n) + leg.amount);
  }
  return Object.fromEntries([...sums].map(([currency, amount]) => [currency, amount.toString()]));
}

function appliedDetails(transfer: AppliedTransfer): AuditEventInput['details'] {
  return {
    type: transfer.type,
    amountsMinor: amountsMinorOf(transfer),
    // Not the reference nor the metadata: a tenant may use a phone or national id as either. The
    // transfer id joins the record to the ledger, which holds them.
    ...(transfer.pendingId !== null ? { pendingId: transfer.pendingId } : {}),
    ...(transfer.reversesId !== null ? { reversesId: transfer.reversesId } : {}),
  };
}

/**
 * One audit event per transfer of a batch, in the batch's order (issue 7): an applied transfer
 * is a `success` of `ledger.transfer.<category>`; a refused one a `failure` whose reason is its
 * result code (INSUFFICIENT_FUNDS, LINKED_EVENT_FAILED, …). A retry answered `exists` applied
 * nothing new: its first application was recorded. An expiry the sweep lost to a concurrent post
 * or void was nobody's attempt: not recorded.
 */
export function transferAuditEvents(
  scope: LedgerScope,
  batch: readonly AuditedCommand[],
  outcome: Pick<BatchOutcome, 'results' | 'applied'>,
  occurredAt: string,
): AuditEventInput[] {
  const applied = new Map(outcome.applied.map((transfer) => [transfer.id, transfer]));
  const events: AuditEventInput[] = [];
  for (const [index, result] of outcome.results.entries()) {
    const item = batch[index];
    if (item === undefined || result.result === 'exists') continue;
    const { command, trail } = item;
    const common = { tenantId: scope.tenantId, environment: scope.environment, occurredAt };
    const resource = { type: 'transfer', id: result.id };
    if (result.result === 'ok') {
      const transfer = applied.get(result.id);
      if (transfer === undefined) continue;
      events.push(
        ledgerAuditEvent(trail, {
          ...common,
          action: actionOf(transfer.category),
          resource,
          details: appliedDetails(transfer),
        }),
      );
      continue;
    }
    if (command.type === 'expiry') continue;
    events.push(
      ledgerAuditEvent(trail, {
        ...common,
        action: actionOf(command.category),
        resource,
        outcome: 'failure',
        reason: result.result.toUpperCase(),
        details: { type: command.type, ...(result.accountId !== undefined ? { accountId: result.accountId } : {}) },
      }),
    );
  }
  return events;
}
