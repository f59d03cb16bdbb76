import { Inject, Injectable } from '@nestjs/common';
import { clientCreated, type OAuthClient } from '@strongroom/contracts';
import {
  dataSourceOf,
  enqueueAudit,
  enqueueEvent,
  SERVICE_RESOURCES,
  type ServiceResources,
  withTenant,
} from '@strongroom/platform';
import type { DataSource } from 'typeorm';
import { AUTH_AUDIT_EMITTER, type AuditTrail, authAuditEvent } from '../auth-audit';
import type { StrongroomClientMetadata } from '../oidc/oidc-configuration';

/** The only code that writes `oauth_clients`; always inside the client's tenant context (RLS). */
@Injectable()
export class ClientsRepository {
  private readonly dataSource: DataSource;

  constructor(@Inject(SERVICE_RESOURCES) resources: ServiceResources) {
    this.dataSource = dataSourceOf(resources);
  }

  /** `metadata.client_secret`, when present, must already be the peppered hash. Audited with the change. */
  async create(
    client: Omit<OAuthClient, 'createdAt'>,
    metadata: StrongroomClientMetadata,
    trail: AuditTrail,
  ): Promise<OAuthClient> {
    return withTenant(this.dataSource, client.tenantId, async (manager) => {
      const rows: Array<{ created_at: Date }> = await manager.query(
        `INSERT INTO oauth_clients (client_id, tenant_id, environment, name, metadata)
         VALUES ($1, $2, $3, $4, $5) RETURNING created_at`,
        [client.clientId, client.tenantId, client.environment, client.name, metadata],
      );
      const created: OAuthClient = { ...client, createdAt: rows[0]!.created_at.toISOString() };
      await enqueueEvent(manager, clientCreated, created, { tenantId: client.tenantId });
      await enqueueAudit(manager, AUTH_AUDIT_EMITTER, [
        authAuditEvent(trail, {
          tenantId: client.tenantId,
          environment: client.environment,
          action: 'auth.client.create',
          resource: { type: 'oauth_client', id: client.clientId },
          // What it may do; never its secret (nor the secret's hash).
          details: {
            // At most 64 list items in a record; the catalogue has fewer permissions, the count says if not.
            permissions: metadata.permissions.slice(0, 64),
            permissionCount: metadata.permissions.length,
            grantTypes: [...(metadata.grant_types ?? [])],
            confidential: metadata.client_secret !== undefined,
          },
        }),
      ]);
      return created;
    });
  }
}
