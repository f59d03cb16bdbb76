import { type AuditFact, auditEventFor } from '@strongroom/platform';

/**
 * The tenants service's audit events (issue 7). A change records its event in the transaction
 * that makes it, in the changed tenant's chain (a tenant's creation, suspension and settings are
 * that tenant's history, not the platform's); a refusal that wrote nothing is published straight
 * to the AUDIT stream by AuditPublisher, in the caller's own chain (refusalTenantOf). The shared
 * pieces are the platform's (packages/platform/src/audit/audit-trail.ts).
 */
export {
  AuditPublisher,
  type AuditTrail,
  auditTrailOf,
  refusalOf,
  refusalTenantOf,
} from '@strongroom/platform';

export const TENANTS_AUDIT_EMITTER = 'tenants' as const;

export type TenantsAuditFact = AuditFact;
/** One event of a trail's request: success unless the fact says otherwise. */
export const tenantsAuditEvent = auditEventFor;
