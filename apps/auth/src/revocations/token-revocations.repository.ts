import { Inject, Injectable } from '@nestjs/common';
import {
  ACCESS_TOKEN_TTL_SECONDS_MAX,
  type TokenRevocation,
  type TokenRevocationTarget,
  tokensRevoked,
} from '@strongroom/contracts';
import {
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

const TARGET_RESOURCES = { user: 'user', client: 'oauth_client', tenant: 'tenant' } as const;

function targetIdOf(target: TokenRevocationTarget, tenantId: string): string {
  switch (target.scope) {
    case 'user':
      return target.userId;
    case 'client':
      return target.clientId;
    case 'tenant':
      return tenantId;
  }
}

/**
 * Administrative revocation in one transaction: each target is checked to belong to the tenant
 * (RLS: another tenant's user or client is simply not found), its stored grants (refresh tokens,
 * codes) are deleted, and a revocation event per target goes through the outbox, so access
 * tokens, which are never stored, are refused by every service as soon as it applies the event.
 */
@Injectable()
export class TokenRevocationsRepository {
  private readonly dataSource: DataSource;

  constructor(@Inject(SERVICE_RESOURCES) resources: ServiceResources) {
    this.dataSource = dataSourceOf(resources);
  }

  /** One audit event per target, with the revocation (all of them or none). */
  async revoke(
    tenantId: string,
    targets: readonly TokenRevocationTarget[],
    now: Date,
    trail: AuditTrail,
  ): Promise<number> {
    return withTenant(this.dataSource, tenantId, async (manager) => {
      let grantsRevoked = 0;
      const expiresAt = new Date(now.getTime() + ACCESS_TOKEN_TTL_SECONDS_MAX * 1000).toISOString();
      const times = { revokedAt: now.toISOString(), expiresAt };
      for (const target of targets) {
        const { revocation, deleted } = await this.revokeOne(manager, tenantId, target, times);
        grantsRevoked += deleted;
        await enqueueEvent(manager, tokensRevoked, revocation, { tenantId });
        await enqueueAudit(manager, AUTH_AUDIT_EMITTER, [
          authAuditEvent(trail, {
            tenantId,
            occurredAt: times.revokedAt,
            action: 'auth.token.revoke',
            resource: { type: TARGET_RESOURCES[target.scope], id: targetIdOf(target, tenantId) },
            details: { scope: target.scope, grantsRevoked: deleted },
          }),
        ]);
      }
      return grantsRevoked;
    });
  }

  private async revokeOne(
    manager: EntityManager,
    tenantId: string,
    target: TokenRevocationTarget,
    times: { revokedAt: string; expiresAt: string },
  ): Promise<{ revocation: TokenRevocation; deleted: number }> {
    switch (target.scope) {
      case 'user': {
        const users: unknown[] = await manager.query('SELECT 1 FROM users WHERE id = $1', [target.userId]);
        if (users.length === 0) throw PlatformError.notFound('User', target.userId);
        const deleted = await deleteStored(manager, "payload->>'accountId' = $1", [target.userId]);
        return { revocation: { scope: 'subject', subject: target.userId, ...times }, deleted };
      }
      case 'client': {
        const clients: unknown[] = await manager.query('SELECT 1 FROM oauth_clients WHERE client_id = $1', [
          target.clientId,
        ]);
        if (clients.length === 0) throw PlatformError.notFound('Client', target.clientId);
        const deleted = await deleteStored(manager, "payload->>'clientId' = $1", [target.clientId]);
        return { revocation: { scope: 'client', clientId: target.clientId, ...times }, deleted };
      }
      case 'tenant': {
        // Every grant of its clients, and every sign-in session of its users (a session carries
        // accountId, not clientId: left alone it would get fresh codes after the revocation).
        const deleted = await deleteStored(
          manager,
          `payload->>'clientId' IN (SELECT client_id FROM oauth_clients WHERE tenant_id = $1)
           OR payload->>'accountId' IN (SELECT id::text FROM users WHERE tenant_id = $1)`,
          [tenantId],
        );
        return { revocation: { scope: 'tenant', tenantId, ...times }, deleted };
      }
    }
  }
}

async function deleteStored(manager: EntityManager, condition: string, parameters: unknown[]): Promise<number> {
  const rows: Array<{ count: string }> = await manager.query(
    `WITH deleted AS (DELETE FROM oidc_payloads WHERE ${condition} RETURNING 1) SELECT count(*)::text AS count FROM deleted`,
    parameters,
  );
  return Number(rows[0]?.count ?? 0);
}
