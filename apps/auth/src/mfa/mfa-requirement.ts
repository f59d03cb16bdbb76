import type { PREDEFINED_ROLES } from '@strongroom/contracts';

type Role = (typeof PREDEFINED_ROLES)[number];

/**
 * Roles that administer tenants, partners or the platform (seed 001's super_admin and
 * partner_admin, seed 003's Admin): seed 000 requires MFA "for all platform dashboard access"
 * and seed 002 has "MFA enforced" for production access; an account holding one of them
 * cannot get a token without a second factor.
 */
export const MFA_REQUIRED_ROLES: readonly Role[] = ['super_admin', 'partner_admin', 'admin'];

export function mfaRequiredFor(roles: readonly string[]): boolean {
  return roles.some((role) => (MFA_REQUIRED_ROLES as readonly string[]).includes(role));
}
