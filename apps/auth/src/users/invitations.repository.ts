import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { INVITATION_TTL_SECONDS, type User } from '@strongroom/contracts';
import {
  type AuditOrigin,
  conflictOnDuplicate,
  enqueueAudit,
  type KvSecrets,
  PlatformError,
  VersionedSecretKeys,
  withoutTenant,
  withTenant,
} from '@strongroom/platform';
import type { DataSource } from 'typeorm';
import { AUTH_AUDIT_EMITTER, type AuditTrail, authAuditEvent } from '../auth-audit';
import { insertUser } from './users.repository';

const DIGEST_KEY_PATH = 'auth/invitation-key';
/** `sr_inv_` + 32 random bytes: a link token nobody guesses, looked up by its HMAC. */
const TOKEN = /^sr_inv_[A-Za-z0-9_-]{43}$/;

export interface NewInvitation {
  tenantId: string;
  email: string;
  roles: string[];
  invitedBy: string;
}

export interface PendingInvitation {
  id: string;
  tenantId: string;
  email: string;
  roles: string[];
}

/** Invitations in Postgres: created in the inviter's tenant, found by token digest, accepted once. */
export class InvitationsRepository {
  private readonly keys: VersionedSecretKeys;

  constructor(
    private readonly dataSource: DataSource,
    secrets: KvSecrets,
  ) {
    this.keys = new VersionedSecretKeys(secrets, DIGEST_KEY_PATH);
  }

  /** The invitation and its audit event (never the link, nor the email), in one transaction. */
  async create(invitation: NewInvitation, now: Date, trail: AuditTrail) {
    const token = `sr_inv_${randomBytes(32).toString('base64url')}`;
    const id = randomUUID();
    const expiresAt = new Date(now.getTime() + INVITATION_TTL_SECONDS * 1000);
    const digest = await this.digest(token);
    await withTenant(this.dataSource, invitation.tenantId, async (manager) => {
      await manager.query(
        `INSERT INTO invitations (id, tenant_id, email, roles, token_digest, invited_by, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [id, invitation.tenantId, invitation.email, invitation.roles, digest, invitation.invitedBy, expiresAt],
      );
      await enqueueAudit(manager, AUTH_AUDIT_EMITTER, [
        authAuditEvent(trail, {
          tenantId: invitation.tenantId,
          occurredAt: now.toISOString(),
          action: 'auth.user.invite',
          resource: { type: 'invitation', id },
          details: { roles: [...invitation.roles], expiresAt: expiresAt.toISOString() },
        }),
      ]);
    });
    return { id, token, expiresAt };
  }

  /** The open invitation a token names, or undefined (unknown, used or expired: one answer). */
  async findOpen(token: string): Promise<PendingInvitation | undefined> {
    if (!TOKEN.test(token)) return undefined;
    const digest = await this.digest(token);
    const rows: Array<{ id: string; tenant_id: string; email: string; roles: string[] }> = await withoutTenant(
      this.dataSource,
      async (manager) => {
        await manager.query("SELECT set_config('app.invitation_digest', $1, true)", [digest]);
        return manager.query(
          `SELECT id, tenant_id, email, roles FROM invitations
            WHERE token_digest = $1 AND accepted_at IS NULL AND expires_at > now()`,
          [digest],
        );
      },
    );
    const row = rows[0];
    return row === undefined ? undefined : { id: row.id, tenantId: row.tenant_id, email: row.email, roles: row.roles };
  }

  /**
   * Creates the user and closes the invitation in one transaction: a link makes one account. The
   * new user, who proved they hold the link, is the actor of its creation.
   */
  async accept(invitation: PendingInvitation, passwordHash: string, origin: AuditOrigin): Promise<User> {
    return conflictOnDuplicate(
      () =>
        withTenant(this.dataSource, invitation.tenantId, async (manager) => {
          // A CTE: TypeORM answers a bare UPDATE with [rows, count], not rows.
          const closed: unknown[] = await manager.query(
            `WITH closed AS (
               UPDATE invitations SET accepted_at = now()
                WHERE id = $1 AND accepted_at IS NULL AND expires_at > now() RETURNING id
             ) SELECT id FROM closed`,
            [invitation.id],
          );
          if (closed.length === 0) throw PlatformError.notFound('Invitation', invitation.id);
          return insertUser(
            manager,
            { tenantId: invitation.tenantId, email: invitation.email, passwordHash, roles: invitation.roles },
            (created) => ({ trail: { actor: { type: 'user', id: created.id }, origin }, via: 'invitation' }),
          );
        }),
      () => PlatformError.conflict('A user with this email exists in the tenant'),
    );
  }

  private async digest(token: string): Promise<string> {
    const { key } = await this.keys.currentKey();
    return createHmac('sha256', key).update(token).digest('base64url');
  }
}
