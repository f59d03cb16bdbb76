import { isPlatformPrincipal, PlatformError, type Principal } from '@strongroom/platform';
import { type CustomRole, resolveRoles } from '../roles/tenant-roles';

/**
 * Nobody hands out more than they hold: the roles given to a user (or a custom role's
 * permissions) may only carry permissions the granting principal has (the platform may grant any
 * role). Callers pass the roles both before and after a change, so nobody narrows a user, or a
 * role, holding more than they do either.
 */
export function assertMayGrantRoles(
  principal: Principal,
  roles: readonly string[],
  customRoles: readonly CustomRole[] = [],
): void {
  assertMayGrantPermissions(principal, resolveRoles(roles, customRoles).permissions);
}

export function assertMayGrantPermissions(principal: Principal, permissions: Iterable<string>): void {
  if (isPlatformPrincipal(principal)) return;
  const beyond = [...new Set(permissions)].filter((permission) => !principal.permissions.has(permission));
  if (beyond.length > 0)
    throw PlatformError.forbidden('These roles carry permissions the caller does not hold', {
      permissions: beyond.sort(),
    });
}
