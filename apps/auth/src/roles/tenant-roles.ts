import {
  isPermission,
  isPredefinedRole,
  type Permission,
  PREDEFINED_ROLES,
  ROLE_PERMISSIONS,
  type RoleDefinition,
} from '@strongroom/contracts';
import { PlatformError } from '@strongroom/platform';

/** A tenant's own role (seed 003 "custom role creation"), as stored. */
export interface CustomRole {
  name: string;
  description: string | null;
  permissions: readonly string[];
  createdAt: Date;
  updatedAt: Date;
}

/** What a set of role names allows in a tenant, and the names that are no role of it. */
export interface ResolvedRoles {
  permissions: Set<Permission>;
  unknown: string[];
}

/**
 * The union of the permissions of `roles`: predefined ones from the contracts, custom ones from
 * the tenant's `customRoles`. A stored permission the catalogue no longer knows grants nothing.
 */
export function resolveRoles(roles: readonly string[], customRoles: readonly CustomRole[]): ResolvedRoles {
  const custom = new Map(customRoles.map((role) => [role.name, role]));
  const permissions = new Set<Permission>();
  const unknown: string[] = [];
  for (const name of roles) {
    const granted = isPredefinedRole(name) ? ROLE_PERMISSIONS[name] : custom.get(name)?.permissions;
    if (granted === undefined) unknown.push(name);
    for (const permission of granted ?? []) if (isPermission(permission)) permissions.add(permission);
  }
  return { permissions, unknown };
}

/** VALIDATION naming every role that is neither predefined nor one of the tenant's custom roles. */
export function assertRolesExist(roles: readonly string[], customRoles: readonly CustomRole[]): void {
  const { unknown } = resolveRoles(roles, customRoles);
  if (unknown.length > 0) throw PlatformError.validation('These roles do not exist in the tenant', { roles: unknown });
}

/** The permissions `before` had that `after` lacks: a change that loses any narrows access. */
export function permissionsLost(before: Iterable<string>, after: ReadonlySet<string>): string[] {
  return [...new Set(before)].filter((permission) => !after.has(permission)).sort();
}

/** The custom role names among `roles` (the ones to look up in the tenant). */
export function customRoleNamesOf(roles: readonly string[]): string[] {
  return [...new Set(roles.filter((role) => !isPredefinedRole(role)))];
}

/** The answer of `roles.list`: the predefined roles, then the tenant's custom ones by name. */
export function roleDefinitions(customRoles: readonly CustomRole[]): RoleDefinition[] {
  const predefined: RoleDefinition[] = PREDEFINED_ROLES.map((name) => ({
    name,
    kind: 'predefined',
    description: null,
    permissions: [...ROLE_PERMISSIONS[name]],
  }));
  const custom = [...customRoles].sort((a, b) => a.name.localeCompare(b.name)).map(customRoleDefinition);
  return [...predefined, ...custom];
}

export function customRoleDefinition(role: CustomRole): RoleDefinition {
  return {
    name: role.name,
    kind: 'custom',
    description: role.description,
    permissions: [...role.permissions],
    createdAt: role.createdAt.toISOString(),
    updatedAt: role.updatedAt.toISOString(),
  };
}
