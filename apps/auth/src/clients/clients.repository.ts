import { Inject, Injectable } from '@nestjs/common';
import { clientCreated, type OAuthClient } from '@strongroom/contracts';
import { dataSourceOf, enqueueEvent, SERVICE_RESOURCES, type ServiceResources, withTenant } from '@strongroom/platform';
import type { DataSource } from 'typeorm';
import type { StrongroomClientMetadata } from '../oidc/oidc-configuration';

/** The only code that writes `oauth_clients`; always inside the client's tenant context (RLS). */
@Injectable()
export class ClientsRepository {
  private readonly dataSource: DataSource;

  constructor(@Inject(SERVICE_RESOURCES) resources: ServiceResources) {
    this.dataSource = dataSourceOf(resources);
  }

  /** `metadata.client_secret`, when present, must already be the peppered hash. */
  async create(client: Omit<OAuthClient, 'createdAt'>, metadata: StrongroomClientMetadata): Promise<OAuthClient> {
    return withTenant(this.dataSource, client.tenantId, async (manager) => {
      const rows: Array<{ created_at: Date }> = await manager.query(
        `INSERT INTO oauth_clients (client_id, tenant_id, environment, name, metadata)
         VALUES ($1, $2, $3, $4, $5) RETURNING created_at`,
        [client.clientId, client.tenantId, client.environment, client.name, metadata],
      );
      const created: OAuthClient = { ...client, createdAt: rows[0]!.created_at.toISOString() };
      await enqueueEvent(manager, clientCreated, created, { tenantId: client.tenantId });
      return created;
    });
  }
}
