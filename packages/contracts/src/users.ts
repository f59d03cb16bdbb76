import { z } from 'zod';
import { defineEvent, defineRequest } from './contract';
import type { Permission } from './permissions';
import { tenantIdSchema } from './tenants';

/** Seed 001 and 003 roles; tenants' custom roles arrive with the tenants issue. */
export const PREDEFINED_ROLES = [
  'super_admin',
  'partner_admin',
  'partner_user',
  'admin',
  'developer',
  'viewer',
] as const;
export const roleSchema = z.enum(PREDEFINED_ROLES);

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
      roles: z.array(roleSchema).min(1).max(PREDEFINED_ROLES.length),
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

export type Role = (typeof PREDEFINED_ROLES)[number];

const TENANT_READ: Permission[] = ['tenants.tenants.read', 'auth.api-keys.read'];
/** Seed 001's front line (partner users, dealers' terminals): cards and PINs, never unlocking one. */
const CARD_OPERATIONS: Permission[] = ['auth.cards.register', 'auth.cards.verify-pin', 'auth.cards.change-pin'];
const TENANT_DEVELOPER: Permission[] = [
  ...TENANT_READ,
  'auth.clients.create',
  'auth.api-keys.create',
  'auth.api-keys.rotate',
  'auth.api-keys.revoke',
  ...CARD_OPERATIONS,
];
const TENANT_ADMIN: Permission[] = [
  ...TENANT_DEVELOPER,
  'auth.users.create',
  'auth.tokens.revoke',
  'auth.cards.unlock',
];

/**
 * What each predefined role may do (seed 001's roles, seed 003's Admin/Developer/Viewer). A
 * user's token carries these, narrowed to the client's permissions and the requested scope.
 * Custom roles arrive with the tenants issue.
 */
export const ROLE_PERMISSIONS: Readonly<Record<Role, readonly Permission[]>> = {
  super_admin: [...TENANT_ADMIN, 'tenants.tenants.create'],
  partner_admin: TENANT_ADMIN,
  admin: TENANT_ADMIN,
  developer: TENANT_DEVELOPER,
  partner_user: [...TENANT_READ, ...CARD_OPERATIONS],
  viewer: TENANT_READ,
};

export function permissionsOfRoles(roles: readonly string[]): Set<Permission> {
  const permissions = new Set<Permission>();
  for (const role of roles) for (const permission of ROLE_PERMISSIONS[role as Role] ?? []) permissions.add(permission);
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
      roles: z.array(roleSchema).min(1).max(PREDEFINED_ROLES.length),
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
