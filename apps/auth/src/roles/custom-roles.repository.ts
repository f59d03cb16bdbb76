import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { CUSTOM_ROLES_PER_TENANT_MAX, roleCreated, roleDeleted, roleUpdated } from '@strongroom/contracts';
import {
  conflictOnDuplicate,
  dataSourceOf,
  enqueueAudit,
  enqueueEvent,
  PlatformError,
  SERVICE_RESOURCES,
  type ServiceResources,
  withTenant,
} from '@strongroom/platform';
import type { DataSource, EntityManager } from 'typeorm';
import { AUTH_AUDIT_EMITTER, type AuditTrail, authAuditEvent } from '../auth-audit';
import { revokeAccessOf } from './access-revocation';
import { type CustomRole, permissionsLost } from './tenant-roles';

interface CustomRoleRow {
  name: string;
  description: string | null;
  permissions: string[];
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = 'name, description, permissions, created_at, updated_at';

const customRoleOf = (row: CustomRoleRow): CustomRole => ({
  name: row.name,
  description: row.description,
  permissions: row.permissions,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

export interface RoleChange {
  tenantId: string;
  name: string;
  description?: string | undefined;
  permissions: readonly string[];
  /** The subject of the caller's credential, for the domain event. */
  actor: string;
  /** Who it is and the request it came with, for the audit event. */
  trail: AuditTrail;
}

/** A change to a role refused (FORBIDDEN) once its current state is known, inside the transaction. */
export type AuthorizeRoleChange = (current: CustomRole) => void;

/**
 * The tenant's custom roles in Postgres (RLS: another tenant's role is simply not found). Each
 * change writes its audit event, and any revocation it causes, in its own transaction.
 */
@Injectable()
export class CustomRolesRepository {
  private readonly dataSource: DataSource;

  constructor(@Inject(SERVICE_RESOURCES) resources: ServiceResources) {
    this.dataSource = dataSourceOf(resources);
  }

  async list(tenantId: string): Promise<CustomRole[]> {
    return withTenant(this.dataSource, tenantId, async (manager) => {
      const rows: CustomRoleRow[] = await manager.query(`SELECT ${COLUMNS} FROM custom_roles ORDER BY name`);
      return rows.map(customRoleOf);
    });
  }

  /** The custom roles among `names` that exist in the tenant. */
  async named(tenantId: string, names: readonly string[]): Promise<CustomRole[]> {
    if (names.length === 0) return [];
    return withTenant(this.dataSource, tenantId, (manager) => customRolesNamed(manager, names, 'none'));
  }

  /** CONFLICT on a taken name or when the tenant has its maximum of custom roles already. */
  async create(change: RoleChange, now: Date): Promise<CustomRole> {
    return conflictOnDuplicate(
      () =>
        withTenant(this.dataSource, change.tenantId, async (manager) => {
          // One creation at a time per tenant, so the bound holds under concurrent creations.
          await manager.query("SELECT pg_advisory_xact_lock(hashtext('custom_roles:' || $1))", [change.tenantId]);
          const [{ count }] = await manager.query('SELECT count(*)::int AS count FROM custom_roles');
          if (count >= CUSTOM_ROLES_PER_TENANT_MAX)
            throw PlatformError.conflict(`A tenant has at most ${CUSTOM_ROLES_PER_TENANT_MAX} custom roles`);
          const rows: CustomRoleRow[] = await manager.query(
            `INSERT INTO custom_roles (id, tenant_id, name, description, permissions, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING ${COLUMNS}`,
            [randomUUID(), change.tenantId, change.name, change.description ?? null, change.permissions, now],
          );
          await enqueueEvent(
            manager,
            roleCreated,
            { ...audited(change, now), name: change.name, permissions: [...change.permissions] },
            { tenantId: change.tenantId },
          );
          await enqueueRoleAudit(manager, change, now, 'auth.role.create', { permissions: [...change.permissions] });
          return customRoleOf(rows[0]!);
        }),
      () => PlatformError.conflict('A role with this name exists in the tenant', { name: change.name }),
    );
  }

  /**
   * Replaces the role's permissions. If it lost any, every holder's access tokens are revoked in
   * the same transaction (their refresh grants are kept: a refresh yields the new permissions).
   */
  async update(change: RoleChange, authorize: AuthorizeRoleChange, now: Date) {
    return withTenant(this.dataSource, change.tenantId, async (manager) => {
      const current = await lockedRole(manager, change.name);
      authorize(current);
      // A CTE: TypeORM answers a bare UPDATE with [rows, count], not rows.
      const rows: CustomRoleRow[] = await manager.query(
        `WITH updated AS (
           UPDATE custom_roles SET permissions = $2, description = coalesce($3, description), updated_at = $4
            WHERE name = $1 RETURNING ${COLUMNS}
         ) SELECT ${COLUMNS} FROM updated`,
        [change.name, change.permissions, change.description ?? null, now],
      );
      const removed = permissionsLost(current.permissions, new Set(change.permissions));
      const holders = removed.length > 0 ? await lockedHolders(manager, change.name) : [];
      const tokensRevokedAt = await revokeAccessOf(manager, change.tenantId, holders);
      await enqueueEvent(
        manager,
        roleUpdated,
        {
          ...audited(change, now),
          name: change.name,
          permissions: [...change.permissions],
          permissionsRemoved: removed,
          usersAffected: holders.length,
        },
        { tenantId: change.tenantId },
      );
      await enqueueRoleAudit(manager, change, now, 'auth.role.update', {
        permissions: [...change.permissions],
        permissionsRemoved: removed,
        usersAffected: holders.length,
      });
      return { role: customRoleOf(rows[0]!), usersAffected: holders.length, tokensRevokedAt };
    });
  }

  /**
   * Deletes a role nobody holds: CONFLICT, with the count, while a user or an open invitation
   * names it (an administrator reassigns them first; a deletion never silently strips access).
   */
  async delete(change: Omit<RoleChange, 'permissions'>, authorize: AuthorizeRoleChange, now: Date): Promise<void> {
    await withTenant(this.dataSource, change.tenantId, async (manager) => {
      authorize(await lockedRole(manager, change.name));
      const [{ users, invitations }] = await manager.query(
        `SELECT (SELECT count(*)::int FROM users WHERE roles @> ARRAY[$1]::text[]) AS users,
                (SELECT count(*)::int FROM invitations
                  WHERE roles @> ARRAY[$1]::text[] AND accepted_at IS NULL AND expires_at > now()) AS invitations`,
        [change.name],
      );
      if (users > 0 || invitations > 0)
        throw PlatformError.conflict('The role is held; change the holders’ roles first', {
          name: change.name,
          users,
          invitations,
        });
      await manager.query('DELETE FROM custom_roles WHERE name = $1', [change.name]);
      await enqueueEvent(
        manager,
        roleDeleted,
        { ...audited(change, now), name: change.name },
        { tenantId: change.tenantId },
      );
      await enqueueRoleAudit(manager, change, now, 'auth.role.delete', {});
    });
  }
}

/**
 * The custom roles among `names`. `share` locks them FOR SHARE: a concurrent change or deletion
 * of one waits for the caller's transaction, and the caller waits for it (then sees its outcome).
 */
export async function customRolesNamed(
  manager: EntityManager,
  names: readonly string[],
  lock: 'share' | 'none' = 'share',
): Promise<CustomRole[]> {
  if (names.length === 0) return [];
  const rows: CustomRoleRow[] = await manager.query(
    `SELECT ${COLUMNS} FROM custom_roles WHERE name = ANY($1::text[])${lock === 'share' ? ' FOR SHARE' : ''}`,
    [names],
  );
  return rows.map(customRoleOf);
}

async function lockedRole(manager: EntityManager, name: string): Promise<CustomRole> {
  const rows: CustomRoleRow[] = await manager.query(`SELECT ${COLUMNS} FROM custom_roles WHERE name = $1 FOR UPDATE`, [
    name,
  ]);
  if (rows[0] === undefined) throw PlatformError.notFound('Role', name);
  return customRoleOf(rows[0]);
}

/** The users holding a role, their rows locked (see revokeAccessOf). */
async function lockedHolders(manager: EntityManager, name: string): Promise<string[]> {
  const rows: Array<{ id: string }> = await manager.query(
    'SELECT id FROM users WHERE roles @> ARRAY[$1]::text[] ORDER BY id FOR UPDATE',
    [name],
  );
  return rows.map((row) => row.id);
}

/** A role's change in the tenant's audit trail, in the change's transaction. */
function enqueueRoleAudit(
  manager: EntityManager,
  change: Pick<RoleChange, 'tenantId' | 'name' | 'trail'>,
  now: Date,
  action: 'auth.role.create' | 'auth.role.update' | 'auth.role.delete',
  details: Record<string, string[] | number>,
): Promise<void> {
  return enqueueAudit(manager, AUTH_AUDIT_EMITTER, [
    authAuditEvent(change.trail, {
      tenantId: change.tenantId,
      occurredAt: now.toISOString(),
      action,
      resource: { type: 'role', id: change.name },
      details,
    }),
  ]);
}

function audited(change: { tenantId: string; actor: string }, now: Date) {
  return { tenantId: change.tenantId, actor: change.actor.slice(0, 200), occurredAt: now.toISOString() };
}
