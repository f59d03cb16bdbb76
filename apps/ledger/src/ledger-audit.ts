import { type AuditFact, type AuditTrail, auditEventFor, serviceAuditTrail } from '@strongroom/platform';

/**
 * The ledger's audit events (issue 7, seed 001: allocation, redemption and settlement by name).
 * A change records its event in its own transaction (the transfer batch in its one write
 * statement, transfer-audit.ts); a refusal that wrote nothing is published straight to the AUDIT
 * stream by AuditPublisher. The shared pieces are the platform's (packages/platform/src/audit/audit-trail.ts).
 */
export { AuditPublisher, type AuditTrail, auditTrailOf, refusalOf } from '@strongroom/platform';

export const LEDGER_AUDIT_EMITTER = 'ledger' as const;

/** The ledger acting on its own (the pending-expiry sweep): no request behind it. */
export const LEDGER_TRAIL: AuditTrail = serviceAuditTrail(LEDGER_AUDIT_EMITTER);

export type LedgerAuditFact = AuditFact;
/** One event of a trail's request: success unless the fact says otherwise. */
export const ledgerAuditEvent = auditEventFor;
