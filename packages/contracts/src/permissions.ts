/**
 * The permission catalogue: every permission a route or handler may require is declared
 * here once. Later issues extend it (ledger.transfers.create, kyc.cases.decide, ...).
 */
export const PERMISSIONS = {
  'platform.health.read': 'Read the health of platform services',
  'tenants.tenants.create': 'Create tenants',
  'tenants.tenants.read': 'Read a tenant',
  'auth.users.create': 'Create users in a tenant',
  'auth.jwks.read': 'Read the public token-signing keys',
} as const;

export type Permission = keyof typeof PERMISSIONS;

export function isPermission(value: string): value is Permission {
  return Object.hasOwn(PERMISSIONS, value);
}
