import { randomUUID } from 'node:crypto';
import { type AuditEvent, auditMessageSchema, transferCommandSchema } from '@strongroom/contracts';
import type { AuditTrail } from '../src/ledger-audit';
import type { LedgerScope } from '../src/ledger-scope';
import { LedgerTestDatabase, TEST_TRAIL } from './support/ledger-database';
import type { ModelAccount } from './support/ledger-model';

const ZERO = { debitsPosted: 0n, creditsPosted: 0n, debitsPending: 0n, creditsPending: 0n };
const accountOf = (id: string, limited = false): ModelAccount => ({
  ...ZERO,
  id,
  currency: 'USD',
  closed: false,
  debitsMustNotExceedCredits: limited,
  creditsMustNotExceedDebits: false,
});

const PARTNER: AuditTrail = {
  actor: { type: 'client', id: 'lender-backoffice' },
  origin: { requestId: 'req-batch-1', sourceIp: '198.51.100.20', userAgent: 'lender/1.0' },
};

interface AuditRow {
  /** The writing transaction's id: rows of one transaction share it. */
  xmin: string;
  tenant_id: string | null;
  payload: unknown;
}

describe('ledger audit events (real Postgres, the ledger write path)', () => {
  let ledger: LedgerTestDatabase;

  beforeAll(async () => {
    ledger = await LedgerTestDatabase.open('ledger_audit');
  });

  afterAll(async () => {
    await ledger?.close();
  });

  /** The ledger's audit events written for `tenantId` so far, in outbox order, each with its row. */
  async function auditEvents(tenantId: string): Promise<Array<AuditEvent & { row: AuditRow }>> {
    const rows = await ledger.superuserQuery<AuditRow>(
      `SELECT xmin::text AS xmin, tenant_id, payload FROM outbox
        WHERE subject = 'audit.events.ledger' AND payload->'events'->0->>'tenantId' = $1 ORDER BY seq`,
      [tenantId],
    );
    return rows.flatMap((row) => auditMessageSchema.parse(row.payload).events.map((event) => ({ ...event, row })));
  }

  async function transferXmins(tenantId: string): Promise<Map<string, string>> {
    const rows = await ledger.superuserQuery<{ id: string; xmin: string }>(
      'SELECT id, xmin::text AS xmin FROM ledger_transfers WHERE tenant_id = $1',
      [tenantId],
    );
    return new Map(rows.map((row) => [row.id, row.xmin]));
  }

  const cash = randomUUID();
  const wallet = randomUUID();
  const merchant = randomUUID();
  const move = (id: string, from: string, to: string, amount: string, category: string, reference?: string) =>
    transferCommandSchema.parse({
      type: 'immediate',
      id,
      category,
      ...(reference ? { reference } : {}),
      postings: [
        { accountId: from, direction: 'debit', amount, currency: 'USD' },
        { accountId: to, direction: 'credit', amount, currency: 'USD' },
      ],
    });

  async function openLedger(): Promise<LedgerScope> {
    return ledger.ledgerWith([accountOf(cash), accountOf(wallet, true), accountOf(merchant)]);
  }

  it('writes one audit event per transfer of a batch, applied and refused, in the transaction that applies it', async () => {
    const scope = await openLedger();
    const [allocation, overdraft, redemption, settlement] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    const batch = [
      move(allocation, cash, wallet, '1000', 'allocation', 'voucher-7'),
      move(overdraft, wallet, merchant, '5000', 'redemption'),
      move(redemption, wallet, merchant, '400', 'redemption'),
      move(settlement, merchant, cash, '400', 'settlement'),
    ];
    const { results } = await ledger.transfers.applyBatch(
      scope,
      batch.map((command) => ({ command, actor: 'lender-backoffice', trail: PARTNER })),
    );
    expect(results.map((result) => result.result)).toEqual(['ok', 'insufficient_funds', 'ok', 'ok']);

    const events = (await auditEvents(scope.tenantId)).filter((event) => event.resource.type === 'transfer');
    expect(events.map((event) => [event.resource.id, event.action, event.outcome, event.reason])).toEqual([
      [allocation, 'ledger.transfer.allocation', 'success', undefined],
      [overdraft, 'ledger.transfer.redemption', 'failure', 'INSUFFICIENT_FUNDS'],
      [redemption, 'ledger.transfer.redemption', 'success', undefined],
      [settlement, 'ledger.transfer.settlement', 'success', undefined],
    ]);
    for (const event of events) {
      expect(event).toMatchObject({
        tenantId: scope.tenantId,
        environment: 'production',
        actor: { type: 'client', id: 'lender-backoffice' },
        requestId: 'req-batch-1',
        sourceIp: '198.51.100.20',
        userAgent: 'lender/1.0',
      });
    }
    // Never the reference: a tenant may use a phone or national id as one.
    expect(events[0]?.details).toEqual({ type: 'immediate', amountsMinor: { USD: '1000' } });
    expect(events[1]?.details).toEqual({ type: 'immediate', accountId: wallet });
    // One outbox row for the batch's audit events, scoped to the tenant, written by the transaction that wrote the transfers.
    const xmins = await transferXmins(scope.tenantId);
    expect(new Set(events.map((event) => event.row.xmin))).toEqual(new Set([xmins.get(allocation)]));
    expect(xmins.get(settlement)).toBe(xmins.get(allocation));
    expect(events[0]?.row.tenant_id).toBe(scope.tenantId);
  });

  it('records the refusals of a batch that applied nothing, and writes nothing else', async () => {
    const scope = await openLedger();
    const [first, second] = [randomUUID(), randomUUID()];
    const { results } = await ledger.transfers.applyBatch(scope, [
      { command: move(first, wallet, merchant, '1', 'redemption'), actor: 'a', trail: PARTNER },
      { command: move(second, cash, randomUUID(), '1', 'allocation'), actor: 'a', trail: PARTNER },
    ]);
    expect(results.map((result) => result.result)).toEqual(['insufficient_funds', 'account_not_found']);
    expect((await transferXmins(scope.tenantId)).size).toBe(0);
    const refused = (await auditEvents(scope.tenantId)).filter((event) => event.resource.type === 'transfer');
    expect(refused.map((event) => [event.resource.id, event.outcome, event.reason])).toEqual([
      [first, 'failure', 'INSUFFICIENT_FUNDS'],
      [second, 'failure', 'ACCOUNT_NOT_FOUND'],
    ]);
  });

  it('writes no audit event when the batch rolls back', async () => {
    const scope = await openLedger();
    // A fault planted by the superuser: the batch's balance update fails, after the engine has decided.
    const fault = `audit_fault_${randomUUID().replaceAll('-', '')}`;
    await ledger.superuserQuery(
      `CREATE FUNCTION ${fault}() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'planted fault'; END $$`,
    );
    await ledger.superuserQuery(
      `CREATE TRIGGER ${fault} BEFORE UPDATE ON ledger_accounts FOR EACH ROW
        WHEN (NEW.id = '${merchant}'::uuid AND NEW.tenant_id = '${scope.tenantId}'::uuid) EXECUTE FUNCTION ${fault}()`,
    );
    const transfer = randomUUID();
    const before = (await auditEvents(scope.tenantId)).length;
    try {
      await expect(
        ledger.transfers.applyBatch(scope, [
          { command: move(transfer, cash, merchant, '10', 'allocation'), actor: 'a', trail: PARTNER },
        ]),
      ).rejects.toThrow('planted fault');
    } finally {
      await ledger.superuserQuery(`DROP TRIGGER ${fault} ON ledger_accounts`);
      await ledger.superuserQuery(`DROP FUNCTION ${fault}()`);
    }
    expect(await auditEvents(scope.tenantId)).toHaveLength(before);
    expect((await transferXmins(scope.tenantId)).has(transfer)).toBe(false);

    // The same transfer, once the fault is gone: applied and recorded.
    await ledger.transfers.applyBatch(scope, [
      { command: move(transfer, cash, merchant, '10', 'allocation'), actor: 'a', trail: PARTNER },
    ]);
    const after = await auditEvents(scope.tenantId);
    expect(after.filter((event) => event.resource.id === transfer).map((event) => event.outcome)).toEqual(['success']);
  });

  it('records accounts opened and closed, once each (a repeated open or close records nothing new)', async () => {
    const scope = await openLedger();
    const opened = (await auditEvents(scope.tenantId)).filter((event) => event.action === 'ledger.account.create');
    expect(opened.map((event) => event.resource)).toEqual(
      [cash, wallet, merchant].map((id) => ({ type: 'ledger_account', id })),
    );
    expect(opened[0]).toMatchObject({
      actor: TEST_TRAIL.actor,
      requestId: 'ledger-test-request',
      outcome: 'success',
      details: { currency: 'USD', type: 'asset' },
    });

    await ledger.accounts.close(scope, merchant, PARTNER);
    await ledger.accounts.close(scope, merchant, PARTNER);
    const closed = (await auditEvents(scope.tenantId)).filter((event) => event.action === 'ledger.account.close');
    expect(closed).toHaveLength(1);
    expect(closed[0]).toMatchObject({ resource: { type: 'ledger_account', id: merchant }, requestId: 'req-batch-1' });
  });

  it('records an expiry written by the sweep as the ledger acting on its own', async () => {
    const scope = await openLedger();
    const reservation = randomUUID();
    await ledger.transfers.applyBatch(scope, [
      {
        command: transferCommandSchema.parse({
          type: 'pending',
          id: reservation,
          category: 'allocation',
          timeoutSeconds: 60,
          postings: [
            { accountId: cash, direction: 'debit', amount: '25', currency: 'USD' },
            { accountId: merchant, direction: 'credit', amount: '25', currency: 'USD' },
          ],
        }),
        actor: 'a',
        trail: PARTNER,
      },
    ]);
    await ledger.moveClock(scope.tenantId, 120);
    expect(await ledger.expirySweep.sweep()).toBeGreaterThanOrEqual(1);
    const expiries = (await auditEvents(scope.tenantId)).filter((event) => event.details.type === 'expiry');
    expect(expiries).toHaveLength(1);
    expect(expiries[0]).toMatchObject({
      action: 'ledger.transfer.other',
      outcome: 'success',
      actor: { type: 'service', id: 'ledger' },
      details: { type: 'expiry', pendingId: reservation, amountsMinor: { USD: '25' } },
    });
    expect(expiries[0]?.requestId).toBeUndefined();
  });
});
