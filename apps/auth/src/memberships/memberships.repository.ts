import { Inject, Injectable } from '@nestjs/common';
import { type Membership, membershipChanged } from '@strongroom/contracts';
import {
  dataSourceOf,
  enqueueAudit,
  enqueueEvent,
  PlatformError,
  SERVICE_RESOURCES,
  type ServiceResources,
  withTenant,
} from '@strongroom/platform';
import type { DataSource } from 'typeorm';
import { AUTH_AUDIT_EMITTER, type AuditTrail, authAuditEvent } from '../auth-audit';
import { revokeAccessOf } from '../roles/access-revocation';
import { customRolesNamed } from '../roles/custom-roles.repository';
import { type CustomRole, customRoleNamesOf, permissionsLost, resolveRoles } from '../roles/tenant-roles';

interface MembershipRow {
  id: string;
  tenant_id: string;
  email: string;
  roles: string[];
  created_at: Date;
}

const membershipOf = (row: MembershipRow): Membership => ({
  userId: row.id,
  tenantId: row.tenant_id,
  email: row.email,
  roles: row.roles,
  createdAt: row.created_at.toISOString(),
});

export interface RolesAssignment {
  tenantId: string;
  userId: string;
  roles: readonly string[];
  actor: string;
  trail: AuditTrail;
}

/**
 * Refuses (throws) an assignment once the user's current roles and the custom roles of both the
 * current and the new ones are known, inside the transaction.
 */
export type AuthorizeAssignment = (before: readonly string[], customRoles: readonly CustomRole[]) => void;

/** Users' roles in their tenant (RLS: another tenant's user is simply not found). */
@Injectable()
export class MembershipsRepository {
  private readonly dataSource: DataSource;

  constructor(@Inject(SERVICE_RESOURCES) resources: ServiceResources) {
    this.dataSource = dataSourceOf(resources);
  }

  /** A page of users by id, one more read than asked to know whether another page follows. */
  async list(tenantId: string, page: { limit: number; after?: string | undefined }) {
    return withTenant(this.dataSource, tenantId, async (manager) => {
      const rows: MembershipRow[] = await manager.query(
        `SELECT id, tenant_id, email, roles, created_at FROM users
          WHERE ($1::uuid IS NULL OR id > $1) ORDER BY id LIMIT $2`,
        [page.after ?? null, page.limit + 1],
      );
      const users = rows.slice(0, page.limit).map(membershipOf);
      return rows.length > page.limit ? { users, next: users.at(-1)!.userId } : { users };
    });
  }

  /**
   * Sets a user's roles. Custom roles named are locked first (a concurrent change of one waits,
   * and a deleted one is reported unknown), then the user. If the user lost any permission, its
   * access tokens are revoked in the same transaction; its refresh grants are kept.
   */
  async setRoles(assignment: RolesAssignment, authorize: AuthorizeAssignment, now: Date) {
    return withTenant(this.dataSource, assignment.tenantId, async (manager) => {
      const granted = await customRolesNamed(manager, customRoleNamesOf(assignment.roles));
      const users: MembershipRow[] = await manager.query(
        'SELECT id, tenant_id, email, roles, created_at FROM users WHERE id = $1 FOR UPDATE',
        [assignment.userId],
      );
      const user = users[0];
      if (user === undefined) throw PlatformError.notFound('User', assignment.userId);
      // The roles given up are read, not locked: locking them after the user could deadlock with a
      // role change (which locks the role, then its holders); a change racing this one revokes anyway.
      const given = new Set(granted.map((role) => role.name));
      const before = customRoleNamesOf(user.roles).filter((name) => !given.has(name));
      const held = await customRolesNamed(manager, before, 'none');
      const customRoles = [...granted, ...held];
      authorize(user.roles, customRoles);
      await manager.query('UPDATE users SET roles = $2 WHERE id = $1', [assignment.userId, assignment.roles]);
      const lost = permissionsLost(
        resolveRoles(user.roles, customRoles).permissions,
        resolveRoles(assignment.roles, customRoles).permissions,
      );
      const tokensRevokedAt = lost.length > 0 ? await revokeAccessOf(manager, assignment.tenantId, [user.id]) : null;
      if (!sameRoles(user.roles, assignment.roles)) {
        await enqueueAudit(manager, AUTH_AUDIT_EMITTER, [
          authAuditEvent(assignment.trail, {
            tenantId: assignment.tenantId,
            occurredAt: now.toISOString(),
            action: 'auth.membership.change',
            resource: { type: 'user', id: user.id },
            details: {
              rolesBefore: user.roles,
              roles: [...assignment.roles],
              accessTokensRevoked: tokensRevokedAt !== null,
            },
          }),
        ]);
        await enqueueEvent(
          manager,
          membershipChanged,
          {
            tenantId: assignment.tenantId,
            actor: assignment.actor.slice(0, 200),
            occurredAt: now.toISOString(),
            userId: user.id,
            rolesBefore: user.roles,
            roles: [...assignment.roles],
          },
          { tenantId: assignment.tenantId },
        );
      }
      return {
        membership: membershipOf({ ...user, roles: [...assignment.roles] }),
        usersAffected: tokensRevokedAt === null ? 0 : 1,
        tokensRevokedAt,
      };
    });
  }
}

function sameRoles(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && [...a].sort().join(' ') === [...b].sort().join(' ');
}
