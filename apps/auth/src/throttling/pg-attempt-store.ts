import { createHmac } from 'node:crypto';
import type { KvSecrets } from '@strongroom/platform';
import { VersionedSecretKeys } from '@strongroom/platform';
import type { DataSource } from 'typeorm';
import type { AttemptStore } from './attempt-store';

/** No window of the login policy looks further back (lockout: 1 h of failures). */
const RETENTION_SECONDS = 2 * 3_600;
const KEY_PATH = 'auth/login-attempt-key';

/**
 * The login throttle's events in Postgres, so the limits hold across every auth replica. Keys
 * are HMACed first: the table never holds an email address or an IP.
 */
export class PgAttemptStore implements AttemptStore {
  private readonly keys: VersionedSecretKeys;

  constructor(
    private readonly dataSource: DataSource,
    secrets: KvSecrets,
  ) {
    this.keys = new VersionedSecretKeys(secrets, KEY_PATH);
  }

  async record(key: string, at: Date): Promise<void> {
    await this.dataSource.query('INSERT INTO login_attempts (key, at) VALUES ($1, $2)', [await this.digest(key), at]);
  }

  async countSince(key: string, since: Date): Promise<number> {
    const rows: Array<{ count: string }> = await this.dataSource.query(
      'SELECT count(*)::text AS count FROM login_attempts WHERE key = $1 AND at >= $2',
      [await this.digest(key), since],
    );
    return Number(rows[0]?.count ?? 0);
  }

  async oldestSince(key: string, since: Date): Promise<Date | null> {
    const rows: Array<{ at: Date | null }> = await this.dataSource.query(
      'SELECT min(at) AS at FROM login_attempts WHERE key = $1 AND at >= $2',
      [await this.digest(key), since],
    );
    return rows[0]?.at ?? null;
  }

  async latest(key: string): Promise<Date | null> {
    const rows: Array<{ at: Date | null }> = await this.dataSource.query(
      'SELECT max(at) AS at FROM login_attempts WHERE key = $1',
      [await this.digest(key)],
    );
    return rows[0]?.at ?? null;
  }

  async clear(key: string): Promise<void> {
    await this.dataSource.query('DELETE FROM login_attempts WHERE key = $1', [await this.digest(key)]);
  }

  /** Old events leave in small batches (DESIGN "Growth stays bounded"). */
  async deleteExpired(batchSize = 1_000): Promise<number> {
    const rows: Array<{ count: string }> = await this.dataSource.query(
      `WITH deleted AS (
         DELETE FROM login_attempts WHERE ctid IN (
           SELECT ctid FROM login_attempts WHERE at < now() - make_interval(secs => $1) LIMIT $2
         ) RETURNING 1
       ) SELECT count(*)::text AS count FROM deleted`,
      [RETENTION_SECONDS, batchSize],
    );
    return Number(rows[0]?.count ?? 0);
  }

  private async digest(key: string): Promise<string> {
    const { key: secret } = await this.keys.currentKey();
    return createHmac('sha256', secret).update(key).digest('base64url');
  }
}
