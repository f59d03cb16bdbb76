import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { type createTenant, type RequestOf, type Tenant, tenantCreated } from '@strongroom/contracts';
import {
  conflictOnDuplicate,
  dataSourceOf,
  enqueueEvent,
  PlatformError,
  SERVICE_RESOURCES,
  type ServiceResources,
  withTenant,
} from '@strongroom/platform';
import type { DataSource } from 'typeorm';

interface TenantRow {
  id: string;
  slug: string;
  name: string;
  region: Tenant['region'];
  status: Tenant['status'];
  created_at: Date;
}

function tenantOf(row: TenantRow): Tenant {
  return {
    id: row.id,
    slug: row.slug,
    name: row.name,
    region: row.region,
    status: row.status,
    createdAt: row.created_at.toISOString(),
  };
}

/** The only code that touches the `tenants` table; every query runs in the tenant's own context. */
@Injectable()
export class TenantsRepository {
  private readonly dataSource: DataSource;

  constructor(@Inject(SERVICE_RESOURCES) resources: ServiceResources) {
    this.dataSource = dataSourceOf(resources);
  }

  /** Inserts the tenant and its `tenants.created` event in one transaction. */
  async create(input: RequestOf<typeof createTenant>): Promise<Tenant> {
    const id = randomUUID();
    return conflictOnDuplicate(
      () =>
        withTenant(this.dataSource, id, async (manager) => {
          const rows: TenantRow[] = await manager.query(
            'INSERT INTO tenants (id, slug, name, region) VALUES ($1, $2, $3, $4) RETURNING *',
            [id, input.slug, input.name, input.region],
          );
          const tenant = tenantOf(rows[0]!);
          await enqueueEvent(manager, tenantCreated, tenant, { tenantId: id });
          return tenant;
        }),
      () => PlatformError.conflict('A tenant with this slug exists', { slug: input.slug }),
    );
  }

  async find(tenantId: string): Promise<Tenant | undefined> {
    const rows: TenantRow[] = await withTenant(this.dataSource, tenantId, (manager) =>
      manager.query('SELECT * FROM tenants WHERE id = $1', [tenantId]),
    );
    return rows[0] === undefined ? undefined : tenantOf(rows[0]);
  }
}
