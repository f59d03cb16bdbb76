import type { Pool, PoolClient } from 'pg';
import { IDEMPOTENCY_KEY_TTL_SECONDS } from './idempotency-key';

/** What reserving a key found. */
export type Reservation =
  /** The key is this request's now: run it. */
  | { kind: 'reserved' }
  /** The same request completed before: here is its sealed response. */
  | { kind: 'completed'; sealed: Buffer }
  /** The same request is running (on this replica or another). */
  | { kind: 'in-flight' }
  /** The key was used for a different request (method, path, query or body). */
  | { kind: 'different-request' }
  /** The same request started but never finished within its lease (its gateway died): outcome unknown. */
  | { kind: 'abandoned' };

/** Idempotency-Key records (migrations/1764201600200-idempotency-keys.ts), each under its tenant's RLS. */
export class IdempotencyRecords {
  constructor(private readonly pool: Pool) {}

  async reserve(tenantId: string, keyHash: Buffer, fingerprint: Buffer, leaseMs: number): Promise<Reservation> {
    return this.inTenant(tenantId, async (client) => {
      // A new key, or an expired record of it (not yet cleaned up) taken over; else the row as it is.
      const inserted = await client.query(
        `INSERT INTO idempotency_keys (tenant_id, key_hash, fingerprint, state, lease_expires_at, expires_at)
         VALUES ($1, $2, $3, 'in_flight', now() + $4 * interval '1 millisecond', now() + $5 * interval '1 second')
         ON CONFLICT (tenant_id, key_hash) DO UPDATE
           SET fingerprint = EXCLUDED.fingerprint, state = 'in_flight', lease_expires_at = EXCLUDED.lease_expires_at,
               response_status = NULL, response_sealed = NULL, created_at = now(), expires_at = EXCLUDED.expires_at
           WHERE idempotency_keys.expires_at <= now()
         RETURNING 1`,
        [tenantId, keyHash, fingerprint, leaseMs, IDEMPOTENCY_KEY_TTL_SECONDS],
      );
      if (inserted.rowCount === 1) return { kind: 'reserved' };
      const { rows } = await client.query<{
        fingerprint: Buffer;
        state: 'in_flight' | 'completed';
        leased: boolean;
        response_sealed: Buffer | null;
      }>(
        `SELECT fingerprint, state, lease_expires_at > now() AS leased, response_sealed
           FROM idempotency_keys WHERE tenant_id = $1 AND key_hash = $2`,
        [tenantId, keyHash],
      );
      const row = rows[0];
      // Gone between the two statements (cleanup raced us): only possible for an expired row.
      if (row === undefined) return { kind: 'in-flight' };
      if (!row.fingerprint.equals(fingerprint)) return { kind: 'different-request' };
      if (row.state === 'completed') return { kind: 'completed', sealed: row.response_sealed! };
      return row.leased ? { kind: 'in-flight' } : { kind: 'abandoned' };
    });
  }

  /** Stores the answer of a reserved key (replayed from now on). */
  async complete(tenantId: string, keyHash: Buffer, status: number, sealed: Buffer): Promise<void> {
    await this.inTenant(tenantId, (client) =>
      client.query(
        `UPDATE idempotency_keys SET state = 'completed', response_status = $3, response_sealed = $4
          WHERE tenant_id = $1 AND key_hash = $2 AND state = 'in_flight'`,
        [tenantId, keyHash, status, sealed],
      ),
    );
  }

  /** Frees a reserved key whose request certainly did not run: a retry may run it. */
  async release(tenantId: string, keyHash: Buffer): Promise<void> {
    await this.inTenant(tenantId, (client) =>
      client.query(`DELETE FROM idempotency_keys WHERE tenant_id = $1 AND key_hash = $2 AND state = 'in_flight'`, [
        tenantId,
        keyHash,
      ]),
    );
  }

  /**
   * Deletes up to `batchSize` expired records of any tenant (the migration's expired-row
   * policies allow it without a tenant context); returns how many.
   */
  async deleteExpired(batchSize: number): Promise<number> {
    const result = await this.pool.query(
      `DELETE FROM idempotency_keys WHERE ctid = ANY(ARRAY(
         SELECT ctid FROM idempotency_keys WHERE expires_at < now() ORDER BY expires_at LIMIT $1))`,
      [batchSize],
    );
    return result.rowCount ?? 0;
  }

  /** One transaction with `app.tenant_id` set for it (DESIGN "Data": RLS on every tenant-owned table). */
  private async inTenant<T>(tenantId: string, work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let failure: Error | undefined;
    try {
      await client.query('BEGIN');
      await client.query("SELECT set_config('app.tenant_id', $1, true)", [tenantId]);
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      failure = error instanceof Error ? error : new Error(String(error));
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      // A connection that failed mid-transaction is discarded, not reused.
      client.release(failure);
    }
  }
}
