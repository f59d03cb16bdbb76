import { grantRuntimeSql, RUNTIME_ROLE_SETTING } from '@strongroom/platform';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A tenant's settings (token lifetimes), and the one change the runtime role may make to a tenant:
 * its status (suspend, reactivate) and its settings, never its id, slug, name, region or creation
 * time. The CHECKs pin the bounds of `tenantSettingsSchema` as they were when this ran
 * (ACCESS_TOKEN_TTL_SECONDS_RANGE, REFRESH_TOKEN_TTL_SECONDS_RANGE): wider bounds take a new
 * migration, not an edit here.
 */
export class TenantSettings1764028800100 implements MigrationInterface {
  readonly name = 'TenantSettings1764028800100';

  async up(queryRunner: QueryRunner): Promise<void> {
    const statements = [
      `ALTER TABLE tenants
         ADD COLUMN settings jsonb NOT NULL
           DEFAULT '{"accessTokenTtlSeconds":900,"refreshTokenTtlSeconds":604800}'::jsonb`,
      // Exactly the two keys, each an integer within its bounds (900–3600 s; 1 h–90 days). A missing
      // key must fail, not pass as NULL (a CHECK passes on NULL): hence the coalesce.
      `ALTER TABLE tenants
         ADD CONSTRAINT tenants_settings_keys CHECK (
           jsonb_typeof(settings) = 'object'
           AND settings - 'accessTokenTtlSeconds' - 'refreshTokenTtlSeconds' = '{}'::jsonb
         ),
         ADD CONSTRAINT tenants_settings_access_token_ttl CHECK (
           coalesce(jsonb_typeof(settings->'accessTokenTtlSeconds'), 'missing') = 'number'
           AND (settings->>'accessTokenTtlSeconds')::numeric % 1 = 0
           AND (settings->>'accessTokenTtlSeconds')::numeric BETWEEN 900 AND 3600
         ),
         ADD CONSTRAINT tenants_settings_refresh_token_ttl CHECK (
           coalesce(jsonb_typeof(settings->'refreshTokenTtlSeconds'), 'missing') = 'number'
           AND (settings->>'refreshTokenTtlSeconds')::numeric % 1 = 0
           AND (settings->>'refreshTokenTtlSeconds')::numeric BETWEEN 3600 AND 7776000
         )`,
      ...grantRuntimeSql('tenants', ['UPDATE (status, settings)']),
    ];
    for (const statement of statements) await queryRunner.query(statement);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    // Revoking the table-level privilege revokes the column-level ones with it.
    await queryRunner.query(
      `DO $runtime$ BEGIN EXECUTE format('REVOKE UPDATE ON tenants FROM %I', current_setting('${RUNTIME_ROLE_SETTING}')); END $runtime$`,
    );
    await queryRunner.query('ALTER TABLE tenants DROP COLUMN settings');
  }
}
