import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { type User, userCreated } from '@strongroom/contracts';
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

interface UserRow {
  id: string;
  tenant_id: string;
  email: string;
  roles: User['roles'];
  created_at: Date;
}

export interface NewUser {
  tenantId: string;
  email: string;
  passwordHash: string;
  roles: User['roles'];
}

function userOf(row: UserRow): User {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    email: row.email,
    roles: row.roles,
    createdAt: row.created_at.toISOString(),
  };
}

/** The only code that touches `users`; always inside the user's tenant context (RLS). */
@Injectable()
export class UsersRepository {
  private readonly dataSource: DataSource;

  constructor(@Inject(SERVICE_RESOURCES) resources: ServiceResources) {
    this.dataSource = dataSourceOf(resources);
  }

  async create(user: NewUser, trail: AuditTrail): Promise<User> {
    return conflictOnDuplicate(
      () =>
        withTenant(this.dataSource, user.tenantId, (manager) =>
          insertUser(manager, user, () => ({ trail, via: 'admin' })),
        ),
      () => PlatformError.conflict('A user with this email exists in the tenant'),
    );
  }
}

/**
 * Inserts a user, its `users.created` event and its audit event in the caller's tenant
 * transaction. `auditedBy` names who created it (known after the insert for an invitee, who is
 * the new user) and how: by an administrator or by accepting an invitation.
 */
export async function insertUser(
  manager: EntityManager,
  user: NewUser,
  auditedBy: (created: User) => { trail: AuditTrail; via: 'admin' | 'invitation' },
): Promise<User> {
  const rows: UserRow[] = await manager.query(
    `INSERT INTO users (id, tenant_id, email, password_hash, roles) VALUES ($1, $2, $3, $4, $5)
     RETURNING id, tenant_id, email, roles, created_at`,
    [randomUUID(), user.tenantId, user.email, user.passwordHash, user.roles],
  );
  const created = userOf(rows[0]!);
  await enqueueEvent(manager, userCreated, created, { tenantId: user.tenantId });
  const { trail, via } = auditedBy(created);
  await enqueueAudit(manager, AUTH_AUDIT_EMITTER, [
    authAuditEvent(trail, {
      tenantId: user.tenantId,
      action: 'auth.user.create',
      resource: { type: 'user', id: created.id },
      // Never the email: the user is named by its id.
      details: { roles: [...created.roles], via },
    }),
  ]);
  return created;
}
