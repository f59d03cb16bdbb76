import { auditEventSchema, auditMessageSchema } from '@strongroom/contracts';
import type { AuditTrail } from '../src/ledger-audit';
import type { LedgerScope } from '../src/ledger-scope';
import type { EngineCommand } from '../src/transfers/ledger-state';
import { transferAuditEvents } from '../src/transfers/transfer-audit';
import { applyTransferBatch } from '../src/transfers/transfer-engine';
import {
  accounts,
  CASH,
  EURO_CASH,
  expiry,
  idOf,
  immediate,
  ledgerView,
  MERCHANT,
  move,
  NOW_MS,
  pending,
  post,
  WALLET,
} from './support/engine-fixtures';

const SCOPE: LedgerScope = { tenantId: '7d0c1f4e-3b0a-4c55-9a43-2f0d3c1b9e01', environment: 'production' };
const AT = new Date(NOW_MS).toISOString();
const ALICE: AuditTrail = {
  actor: { type: 'user', id: 'user-alice' },
  origin: { requestId: 'req-alice', sourceIp: '203.0.113.7', userAgent: 'lender-backoffice/2.1' },
};
const KEY: AuditTrail = { actor: { type: 'api_key', id: 'key_123' }, origin: { requestId: 'req-key' } };

const T1 = idOf(101);
const T2 = idOf(102);
const T3 = idOf(103);
const T4 = idOf(104);
const T5 = idOf(105);

function eventsOf(items: Array<{ command: EngineCommand; trail: AuditTrail }>, walletMinor = 0n) {
  const outcome = applyTransferBatch(
    items.map((item) => item.command),
    ledgerView(accounts(walletMinor)),
    NOW_MS,
  );
  return { outcome, events: transferAuditEvents(SCOPE, items, outcome, AT) };
}

describe('transfer audit events', () => {
  it('records one event per transfer, in batch order: applied ones as successes of their category, refused ones as failures with the result code', () => {
    const { events } = eventsOf(
      [
        {
          command: immediate(T1, move(CASH, WALLET, 500n), { category: 'allocation', reference: 'voucher-81' }),
          trail: ALICE,
        },
        { command: immediate(T2, move(WALLET, MERCHANT, 900n), { category: 'redemption' }), trail: KEY },
        { command: immediate(T3, move(WALLET, MERCHANT, 200n), { category: 'redemption' }), trail: KEY },
        { command: immediate(T4, move(MERCHANT, EURO_CASH, 1n), { category: 'settlement' }), trail: ALICE },
      ],
      0n,
    );

    expect(
      events.map(({ action, outcome, reason, resource }) => ({ action, outcome, reason, id: resource.id })),
    ).toEqual([
      { action: 'ledger.transfer.allocation', outcome: 'success', reason: undefined, id: T1 },
      { action: 'ledger.transfer.redemption', outcome: 'failure', reason: 'INSUFFICIENT_FUNDS', id: T2 },
      { action: 'ledger.transfer.redemption', outcome: 'success', reason: undefined, id: T3 },
      { action: 'ledger.transfer.settlement', outcome: 'failure', reason: 'CURRENCY_MISMATCH', id: T4 },
    ]);
    expect(events[0]).toMatchObject({
      tenantId: SCOPE.tenantId,
      environment: 'production',
      occurredAt: AT,
      actor: { type: 'user', id: 'user-alice' },
      resource: { type: 'transfer', id: T1 },
      requestId: 'req-alice',
      sourceIp: '203.0.113.7',
      userAgent: 'lender-backoffice/2.1',
      details: { type: 'immediate', amountsMinor: { USD: '500' } },
    });
    // Each event names its own caller: transfers grouped into one transaction keep their requests apart.
    expect(events[1]).toMatchObject({
      actor: { type: 'api_key', id: 'key_123' },
      requestId: 'req-key',
      details: { type: 'immediate', accountId: WALLET },
    });
    expect(new Set(events.map((event) => event.id)).size).toBe(4);
    // Valid as the audit stream takes them (the schema refuses secrets and personal data).
    expect(auditMessageSchema.safeParse({ events }).success).toBe(true);
  });

  it('names the pending transfer a post resolves, sums amounts per currency, and marks the rest of a failed chain LINKED_EVENT_FAILED', () => {
    const P = idOf(110);
    const { events } = eventsOf(
      [
        { command: pending(P, move(CASH, MERCHANT, 300n), 0, { category: 'disbursement' }), trail: ALICE },
        { command: post(T1, P, undefined, { category: 'settlement' }), trail: ALICE },
        { command: immediate(T2, move(CASH, MERCHANT, 5n), { linked: true, category: 'fee' }), trail: ALICE },
        { command: immediate(T3, move(WALLET, MERCHANT, 5n), { category: 'fee' }), trail: ALICE },
      ],
      0n,
    );
    expect(events.map((event) => [event.action, event.outcome, event.reason])).toEqual([
      ['ledger.transfer.disbursement', 'success', undefined],
      ['ledger.transfer.settlement', 'success', undefined],
      ['ledger.transfer.fee', 'failure', 'LINKED_EVENT_FAILED'],
      ['ledger.transfer.fee', 'failure', 'INSUFFICIENT_FUNDS'],
    ]);
    expect(events[1]?.details).toEqual({ type: 'post_pending', amountsMinor: { USD: '300' }, pendingId: P });
    for (const event of events) expect(auditEventSchema.safeParse(event).success).toBe(true);
  });

  it('records nothing for a retry answered `exists`, nor for an expiry the sweep lost', () => {
    const command = immediate(T5, move(CASH, MERCHANT, 10n));
    const first = eventsOf([{ command, trail: ALICE }]);
    expect(first.events).toHaveLength(1);

    const view = ledgerView(accounts());
    view.existing.set(T5, first.outcome.applied[0]?.fingerprint as string);
    const lostExpiry = expiry(idOf(120), idOf(999));
    const retried = applyTransferBatch([command, lostExpiry], view, NOW_MS);
    expect(retried.results.map((result) => result.result)).toEqual(['exists', 'pending_transfer_not_found']);
    expect(
      transferAuditEvents(
        SCOPE,
        [
          { command, trail: ALICE },
          { command: lostExpiry, trail: ALICE },
        ],
        retried,
        AT,
      ),
    ).toEqual([]);
  });
});
