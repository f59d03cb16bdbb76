import { type Permission, PREDEFINED_ROLES, ROLE_PERMISSIONS } from '@strongroom/contracts';

type Role = (typeof PREDEFINED_ROLES)[number];

/**
 * Roles that administer tenants, partners or the platform (seed 001's super_admin and
 * partner_admin, seed 003's Admin): seed 000 requires MFA "for all platform dashboard access"
 * and seed 002 has "MFA enforced" for production access; an account holding one of them
 * cannot get a token without a second factor.
 */
export const MFA_REQUIRED_ROLES: readonly Role[] = ['super_admin', 'partner_admin', 'admin'];

/**
 * The permissions only the administrator roles hold (managing users, roles, environments,
 * revocations, reversals, KYC decisions...). A custom role carrying any of them makes its
 * holders administrators, so it requires MFA exactly as the admin role does; derived from the
 * role table so a permission given to a new admin-only duty is covered without a list to update.
 */
export const MFA_REQUIRING_PERMISSIONS: ReadonlySet<Permission> = (() => {
  const others = new Set(
    PREDEFINED_ROLES.filter((role) => !MFA_REQUIRED_ROLES.includes(role)).flatMap((role) => ROLE_PERMISSIONS[role]),
  );
  return new Set(MFA_REQUIRED_ROLES.flatMap((role) => ROLE_PERMISSIONS[role]).filter((p) => !others.has(p)));
})();

/** Whether an account with these roles and (custom roles resolved) permissions must use a second factor. */
export function mfaRequiredFor(roles: readonly string[], permissions: Iterable<Permission> = []): boolean {
  if (roles.some((role) => (MFA_REQUIRED_ROLES as readonly string[]).includes(role))) return true;
  for (const permission of permissions) if (MFA_REQUIRING_PERMISSIONS.has(permission)) return true;
  return false;
}
