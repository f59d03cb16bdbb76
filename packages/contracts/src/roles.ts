import { z } from 'zod';
import { defineEvent, defineRequest } from './contract';
import { isPermission, PERMISSIONS } from './permissions';
import { tenantIdSchema } from './tenants';
import { isPredefinedRole, ROLE_NAME_PATTERN, userRolesSchema } from './users';

/**
 * Seed 003: "predefined roles (Admin, Developer, Viewer) and custom role creation". A tenant's
 * custom roles live in auth beside the predefined ones; a user holds roles of either kind, and
 * a token carries the union of their permissions (narrowed to the client and the scope).
 */

/** Bounds (TIGER_STYLE: a limit on everything): roles per tenant, and a role's permissions. */
export const CUSTOM_ROLES_PER_TENANT_MAX = 50;
export const ROLE_PERMISSIONS_MAX = Object.keys(PERMISSIONS).length;
export const ROLE_DESCRIPTION_LENGTH_MAX = 200;
export const MEMBERSHIPS_PAGE_SIZE_MAX = 100;

const permissionName = z.string().refine(isPermission, 'not a permission of the catalogue');
const rolePermissionsSchema = z
  .array(permissionName)
  .min(1)
  .max(ROLE_PERMISSIONS_MAX)
  .refine((permissions) => new Set(permissions).size === permissions.length, 'a permission is named twice');

/** A custom role's name: a role name that no predefined role has (so one name means one role). */
export const customRoleNameSchema = z
  .string()
  .regex(ROLE_NAME_PATTERN, 'a role name: a-z, 0-9 and _, 3 to 40 characters')
  .refine((name) => !isPredefinedRole(name), 'the name of a predefined role');

export const roleDefinitionSchema = z.object({
  name: z.string(),
  kind: z.enum(['predefined', 'custom']),
  description: z.string().nullable(),
  permissions: z.array(z.string()),
  /** Custom roles only. */
  createdAt: z.iso.datetime().optional(),
  updatedAt: z.iso.datetime().optional(),
});
export type RoleDefinition = z.infer<typeof roleDefinitionSchema>;

/** After a change that narrowed users' access: when their earlier access tokens stopped counting. */
const accessRevocationSchema = z.object({
  /** Users whose access tokens issued at or before `tokensRevokedAt` are refused everywhere within 1 s. */
  usersAffected: z.number().int().nonnegative(),
  tokensRevokedAt: z.iso.datetime().nullable(),
});

export const listRoles = defineRequest({
  subject: 'auth.v1.roles.list',
  request: z.object({ tenantId: tenantIdSchema }).strict(),
  response: z.object({ roles: z.array(roleDefinitionSchema).max(CUSTOM_ROLES_PER_TENANT_MAX + 16) }).strict(),
  permission: 'auth.roles.read',
  summary: "A tenant's roles, predefined then custom, each with its permissions",
});

/**
 * A custom role as written by create (a new one) and update (its whole new set of permissions,
 * replacing the old): within the caller's own permissions (FORBIDDEN naming the others).
 */
const roleRequestSchema = z
  .object({
    tenantId: tenantIdSchema,
    name: customRoleNameSchema,
    description: z.string().max(ROLE_DESCRIPTION_LENGTH_MAX).optional(),
    permissions: rolePermissionsSchema,
  })
  .strict();

export const createRole = defineRequest({
  subject: 'auth.v1.roles.create',
  request: roleRequestSchema,
  response: roleDefinitionSchema,
  permission: 'auth.roles.manage',
  summary: 'Define a custom role of a tenant (CONFLICT on a taken name, at most 50 per tenant)',
});

export const updateRole = defineRequest({
  subject: 'auth.v1.roles.update',
  request: roleRequestSchema,
  response: roleDefinitionSchema.extend(accessRevocationSchema.shape),
  permission: 'auth.roles.manage',
  summary: "Replace a custom role's permissions; its holders' tokens stop working within 1 s if it lost any",
});

export const deleteRole = defineRequest({
  subject: 'auth.v1.roles.delete',
  request: z.object({ tenantId: tenantIdSchema, name: customRoleNameSchema }).strict(),
  response: z.object({ name: z.string(), deletedAt: z.iso.datetime() }).strict(),
  permission: 'auth.roles.manage',
  summary: 'Delete a custom role nobody holds (CONFLICT while a user or an open invitation holds it)',
});

export const membershipSchema = z.object({
  userId: z.uuid(),
  tenantId: tenantIdSchema,
  email: z.string(),
  roles: z.array(z.string()),
  createdAt: z.iso.datetime(),
});
export type Membership = z.infer<typeof membershipSchema>;

export const listMemberships = defineRequest({
  subject: 'auth.v1.memberships.list',
  request: z
    .object({
      tenantId: tenantIdSchema,
      limit: z.number().int().min(1).max(MEMBERSHIPS_PAGE_SIZE_MAX).default(50),
      /** The `next` of the previous page (users are listed by id). */
      after: z.uuid().optional(),
    })
    .strict(),
  response: z
    .object({
      users: z.array(membershipSchema).max(MEMBERSHIPS_PAGE_SIZE_MAX),
      /** Present when there may be more: pass it as `after`. */
      next: z.uuid().optional(),
    })
    .strict(),
  permission: 'auth.users.read',
  summary: "A page of a tenant's users with their roles (never a password or MFA secret)",
});

export const setUserRoles = defineRequest({
  subject: 'auth.v1.memberships.update',
  request: z
    .object({
      tenantId: tenantIdSchema,
      userId: z.uuid(),
      /** Predefined or custom roles of the tenant; each within the caller's own permissions. */
      roles: userRolesSchema,
    })
    .strict(),
  response: membershipSchema.extend(accessRevocationSchema.shape),
  permission: 'auth.memberships.update',
  summary: "Set a user's roles; if any was removed, the user's tokens stop working within 1 s (refresh gets new ones)",
});

const auditedChange = {
  tenantId: tenantIdSchema,
  /** The subject of the credential that made the change. */
  actor: z.string().max(200),
  occurredAt: z.iso.datetime(),
};

export const roleCreated = defineEvent({
  subject: 'evt.auth.v1.roles.created',
  payload: z.object({ ...auditedChange, name: z.string(), permissions: z.array(z.string()) }),
  summary: 'A custom role was defined',
});

export const roleUpdated = defineEvent({
  subject: 'evt.auth.v1.roles.updated',
  payload: z.object({
    ...auditedChange,
    name: z.string(),
    permissions: z.array(z.string()),
    permissionsRemoved: z.array(z.string()),
    usersAffected: z.number().int().nonnegative(),
  }),
  summary: "A custom role's permissions were replaced",
});

export const roleDeleted = defineEvent({
  subject: 'evt.auth.v1.roles.deleted',
  payload: z.object({ ...auditedChange, name: z.string() }),
  summary: 'A custom role was deleted',
});

export const membershipChanged = defineEvent({
  subject: 'evt.auth.v1.memberships.changed',
  payload: z.object({
    ...auditedChange,
    userId: z.uuid(),
    rolesBefore: z.array(z.string()),
    roles: z.array(z.string()),
  }),
  summary: "A user's roles in a tenant were changed",
});
