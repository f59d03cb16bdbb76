import { type Environment, PLATFORM_TENANT_ID } from '@strongroom/contracts';
import { PlatformError } from '../errors/platform-error';
import type { Principal } from './principal';

/** A principal of the platform tenant: a service identity or a platform operator. */
export function isPlatformPrincipal(principal: Principal): boolean {
  return principal.tenantId === PLATFORM_TENANT_ID;
}

/**
 * The tenant rule every handler acting on a tenant applies, after `@Handles` has checked the
 * contract's permission: a principal acts on its own tenant only, unless it is a platform
 * principal. Another tenant is answered NOT_FOUND, exactly as a tenant that does not exist, so
 * a caller cannot probe which tenant ids exist.
 */
export function assertMayActOnTenant(principal: Principal | undefined, tenantId: string): void {
  if (principal === undefined) throw PlatformError.unauthenticated();
  if (principal.tenantId === tenantId || isPlatformPrincipal(principal)) return;
  throw PlatformError.notFound('Tenant', tenantId);
}

/**
 * Creating a tenant acts on no existing one, so only a platform principal may; FORBIDDEN, not
 * NOT_FOUND, since there is nothing whose existence could leak.
 */
export function assertMayCreateTenants(principal: Principal | undefined): void {
  if (principal === undefined) throw PlatformError.unauthenticated();
  if (!isPlatformPrincipal(principal)) throw PlatformError.forbidden('Only the platform may create tenants');
}

/**
 * Suspending, reactivating and changing a tenant's settings belong to the platform alone:
 * FORBIDDEN for any other principal, whatever permissions its token holds — a tenant's own
 * administrator may neither lift its suspension nor lengthen its own tokens' lifetimes. Checked
 * before the tenant is looked up, so the refusal says nothing about which tenants exist.
 */
export function assertMayAdministerTenants(principal: Principal | undefined): void {
  if (principal === undefined) throw PlatformError.unauthenticated();
  if (!isPlatformPrincipal(principal)) throw PlatformError.forbidden('Only the platform may administer tenants');
}

/**
 * A tenant credential belongs to one environment (sandbox or production) and never acts on the
 * other's settings or resources (FORBIDDEN, reason WRONG_ENVIRONMENT); platform principals
 * belong to no tenant environment. Checked at the gateway and again by the service.
 */
export function assertMayUseEnvironment(principal: Principal, environment: Environment): void {
  if (principal.environment === environment || isPlatformPrincipal(principal)) return;
  throw PlatformError.forbidden(`This credential belongs to ${principal.environment}, not ${environment}`, {
    reason: 'WRONG_ENVIRONMENT',
  });
}
