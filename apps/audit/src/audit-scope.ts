import { assertMayActOnTenant, type BusRequestContext } from '@strongroom/platform';

/**
 * The tenant whose trail a call acts on: the caller's own, or any for a platform principal (NOT_FOUND
 * otherwise, as for a tenant that does not exist). In lower case: the one spelling records hold.
 */
export function auditTenantOf(context: BusRequestContext, tenantId: string): string {
  assertMayActOnTenant(context.principal, tenantId);
  return tenantId.toLowerCase();
}

/** Who placed a legal hold, as stored with it: the token's subject. */
export function subjectOf(context: BusRequestContext): string {
  return context.principal?.subject ?? 'unknown';
}
