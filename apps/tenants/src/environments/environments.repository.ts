import { Inject, Injectable } from '@nestjs/common';
import {
  type Environment,
  type RatePlanName,
  type TenantEnvironment,
  type TenantSettings,
  tenantEnvironmentUpdated,
} from '@strongroom/contracts';
import {
  dataSourceOf,
  enqueueAudit,
  enqueueEvent,
  SERVICE_RESOURCES,
  type ServiceResources,
  withTenant,
} from '@strongroom/platform';
import type { DataSource, EntityManager } from 'typeorm';
import { type AuditTrail, TENANTS_AUDIT_EMITTER, tenantsAuditEvent } from '../tenants-audit';
import { checkedEnvironmentChange, type EnvironmentChange, effectiveRatePlan } from './environment-rules';

interface EnvironmentRow {
  tenant_id: string;
  environment: Environment;
  ip_allowlist: string[];
  rate_plan: RatePlanName | null;
  updated_at: Date;
  tenant_rate_plan: TenantSettings['ratePlan'];
}

function environmentOf(row: EnvironmentRow): TenantEnvironment {
  return {
    tenantId: row.tenant_id,
    environment: row.environment,
    ipAllowlist: row.ip_allowlist,
    ratePlan: row.rate_plan,
    effectiveRatePlan: effectiveRatePlan(row.rate_plan, row.tenant_rate_plan),
    updatedAt: row.updated_at.toISOString(),
  };
}

const SELECT_ENVIRONMENTS = `
  SELECT e.*, t.settings->>'ratePlan' AS tenant_rate_plan
    FROM tenant_environments e JOIN tenants t ON t.id = e.tenant_id
   WHERE e.tenant_id = $1`;

/**
 * What an environment change changed, for its audit record: the plan before and after, and the
 * allowlist's size before and after (up to 100 CIDRs: the list itself is in the `environments.updated` event).
 */
function environmentChangeDetails(before: TenantEnvironment, after: TenantEnvironment) {
  const allowlistChanged = JSON.stringify(before.ipAllowlist) !== JSON.stringify(after.ipAllowlist);
  return {
    ...(allowlistChanged
      ? { ipAllowlistEntries: { before: before.ipAllowlist.length, after: after.ipAllowlist.length } }
      : {}),
    ...(before.ratePlan !== after.ratePlan ? { ratePlan: { before: before.ratePlan, after: after.ratePlan } } : {}),
  };
}

/** A tenant's sandbox and production environments: IP allowlist and rate plan. */
@Injectable()
export class EnvironmentsRepository {
  private readonly dataSource: DataSource;

  constructor(@Inject(SERVICE_RESOURCES) resources: ServiceResources) {
    this.dataSource = dataSourceOf(resources);
  }

  /** Both environments, sandbox first; empty for an unknown tenant. */
  async list(tenantId: string): Promise<TenantEnvironment[]> {
    return withTenant(this.dataSource, tenantId, async (manager) => {
      const rows: EnvironmentRow[] = await manager.query(`${SELECT_ENVIRONMENTS} ORDER BY e.environment DESC`, [
        tenantId,
      ]);
      return rows.map(environmentOf);
    });
  }

  async find(tenantId: string, environment: Environment): Promise<TenantEnvironment | undefined> {
    return withTenant(this.dataSource, tenantId, (manager) => this.findWith(manager, tenantId, environment));
  }

  /**
   * Applies a change (checked against the tenant's plan under a lock on the environment row),
   * with its `environments.updated` event and its audit event in the same transaction; a change
   * that changes nothing writes no event. Undefined for an unknown tenant.
   */
  async update(
    tenantId: string,
    environment: Environment,
    change: EnvironmentChange,
    trail: AuditTrail,
  ): Promise<TenantEnvironment | undefined> {
    return withTenant(this.dataSource, tenantId, async (manager) => {
      const current = await this.findWith(manager, tenantId, environment, 'FOR UPDATE OF e');
      if (current === undefined) return undefined;
      const tenantPlan: RatePlanName = (
        await manager.query("SELECT settings->>'ratePlan' AS plan FROM tenants WHERE id = $1", [tenantId])
      )[0].plan;
      const checked = checkedEnvironmentChange(change, tenantPlan);
      const next = {
        ipAllowlist: checked.ipAllowlist ?? current.ipAllowlist,
        ratePlan: checked.ratePlan !== undefined ? checked.ratePlan : current.ratePlan,
      };
      if (
        JSON.stringify(next.ipAllowlist) === JSON.stringify(current.ipAllowlist) &&
        next.ratePlan === current.ratePlan
      )
        return current;
      await manager.query(
        `UPDATE tenant_environments SET ip_allowlist = $3, rate_plan = $4, updated_at = now()
          WHERE tenant_id = $1 AND environment = $2`,
        [tenantId, environment, next.ipAllowlist, next.ratePlan],
      );
      const updated = (await this.findWith(manager, tenantId, environment))!;
      await enqueueEvent(manager, tenantEnvironmentUpdated, updated, { tenantId });
      await enqueueAudit(manager, TENANTS_AUDIT_EMITTER, [
        tenantsAuditEvent(trail, {
          tenantId,
          environment,
          action: 'tenants.environment.update',
          resource: { type: 'tenant_environment', id: `${tenantId}/${environment}` },
          details: environmentChangeDetails(current, updated),
        }),
      ]);
      return updated;
    });
  }

  private async findWith(
    manager: EntityManager,
    tenantId: string,
    environment: Environment,
    lock = '',
  ): Promise<TenantEnvironment | undefined> {
    const rows: EnvironmentRow[] = await manager.query(`${SELECT_ENVIRONMENTS} AND e.environment = $2 ${lock}`, [
      tenantId,
      environment,
    ]);
    return rows[0] === undefined ? undefined : environmentOf(rows[0]);
  }
}
