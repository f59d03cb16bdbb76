import type { AuditActor } from '@strongroom/contracts';
import { type AuditFact, AuditPublisher, auditEventFor, auditSinkOf } from '@strongroom/platform';

/**
 * Auth's audit events (issue 7; seed 001 asks for structured audit logs on authentication). A
 * change records its event in the transaction that makes it, beside its domain event; an attempt
 * refused or failed without writing anything is published straight to the AUDIT stream
 * (AuthAuditPublisher, bounded). Events name ids, codes and counts: never an email, a password,
 * a PIN, a card number or a token (the contract's schema refuses such detail keys). The shared
 * pieces are the platform's (packages/platform/src/audit/audit-trail.ts).
 */
export {
  type AuditSink,
  type AuditTrail,
  auditTrailOf,
  type Refusal,
  refusalOf,
  refusalTenantOf,
} from '@strongroom/platform';

export const AUTH_AUDIT_EMITTER = 'auth' as const;

/** Auth acting on its own (a suspension turned into a revocation, a card locked by its rule). */
export const AUTH_SERVICE_ACTOR: AuditActor = { type: 'service', id: AUTH_AUDIT_EMITTER };

export type AuthAuditFact = AuditFact;
/** One event of a trail's request: success unless the fact says otherwise. */
export const authAuditEvent = auditEventFor;
/** Refusals of auth's own, published under audit.events.auth, bounded in flight. */
export const publishingSink = auditSinkOf;
export const AuthAuditPublisher = AuditPublisher;
export type AuthAuditPublisher = AuditPublisher;
