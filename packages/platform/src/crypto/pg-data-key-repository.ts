import { z } from 'zod';
import { CryptoError } from './crypto-error';
import type { DataKeyRepository, StoredDataKey } from './data-key-repository';

/** For the owner's migration; the runtime role needs SELECT, INSERT and UPDATE (no DELETE). */
export const DATA_KEYS_TABLE_SQL = `
CREATE TABLE IF NOT EXISTS data_keys (
  id uuid PRIMARY KEY,
  scope text NOT NULL CHECK (length(scope) BETWEEN 1 AND 512),
  version integer NOT NULL CHECK (version > 0),
  wrapped_key text NOT NULL,
  kek_version integer NOT NULL CHECK (kek_version > 0),
  created_at timestamptz NOT NULL DEFAULT now(),
  retired_at timestamptz NULL,
  CONSTRAINT data_keys_scope_version_key UNIQUE (scope, version)
);
`.trim();

/**
 * What we need of a database handle: a pg Pool/Client (`{rows}`) or a TypeORM EntityManager or
 * QueryRunner (rows as an array) both fit.
 */
export interface SqlQueryable {
  query(sql: string, params?: unknown[]): Promise<unknown>;
}

const rowSchema = z.object({
  id: z.string(),
  scope: z.string(),
  version: z.coerce.number().int(),
  wrapped_key: z.string(),
  kek_version: z.coerce.number().int(),
  created_at: z.coerce.date(),
  retired_at: z.coerce.date().nullable(),
});

const COLUMNS = 'id, scope, version, wrapped_key, kek_version, created_at, retired_at';

/**
 * Plain SQL, one statement per operation so no transaction is needed from the caller; every
 * write is a CTE ending in SELECT so pg and TypeORM return the same row shape.
 */
export class PgDataKeyRepository implements DataKeyRepository {
  constructor(private readonly db: SqlQueryable) {}

  async findById(id: string): Promise<StoredDataKey | null> {
    const rows = await this.rows(`SELECT ${COLUMNS} FROM data_keys WHERE id = $1`, [id]);
    return rows[0] ?? null;
  }

  async findActive(scope: string): Promise<StoredDataKey | null> {
    const rows = await this.rows(
      `SELECT ${COLUMNS} FROM data_keys WHERE scope = $1 AND retired_at IS NULL ORDER BY version DESC LIMIT 1`,
      [scope],
    );
    return rows[0] ?? null;
  }

  async insertActive(key: StoredDataKey): Promise<boolean> {
    // Older keys are retired only if the insert happened: a writer that lost the (scope, version)
    // race must not retire the winner's key.
    const rows = await this.raw(
      `WITH inserted AS (
         INSERT INTO data_keys (id, scope, version, wrapped_key, kek_version, created_at, retired_at)
         VALUES ($1, $2, $3, $4, $5, $6, NULL)
         ON CONFLICT (scope, version) DO NOTHING
         RETURNING id
       ), retired AS (
         UPDATE data_keys SET retired_at = $6
         WHERE scope = $2 AND version < $3 AND retired_at IS NULL AND EXISTS (SELECT 1 FROM inserted)
         RETURNING id
       )
       SELECT id FROM inserted`,
      [key.id, key.scope, key.version, key.wrappedKey, key.kekVersion, key.createdAt],
    );
    return rows.length === 1;
  }

  async updateWrapping(
    id: string,
    expectedWrappedKey: string,
    wrappedKey: string,
    kekVersion: number,
  ): Promise<boolean> {
    const rows = await this.raw(
      `WITH updated AS (
         UPDATE data_keys SET wrapped_key = $3, kek_version = $4 WHERE id = $1 AND wrapped_key = $2 RETURNING id
       )
       SELECT id FROM updated`,
      [id, expectedWrappedKey, wrappedKey, kekVersion],
    );
    return rows.length === 1;
  }

  async listPage(afterId: string | null, limit: number): Promise<StoredDataKey[]> {
    return afterId === null
      ? this.rows(`SELECT ${COLUMNS} FROM data_keys ORDER BY id LIMIT $1`, [limit])
      : this.rows(`SELECT ${COLUMNS} FROM data_keys WHERE id > $1 ORDER BY id LIMIT $2`, [afterId, limit]);
  }

  private async rows(sql: string, params: unknown[]): Promise<StoredDataKey[]> {
    return (await this.raw(sql, params)).map((row) => {
      const parsed = rowSchema.safeParse(row);
      if (!parsed.success) throw CryptoError.invalidInput('A data_keys row has an unexpected shape');
      const r = parsed.data;
      return {
        id: r.id,
        scope: r.scope,
        version: r.version,
        wrappedKey: r.wrapped_key,
        kekVersion: r.kek_version,
        createdAt: r.created_at,
        retiredAt: r.retired_at,
      };
    });
  }

  private async raw(sql: string, params: unknown[]): Promise<unknown[]> {
    const result = await this.db.query(sql, params);
    if (Array.isArray(result)) return result;
    if (typeof result === 'object' && result !== null && Array.isArray((result as { rows?: unknown }).rows)) {
      return (result as { rows: unknown[] }).rows;
    }
    return [];
  }
}
