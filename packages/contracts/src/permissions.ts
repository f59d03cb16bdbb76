/**
 * The permission catalogue: every permission a route or handler may require is declared
 * here once. Later issues extend it (ledger.transfers.create, kyc.cases.decide, ...).
 */
export const PERMISSIONS = {
  'platform.health.read': 'Read the health of platform services',
  'tenants.tenants.create': 'Create tenants',
  'tenants.tenants.read': 'Read a tenant',
  'tenants.tenants.list': 'List every tenant (platform only)',
  'tenants.environments.read': "Read a tenant's environments (IP allowlist, rate plan)",
  'tenants.environments.update': "Change a tenant environment's IP allowlist and rate plan",
  'tenants.tenants.suspend': 'Suspend and reactivate tenants (platform only)',
  'tenants.settings.update': "Change a tenant's settings (platform only)",
  'auth.users.create': 'Create users in a tenant',
  'auth.users.read': 'List the users of a tenant and their roles',
  'auth.memberships.update': "Change a user's roles in a tenant (never beyond the granter's own permissions)",
  'auth.roles.read': "Read a tenant's roles (predefined and custom)",
  'auth.roles.manage': 'Define, change and delete custom roles of a tenant',
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
  // Declared ahead of the services that enforce them, so roles can be defined once (issues 6–7, KYC, consent).
  'ledger.accounts.create': 'Open ledger accounts',
  'ledger.accounts.read': 'Read ledger accounts, balances and history',
  'ledger.transfers.create': 'Post transfers (allocations, redemptions, settlements)',
  'ledger.transfers.read': 'Read transfers',
  'ledger.transfers.reverse': 'Correct a transfer with a compensating transfer',
  'ledger.exports.create': 'Export a period of the ledger with its signed digest',
  'kyc.cases.create': 'Open KYC cases and submit documents',
  'kyc.cases.read': 'Read KYC cases',
  'kyc.cases.decide': 'Approve or reject KYC cases',
  'consent.consents.create': 'Record open-banking consents',
  'consent.consents.read': 'Read consents',
  'consent.consents.revoke': 'Revoke consents',
  'audit.records.read': "Query a tenant's audit records",
  'audit.records.export': "Export a tenant's audit records with their checkpoint",
  'audit.legal-holds.manage': "Place and release a legal hold on a tenant's audit records",
} as const;

export type Permission = keyof typeof PERMISSIONS;

export function isPermission(value: string): value is Permission {
  return Object.hasOwn(PERMISSIONS, value);
}

/** Held by bus identities (the gateway, services), never by a person's role or a tenant's credential. */
export const SERVICE_IDENTITY_PERMISSIONS: readonly Permission[] = [
  'auth.jwks.read',
  'auth.service-tokens.issue',
  'auth.oidc.exchange',
  'auth.api-keys.authenticate',
];

/** The platform's own (super_admin, the operator): never a tenant's. */
export const PLATFORM_PERMISSIONS: readonly Permission[] = [
  'platform.health.read',
  'tenants.tenants.create',
  'tenants.tenants.list',
  'tenants.tenants.suspend',
  'tenants.settings.update',
];
