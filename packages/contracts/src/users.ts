import { z } from 'zod';
import { defineEvent, defineRequest } from './contract';
import { type Permission, PLATFORM_PERMISSIONS } from './permissions';
import { tenantIdSchema } from './tenants';

/**
 * Seed 001's roles (super_admin, partner_admin, partner_user, farmer, dealer) and seed 003's
 * (Admin, Developer, Viewer). Seed 003's "custom role creation" adds a tenant's own roles
 * beside them (roles.ts); no seed names an auditor role, so a tenant defines one as a custom
 * role holding `audit.records.read` (docs/identity.md).
 */
export const PREDEFINED_ROLES = [
  'super_admin',
  'partner_admin',
  'partner_user',
  'farmer',
  'dealer',
  'admin',
  'developer',
  'viewer',
] as const;
export type Role = (typeof PREDEFINED_ROLES)[number];

export function isPredefinedRole(name: string): name is Role {
  return (PREDEFINED_ROLES as readonly string[]).includes(name);
}

/** A role name, predefined or a tenant's custom one: lower case, digits and `_`, 3–40 characters. */
export const ROLE_NAME_PATTERN = /^[a-z][a-z0-9_]{2,39}$/;
/**
 * A role a user may hold: a predefined role or a custom role of the user's tenant. The shape is
 * checked here; whether a custom name exists in the tenant is checked by auth (VALIDATION).
 */
export const roleSchema = z.string().regex(ROLE_NAME_PATTERN, 'a role name: a-z, 0-9 and _, 3 to 40 characters');
/** A user holds a handful of roles; the invitations table checks the same bound. */
export const ROLES_PER_USER_MAX = 16;
export const userRolesSchema = z
  .array(roleSchema)
  .min(1)
  .max(ROLES_PER_USER_MAX)
  .refine((roles) => new Set(roles).size === roles.length, 'a role is named twice');

/** Passwords: long enough to matter, bounded so hashing cost cannot be abused. */
export const PASSWORD_LENGTH_MIN = 12;
export const PASSWORD_LENGTH_MAX = 256;

export const userSchema = z.object({
  id: z.uuid(),
  tenantId: tenantIdSchema,
  email: z.string(),
  roles: z.array(roleSchema),
  createdAt: z.iso.datetime(),
});
export type User = z.infer<typeof userSchema>;

export const createUser = defineRequest({
  subject: 'auth.v1.users.create',
  request: z
    .object({
      tenantId: tenantIdSchema,
      email: z.email().max(320).toLowerCase(),
      password: z.string().min(PASSWORD_LENGTH_MIN).max(PASSWORD_LENGTH_MAX),
      roles: userRolesSchema,
    })
    .strict(),
  response: userSchema,
  permission: 'auth.users.create',
  summary: 'Create a user in a tenant (the password is stored as an argon2id hash)',
});

export const userCreated = defineEvent({
  subject: 'evt.auth.v1.users.created',
  payload: userSchema,
  summary: 'A user was created',
});

/**
 * Seed 003's Viewer: sees the integration's configuration, read-only; nothing holding money or
 * personal data (users, ledger, KYC, consents, audit): a tenant grants those with a custom role.
 */
const TENANT_READ: Permission[] = ['tenants.tenants.read', 'auth.api-keys.read'];
/** Seed 001's front line (partner users, dealers' terminals): cards and PINs, never unlocking one. */
const CARD_OPERATIONS: Permission[] = ['auth.cards.register', 'auth.cards.verify-pin', 'auth.cards.change-pin'];
/** Seed 003's Developer: builds the integration (clients, API keys) on top of what a viewer sees. */
const TENANT_DEVELOPER: Permission[] = [
  ...TENANT_READ,
  'tenants.environments.read',
  'auth.roles.read',
  'auth.clients.create',
  'auth.api-keys.create',
  'auth.api-keys.rotate',
  'auth.api-keys.revoke',
  ...CARD_OPERATIONS,
];
/**
 * Seed 003's Admin and seed 001's partner_admin: everything inside the tenant — its users, roles
 * and memberships, its environments, the ledger (allocations, reversals, exports), KYC decisions,
 * consents (read and revoke on a customer's request; recording one is the client app's) and the
 * audit trail. Never another tenant, never the platform's own permissions.
 */
const TENANT_ADMIN: Permission[] = [
  ...TENANT_DEVELOPER,
  'tenants.environments.update',
  'auth.users.create',
  'auth.users.read',
  'auth.memberships.update',
  'auth.roles.manage',
  'auth.tokens.revoke',
  'auth.cards.unlock',
  'ledger.accounts.create',
  'ledger.accounts.read',
  'ledger.transfers.create',
  'ledger.transfers.read',
  'ledger.transfers.reverse',
  'ledger.exports.create',
  'kyc.cases.create',
  'kyc.cases.read',
  'kyc.cases.decide',
  'consent.consents.read',
  'consent.consents.revoke',
  'audit.records.read',
  'audit.records.export',
  'audit.legal-holds.manage',
];

/**
 * What each predefined role may do (seed 001's roles, seed 003's Admin/Developer/Viewer). A
 * user's token carries these (with those of the user's custom roles), narrowed to the client's
 * permissions and the requested scope. Least privilege: a role holds what its seed describes.
 */
export const ROLE_PERMISSIONS: Readonly<Record<Role, readonly Permission[]>> = {
  // Seed 001's platform operator: every tenant's administration plus the platform's own.
  super_admin: [...TENANT_ADMIN, ...PLATFORM_PERMISSIONS],
  partner_admin: TENANT_ADMIN,
  admin: TENANT_ADMIN,
  developer: TENANT_DEVELOPER,
  // A partner's field officer: onboards farmers (KYC), registers their cards, follows allocations.
  partner_user: [
    ...TENANT_READ,
    ...CARD_OPERATIONS,
    'kyc.cases.create',
    'kyc.cases.read',
    'ledger.accounts.read',
    'ledger.transfers.read',
  ],
  // Seed 001: a farmer receives input allocations (reads the voucher balance and history) and
  // guards the card's PIN; the redemption itself is posted by the dealer's terminal.
  farmer: ['ledger.accounts.read', 'ledger.transfers.read', 'auth.cards.change-pin'],
  // Seed 001: a dealer redeems vouchers at the shop, checking the farmer's card PIN first.
  dealer: ['auth.cards.verify-pin', 'ledger.accounts.read', 'ledger.transfers.create', 'ledger.transfers.read'],
  viewer: TENANT_READ,
};

/** The permissions of the predefined roles among `roles` (custom roles are resolved by auth). */
export function permissionsOfRoles(roles: readonly string[]): Set<Permission> {
  const permissions = new Set<Permission>();
  for (const role of roles) {
    if (isPredefinedRole(role)) for (const permission of ROLE_PERMISSIONS[role]) permissions.add(permission);
  }
  return permissions;
}

/** Seed 002 "automated alerting for anomalous API patterns, authentication failures". */
export const anomalyDetected = defineEvent({
  subject: 'evt.auth.v1.anomaly.detected',
  payload: z.object({
    kind: z.enum(['account_failures', 'ip_failures', 'refresh_token_reuse']),
    tenantId: tenantIdSchema.optional(),
    /** A user id or client id; never an email or an IP (the throttle keys are hashed for that). */
    subject: z.string().max(200).optional(),
    clientId: z.string().max(200).optional(),
    failures: z.number().int().nonnegative().optional(),
    windowSeconds: z.number().int().positive().optional(),
    detectedAt: z.iso.datetime(),
  }),
  summary: 'Repeated authentication failures or a replayed refresh token (alerting)',
});

/** Seed-independent, OWASP-style: an invitation link works once and not for long. */
export const INVITATION_TTL_SECONDS = 7 * 86_400;

export const invitationSchema = z.object({
  invitationId: z.uuid(),
  tenantId: tenantIdSchema,
  email: z.string(),
  roles: z.array(roleSchema),
  expiresAt: z.iso.datetime(),
});

export const inviteUser = defineRequest({
  subject: 'auth.v1.users.invite',
  request: z
    .object({
      tenantId: tenantIdSchema,
      email: z.email().max(320).toLowerCase(),
      roles: userRolesSchema,
    })
    .strict(),
  response: invitationSchema.extend({
    /** The one-time link to hand to the user (shown once; only an HMAC of its token is stored). */
    acceptUrl: z.string(),
  }),
  permission: 'auth.users.create',
  summary: 'Invite a user to a tenant: a one-time link where the user chooses a password',
});

/** Seed 001: "structured audit logs on every authentication". Never the email or the password. */
export const loginAttempted = defineEvent({
  subject: 'evt.auth.v1.logins.attempted',
  payload: z.object({
    tenantId: tenantIdSchema,
    /** Known when the credentials matched an account. */
    userId: z.uuid().optional(),
    clientId: z.string().max(200).optional(),
    outcome: z.enum(['succeeded', 'failed', 'throttled', 'mfa_code_required', 'mfa_enrolment_required']),
    reason: z
      .enum(['invalid_credentials', 'rate_limited_account', 'rate_limited_ip', 'backoff', 'locked_out'])
      .optional(),
    amr: z.array(z.string()).optional(),
    sourceIp: z.string().max(64),
    occurredAt: z.iso.datetime(),
  }),
  summary: 'A sign-in was attempted (its outcome, never the credentials)',
});

export const mfaEnrolled = defineEvent({
  subject: 'evt.auth.v1.mfa.enrolled',
  payload: z.object({
    tenantId: tenantIdSchema,
    userId: z.uuid(),
    method: z.literal('totp'),
    occurredAt: z.iso.datetime(),
  }),
  summary: 'A user enrolled a second factor',
});
