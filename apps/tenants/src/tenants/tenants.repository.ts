import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import {
  type createTenant,
  PLATFORM_TENANT_ID,
  type RequestOf,
  type Tenant,
  type TenantSettings,
  type TenantSettingsPatch,
  tenantCreated,
  tenantReactivated,
  tenantSettingsSchema,
  tenantSettingsUpdated,
  tenantSuspended,
} from '@strongroom/contracts';
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
import { type AuditTrail, TENANTS_AUDIT_EMITTER, tenantsAuditEvent } from '../tenants-audit';

interface TenantRow {
  id: string;
  slug: string;
  name: string;
  region: Tenant['region'];
  status: Tenant['status'];
  /** jsonb, parsed by pg; the table's CHECKs hold it to exactly the known keys, each in bounds. */
  settings: TenantSettings;
  created_at: Date;
}

function tenantOf(row: TenantRow): Tenant {
  return {
    id: row.id,
    slug: row.slug,
    name: row.name,
    region: row.region,
    status: row.status,
    settings: settingsJson(row.settings),
    createdAt: row.created_at.toISOString(),
  };
}

/** The settings as stored and sent: the known keys only, whatever else the object carried. */
function settingsJson(settings: TenantSettings): TenantSettings {
  return {
    accessTokenTtlSeconds: settings.accessTokenTtlSeconds,
    refreshTokenTtlSeconds: settings.refreshTokenTtlSeconds,
    kycRetentionDays: settings.kycRetentionDays,
    auditRetentionDays: settings.auditRetentionDays,
    ratePlan: settings.ratePlan,
  };
}

/** Only the keys a patch names, in a fixed order (so equal patches serialise alike). */
function patchJson(patch: TenantSettingsPatch): string {
  const keys = Object.keys(tenantSettingsSchema.shape) as Array<keyof TenantSettings>;
  return JSON.stringify(
    Object.fromEntries(keys.filter((key) => patch[key] !== undefined).map((key) => [key, patch[key]])),
  );
}

export interface TenantPage {
  tenants: Tenant[];
  nextCursor: string | null;
}

/**
 * The only code that touches the `tenants` table; every query runs in the tenant's own context,
 * except listing, which runs in the platform tenant's (a SELECT-only policy lets it see every row).
 */
@Injectable()
export class TenantsRepository {
  private readonly dataSource: DataSource;

  constructor(@Inject(SERVICE_RESOURCES) resources: ServiceResources) {
    this.dataSource = dataSourceOf(resources);
  }

  /**
   * Inserts the tenant, its `tenants.created` event and its audit event (the first of its own
   * chain) in one transaction. Without settings it gets the schema's defaults (15 minutes access,
   * 7 days refresh).
   */
  async create(input: RequestOf<typeof createTenant>, trail: AuditTrail): Promise<Tenant> {
    const id = randomUUID();
    const settings = settingsJson(input.settings ?? tenantSettingsSchema.parse({}));
    return conflictOnDuplicate(
      () =>
        withTenant(this.dataSource, id, async (manager) => {
          const rows: TenantRow[] = await manager.query(
            'INSERT INTO tenants (id, slug, name, region, settings) VALUES ($1, $2, $3, $4, $5::jsonb) RETURNING *',
            [id, input.slug, input.name, input.region, JSON.stringify(settings)],
          );
          const tenant = tenantOf(rows[0]!);
          // Every tenant has both environments from the start (seed 003: sandbox and production).
          await manager.query(
            "INSERT INTO tenant_environments (tenant_id, environment) VALUES ($1, 'sandbox'), ($1, 'production')",
            [id],
          );
          await enqueueEvent(manager, tenantCreated, tenant, { tenantId: id });
          await enqueueAudit(manager, TENANTS_AUDIT_EMITTER, [
            tenantsAuditEvent(trail, {
              tenantId: id,
              action: 'tenants.tenant.create',
              resource: { type: 'tenant', id },
              details: { slug: tenant.slug, region: tenant.region, settings: { ...tenant.settings } },
            }),
          ]);
          return tenant;
        }),
      () => PlatformError.conflict('A tenant with this slug exists', { slug: input.slug }),
    );
  }

  /**
   * A page of tenants, oldest first. The cursor is the last tenant's id; one that names no
   * tenant is a VALIDATION error (never an empty page that looks like the end).
   */
  async list(filter: {
    limit: number;
    cursor?: string | undefined;
    status?: Tenant['status'] | undefined;
    region?: Tenant['region'] | undefined;
  }): Promise<TenantPage> {
    return withTenant(this.dataSource, PLATFORM_TENANT_ID, async (manager) => {
      if (filter.cursor !== undefined) {
        const known: unknown[] = await manager.query('SELECT 1 FROM tenants WHERE id = $1', [filter.cursor]);
        if (known.length === 0) throw PlatformError.validation('The cursor names no tenant', { field: 'cursor' });
      }
      const rows: TenantRow[] = await manager.query(
        `SELECT * FROM tenants
          WHERE ($1::uuid IS NULL OR (created_at, id) > (SELECT created_at, id FROM tenants WHERE id = $1::uuid))
            AND ($2::text IS NULL OR status = $2)
            AND ($3::text IS NULL OR region = $3)
          ORDER BY created_at, id
          LIMIT $4`,
        [filter.cursor ?? null, filter.status ?? null, filter.region ?? null, filter.limit + 1],
      );
      const page = rows.slice(0, filter.limit).map(tenantOf);
      return { tenants: page, nextCursor: rows.length > filter.limit ? page[page.length - 1]!.id : null };
    });
  }

  async find(tenantId: string): Promise<Tenant | undefined> {
    return withTenant(this.dataSource, tenantId, (manager) => this.findWith(manager, tenantId));
  }

  /**
   * Suspends or reactivates the tenant, with its `tenants.suspended` / `tenants.reactivated`
   * event in the same transaction. Idempotent: a tenant already in `status` is returned as it
   * is and no event is written (two racing calls write one: the second's UPDATE waits for the
   * first's row lock, then finds nothing left to change). Undefined for an unknown tenant.
   * A change is recorded in the tenant's audit chain in the same transaction.
   */
  async setStatus(tenantId: string, status: Tenant['status'], trail: AuditTrail): Promise<Tenant | undefined> {
    const event = status === 'suspended' ? tenantSuspended : tenantReactivated;
    return withTenant(this.dataSource, tenantId, async (manager) => {
      // Wrapped in `WITH … SELECT`: TypeORM answers a bare UPDATE … RETURNING with [rows, count].
      const changed: TenantRow[] = await manager.query(
        'WITH updated AS (UPDATE tenants SET status = $2 WHERE id = $1 AND status <> $2 RETURNING *) SELECT * FROM updated',
        [tenantId, status],
      );
      if (changed[0] === undefined) return this.findWith(manager, tenantId);
      const tenant = tenantOf(changed[0]);
      await enqueueEvent(manager, event, tenant, { tenantId });
      await enqueueAudit(manager, TENANTS_AUDIT_EMITTER, [
        tenantsAuditEvent(trail, {
          tenantId,
          action: status === 'suspended' ? 'tenants.tenant.suspend' : 'tenants.tenant.reactivate',
          resource: { type: 'tenant', id: tenantId },
        }),
      ]);
      return tenant;
    });
  }

  /**
   * Changes the settings a patch names, with its `tenants.settings-updated` event in the same
   * transaction, and its audit event. A patch that changes nothing writes no event. Undefined for
   * an unknown tenant.
   */
  async updateSettings(tenantId: string, patch: TenantSettingsPatch, trail: AuditTrail): Promise<Tenant | undefined> {
    const json = patchJson(patch);
    return withTenant(this.dataSource, tenantId, async (manager) => {
      const changed: TenantRow[] = await manager.query(
        `WITH updated AS (
           UPDATE tenants SET settings = settings || $2::jsonb
            WHERE id = $1 AND settings IS DISTINCT FROM settings || $2::jsonb RETURNING *
         ) SELECT * FROM updated`,
        [tenantId, json],
      );
      if (changed[0] === undefined) return this.findWith(manager, tenantId);
      const tenant = tenantOf(changed[0]);
      await enqueueEvent(manager, tenantSettingsUpdated, tenant, { tenantId });
      await enqueueAudit(manager, TENANTS_AUDIT_EMITTER, [
        tenantsAuditEvent(trail, {
          tenantId,
          action: 'tenants.settings.update',
          resource: { type: 'tenant', id: tenantId },
          // What the patch asked for (lifetimes, retention, plan: numbers and a plan name).
          details: { patch: JSON.parse(json) },
        }),
      ]);
      return tenant;
    });
  }

  private async findWith(manager: EntityManager, tenantId: string): Promise<Tenant | undefined> {
    const rows: TenantRow[] = await manager.query('SELECT * FROM tenants WHERE id = $1', [tenantId]);
    return rows[0] === undefined ? undefined : tenantOf(rows[0]);
  }
}
