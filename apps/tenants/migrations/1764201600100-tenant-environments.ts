import { PLATFORM_TENANT_ID } from '@strongroom/contracts';
import { grantRuntimeSql, tenantIsolationSql } from '@strongroom/platform';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Integer-valued key of `settings` within bounds; a missing key fails (a CHECK passes on NULL, hence coalesce). */
function integerSettingCheck(key: string, min: number, max: number): string {
  return `coalesce(jsonb_typeof(settings->'${key}'), 'missing') = 'number'
           AND (settings->>'${key}')::numeric % 1 = 0
           AND (settings->>'${key}')::numeric BETWEEN ${min} AND ${max}`;
}

const PLANS = "('basic', 'standard', 'premium')";

/**
 * Tenant settings gain KYC retention, audit retention and the rate plan (bounds as in
 * contracts/tenants.ts when this ran); each tenant gets its two environments (sandbox,
 * production) with an IP allowlist and an optional lower rate plan; platform principals may
 * list tenants (SELECT only, in the platform tenant's context).
 */
export class TenantEnvironments1764201600100 implements MigrationInterface {
  readonly name = 'TenantEnvironments1764201600100';

  async up(queryRunner: QueryRunner): Promise<void> {
    const statements = [
      // Existing rows get the new keys' defaults. FORCE ROW LEVEL SECURITY binds the owner too,
      // so it is lifted for this one statement inside the migration's transaction.
      'ALTER TABLE tenants NO FORCE ROW LEVEL SECURITY',
      `UPDATE tenants SET settings = '{"kycRetentionDays":1826,"auditRetentionDays":2557,"ratePlan":"standard"}'::jsonb || settings`,
      'ALTER TABLE tenants DROP CONSTRAINT tenants_settings_keys',
      `ALTER TABLE tenants
         ALTER COLUMN settings SET DEFAULT '{"accessTokenTtlSeconds":900,"refreshTokenTtlSeconds":604800,"kycRetentionDays":1826,"auditRetentionDays":2557,"ratePlan":"standard"}'::jsonb,
         ADD CONSTRAINT tenants_settings_keys CHECK (
           jsonb_typeof(settings) = 'object'
           AND settings - 'accessTokenTtlSeconds' - 'refreshTokenTtlSeconds' - 'kycRetentionDays'
             - 'auditRetentionDays' - 'ratePlan' = '{}'::jsonb
         ),
         ADD CONSTRAINT tenants_settings_kyc_retention CHECK (${integerSettingCheck('kycRetentionDays', 365, 3653)}),
         ADD CONSTRAINT tenants_settings_audit_retention CHECK (${integerSettingCheck('auditRetentionDays', 2557, 3653)}),
         ADD CONSTRAINT tenants_settings_rate_plan CHECK (coalesce(settings->>'ratePlan', 'missing') IN ${PLANS})`,
      // Listing is for platform principals, who act in the platform tenant's context; read only.
      `CREATE POLICY tenants_platform_read ON tenants FOR SELECT
         USING (current_setting('app.tenant_id', true) = '${PLATFORM_TENANT_ID}')`,
      'CREATE INDEX tenants_created_order ON tenants (created_at, id)',
      `CREATE TABLE tenant_environments (
         tenant_id uuid NOT NULL REFERENCES tenants (id),
         environment text NOT NULL CHECK (environment IN ('sandbox', 'production')),
         ip_allowlist text[] NOT NULL DEFAULT '{}' CHECK (cardinality(ip_allowlist) <= 100),
         rate_plan text CHECK (rate_plan IN ${PLANS}),
         updated_at timestamptz NOT NULL DEFAULT now(),
         PRIMARY KEY (tenant_id, environment)
       )`,
      `INSERT INTO tenant_environments (tenant_id, environment)
         SELECT id, environment FROM tenants CROSS JOIN (VALUES ('sandbox'), ('production')) AS e (environment)`,
      'ALTER TABLE tenants FORCE ROW LEVEL SECURITY',
      ...tenantIsolationSql('tenant_environments'),
      ...grantRuntimeSql('tenant_environments', ['SELECT', 'INSERT', 'UPDATE (ip_allowlist, rate_plan, updated_at)']),
    ];
    for (const statement of statements) await queryRunner.query(statement);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const statement of [
      'DROP TABLE tenant_environments',
      'DROP INDEX tenants_created_order',
      'DROP POLICY tenants_platform_read ON tenants',
      `ALTER TABLE tenants
         DROP CONSTRAINT tenants_settings_keys,
         DROP CONSTRAINT tenants_settings_kyc_retention,
         DROP CONSTRAINT tenants_settings_audit_retention,
         DROP CONSTRAINT tenants_settings_rate_plan`,
      'ALTER TABLE tenants NO FORCE ROW LEVEL SECURITY',
      "UPDATE tenants SET settings = settings - 'kycRetentionDays' - 'auditRetentionDays' - 'ratePlan'",
      'ALTER TABLE tenants FORCE ROW LEVEL SECURITY',
      `ALTER TABLE tenants
         ALTER COLUMN settings SET DEFAULT '{"accessTokenTtlSeconds":900,"refreshTokenTtlSeconds":604800}'::jsonb,
         ADD CONSTRAINT tenants_settings_keys CHECK (
           jsonb_typeof(settings) = 'object'
           AND settings - 'accessTokenTtlSeconds' - 'refreshTokenTtlSeconds' = '{}'::jsonb
         )`,
    ])
      await queryRunner.query(statement);
  }
}
