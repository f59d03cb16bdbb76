import { grantRuntimeSql } from '@strongroom/platform';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The request counters every gateway replica shares (rate-limiter-flexible's RateLimiterPostgres
 * layout: key, points, expire in epoch ms; the gateway passes `tableCreated: true`, so this is the
 * only place the table is defined).
 *
 * UNLOGGED: a counter lives for a second or a minute, and every API request upserts one. Skipping
 * the WAL makes that upsert cheap; what it costs is that a Postgres crash empties the table (and a
 * standby has none), which only hands every caller a fresh budget for one window, never lets
 * unlimited traffic through. fillfactor 70 leaves room on each page for HOT updates (the key
 * never changes, so an update never touches the index).
 *
 * Not tenant-owned data and no RLS: a key names a credential or a client address, never what a
 * tenant stores, and a policy would add a `set_config` round trip to every request.
 */
export class RateLimitCounters1764201600100 implements MigrationInterface {
  readonly name = 'RateLimitCounters1764201600100';

  async up(queryRunner: QueryRunner): Promise<void> {
    const statements = [
      `CREATE UNLOGGED TABLE rate_limit_counters (
         key varchar(255) PRIMARY KEY,
         points integer NOT NULL DEFAULT 0,
         expire bigint
       ) WITH (fillfactor = 70)`,
      // DELETE: the limiter clears rows expired an hour ago, in the background.
      ...grantRuntimeSql('rate_limit_counters', ['SELECT', 'INSERT', 'UPDATE', 'DELETE']),
    ];
    for (const statement of statements) await queryRunner.query(statement);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE rate_limit_counters');
  }
}
