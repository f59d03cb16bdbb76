import type { DataSource } from 'typeorm';
import type { NonceStore } from './nonce-store';

export const NONCE_CLEANUP_BATCH_SIZE = 1_000;
/** Per sweep: a backlog larger than this waits for the next sweep rather than holding a connection. */
export const NONCE_CLEANUP_BATCHES_MAX = 20;

/**
 * `api_key_nonces`: one row per (keyId, nonce) until the request's timestamp leaves the skew
 * window. The insert is the atomic check: two concurrent replays cannot both see "new". A row
 * past its expiry that the sweep has not reached yet is taken over, never answered as a replay.
 */
export class PgNonceStore implements NonceStore {
  constructor(
    private readonly dataSource: DataSource,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async rememberOnce(keyId: string, nonce: string, expiresAt: Date): Promise<boolean> {
    const rows: unknown[] = await this.dataSource.query(
      `INSERT INTO api_key_nonces (key_id, nonce, expires_at) VALUES ($1, $2, $3)
       ON CONFLICT (key_id, nonce) DO UPDATE SET expires_at = EXCLUDED.expires_at
         WHERE api_key_nonces.expires_at <= $4
       RETURNING 1`,
      [keyId, nonce, expiresAt, this.now()],
    );
    return rows.length === 1;
  }

  /** Deletes expired nonces in batches (DESIGN "Growth stays bounded"); returns how many. */
  async deleteExpired(batchSize = NONCE_CLEANUP_BATCH_SIZE, batchesMax = NONCE_CLEANUP_BATCHES_MAX): Promise<number> {
    let deleted = 0;
    for (let batch = 0; batch < batchesMax; batch += 1) {
      const rows: Array<{ count: string }> = await this.dataSource.query(
        `WITH expired AS (
           SELECT key_id, nonce FROM api_key_nonces WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED
         ), deleted AS (
           DELETE FROM api_key_nonces n USING expired e WHERE n.key_id = e.key_id AND n.nonce = e.nonce RETURNING 1
         ) SELECT count(*)::text AS count FROM deleted`,
        [this.now(), batchSize],
      );
      const count = Number(rows[0]?.count ?? 0);
      deleted += count;
      if (count < batchSize) break;
    }
    return deleted;
  }
}
