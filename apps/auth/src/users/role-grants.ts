import { permissionsOfRoles } from '@strongroom/contracts';
import { isPlatformPrincipal, PlatformError, type Principal } from '@strongroom/platform';

/**
 * Nobody hands out more than they hold: the roles given to a user may only carry permissions
 * the granting principal has (the platform may grant any role).
 */
export function assertMayGrantRoles(principal: Principal, roles: readonly string[]): void {
  if (isPlatformPrincipal(principal)) return;
  const beyond = [...permissionsOfRoles(roles)].filter((permission) => !principal.permissions.has(permission));
  if (beyond.length > 0)
    throw PlatformError.forbidden('These roles carry permissions the caller does not hold', {
      permissions: beyond.sort(),
    });
}
