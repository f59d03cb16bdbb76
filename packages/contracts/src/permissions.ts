/**
 * The permission catalogue: every permission a route or handler may require is declared
 * here once. Later issues extend it (ledger.transfers.create, kyc.cases.decide, ...).
 */
export const PERMISSIONS = {
  'platform.health.read': 'Read the health of platform services',
  'tenants.tenants.create': 'Create tenants',
  'tenants.tenants.read': 'Read a tenant',
  'tenants.tenants.suspend': 'Suspend and reactivate tenants (platform only)',
  'tenants.settings.update': "Change a tenant's settings (platform only)",
  'auth.users.create': 'Create users in a tenant',
  'auth.jwks.read': 'Read the public token-signing keys',
  'auth.service-tokens.issue': 'Obtain an access token for the calling bus identity',
  'auth.clients.create': 'Register OAuth2 clients in a tenant environment',
  'auth.tokens.revoke': "Revoke every token of a tenant's users, clients, or of the whole tenant",
  'auth.oidc.exchange': 'Reach the OAuth2/OIDC endpoints (the gateway, for every client)',
  'auth.api-keys.create': 'Create API keys in a tenant environment',
  'auth.api-keys.rotate': 'Rotate API keys of a tenant',
  'auth.api-keys.revoke': 'Revoke API keys of a tenant',
  'auth.api-keys.read': 'List API keys of a tenant (never their secrets)',
  'auth.api-keys.authenticate': 'Exchange a presented API key for an access token (the gateway only)',
  'auth.cards.register': 'Register cards of a tenant and set their initial PIN',
  'auth.cards.verify-pin': 'Check a card PIN (a wrong one counts toward the lock)',
  'auth.cards.change-pin': 'Change a card PIN, proving the current one',
  'auth.cards.unlock': 'Unlock a card locked after three wrong PINs',
} as const;

export type Permission = keyof typeof PERMISSIONS;

export function isPermission(value: string): value is Permission {
  return Object.hasOwn(PERMISSIONS, value);
}
