import { createHmac } from 'node:crypto';
import { type KvSecrets, ReadThroughCache, VersionedSecretKeys, withoutTenant } from '@strongroom/platform';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { DataSource } from 'typeorm';

/**
 * Models whose id is itself a bearer secret (the token value, the code): stored under an HMAC of
 * the id, and their `jti` is not kept in the payload, so the table holds nothing usable.
 * Sessions and interactions keep their id: it is looked up by `uid` and lives in a signed cookie.
 */
const SECRET_ID_MODELS = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'ClientCredentials',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'PushedAuthorizationRequest',
  'ReplayDetection',
]);
/** A row whose model sets no expiry still goes within the longest refresh-token life (seed 003: 90 days). */
const EXPIRES_IN_SECONDS_MAX = 90 * 86_400;
/** The lookup key never rotates: rotating it would log every user and client out. */
export const OIDC_DIGEST_KEY_PATH = 'auth/oidc-lookup-key';
/** Issue 4: revocation takes effect within 1 s, so a client's metadata is never served older than that. */
export const CLIENT_CACHE_TTL_MS_MAX = 1_000;
/** Bounds the memory of the client cache (one entry per client seen in the last second). */
const CLIENT_CACHE_ENTRIES_MAX = 10_000;

export interface OidcStoreOptions {
  dataSource: DataSource;
  secrets: KvSecrets;
  /** How long a client's metadata is served from memory: 0 (off) to 1 s, the default. */
  clientCacheTtlMs?: number;
  /** Milliseconds of a monotonic clock (tests move it by hand). */
  clockMs?: () => number;
}

interface PayloadRow {
  payload: AdapterPayload;
  consumed_at: Date | null;
}

/**
 * oidc-provider's persistence in Postgres (the `oidc_payloads` table, and `oauth_clients` for
 * the Client model). One instance per process; `adapterFor(model)` is the provider's adapter.
 */
export class OidcStore {
  private readonly digestKeys: VersionedSecretKeys;
  private readonly clients: ReadThroughCache<string, AdapterPayload | undefined>;

  constructor(private readonly options: OidcStoreOptions) {
    this.digestKeys = new VersionedSecretKeys(options.secrets, OIDC_DIGEST_KEY_PATH);
    const ttlMs = options.clientCacheTtlMs ?? CLIENT_CACHE_TTL_MS_MAX;
    if (!(ttlMs >= 0 && ttlMs <= CLIENT_CACHE_TTL_MS_MAX))
      throw new RangeError(`clientCacheTtlMs must be within 0..${CLIENT_CACHE_TTL_MS_MAX}, got ${ttlMs}`);
    this.clients = new ReadThroughCache({
      ttlMs,
      entriesMax: CLIENT_CACHE_ENTRIES_MAX,
      // An unknown client is never remembered: one registered a moment later works at once.
      cacheable: (metadata) => metadata !== undefined,
      ...(options.clockMs !== undefined ? { nowMs: options.clockMs } : {}),
    });
  }

  /** The class oidc-provider instantiates once per model name. */
  adapterClass(): new (model: string) => Adapter {
    const store = this;
    return class PostgresOidcAdapter implements Adapter {
      constructor(private readonly model: string) {}
      upsert(id: string, payload: AdapterPayload, expiresIn: number) {
        return store.upsert(this.model, id, payload, expiresIn);
      }
      find(id: string) {
        return this.model === 'Client' ? store.findClient(id) : store.find(this.model, id);
      }
      findByUserCode(userCode: string) {
        return store.findBy(this.model, 'user_code', userCode);
      }
      findByUid(uid: string) {
        return store.findBy(this.model, 'uid', uid);
      }
      consume(id: string) {
        return store.consume(this.model, id);
      }
      destroy(id: string) {
        return store.destroy(this.model, id);
      }
      revokeByGrantId(grantId: string) {
        return store.revokeByGrantId(grantId);
      }
    };
  }

  async upsert(model: string, id: string, payload: AdapterPayload, expiresIn: number | undefined): Promise<void> {
    const secretId = SECRET_ID_MODELS.has(model);
    const stored = secretId ? withoutJti(payload) : payload;
    const seconds = Math.min(expiresIn ?? EXPIRES_IN_SECONDS_MAX, EXPIRES_IN_SECONDS_MAX);
    await this.options.dataSource.query(
      `INSERT INTO oidc_payloads (model, id_digest, payload, grant_id, uid, user_code, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7))
       ON CONFLICT (model, id_digest) DO UPDATE
         SET payload = EXCLUDED.payload, grant_id = EXCLUDED.grant_id, uid = EXCLUDED.uid,
             user_code = EXCLUDED.user_code, expires_at = EXCLUDED.expires_at`,
      [
        model,
        await this.keyOf(model, id),
        stored,
        payload.grantId ?? null,
        payload.uid ?? null,
        payload.userCode ?? null,
        seconds,
      ],
    );
  }

  async find(model: string, id: string): Promise<AdapterPayload | undefined> {
    const rows: PayloadRow[] = await this.options.dataSource.query(
      `SELECT payload, consumed_at FROM oidc_payloads
        WHERE model = $1 AND id_digest = $2 AND expires_at > now()`,
      [model, await this.keyOf(model, id)],
    );
    const row = rows[0];
    if (row === undefined) return undefined;
    return payloadOf(row, SECRET_ID_MODELS.has(model) ? id : undefined);
  }

  async findBy(model: string, column: 'uid' | 'user_code', value: string): Promise<AdapterPayload | undefined> {
    const rows: PayloadRow[] = await this.options.dataSource.query(
      `SELECT payload, consumed_at FROM oidc_payloads
        WHERE model = $1 AND ${column} = $2 AND expires_at > now() LIMIT 1`,
      [model, value],
    );
    return rows[0] === undefined ? undefined : payloadOf(rows[0], undefined);
  }

  async consume(model: string, id: string): Promise<void> {
    await this.options.dataSource.query(
      'UPDATE oidc_payloads SET consumed_at = now() WHERE model = $1 AND id_digest = $2 AND consumed_at IS NULL',
      [model, await this.keyOf(model, id)],
    );
  }

  async destroy(model: string, id: string): Promise<void> {
    await this.options.dataSource.query('DELETE FROM oidc_payloads WHERE model = $1 AND id_digest = $2', [
      model,
      await this.keyOf(model, id),
    ]);
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    await this.options.dataSource.query('DELETE FROM oidc_payloads WHERE grant_id = $1', [grantId]);
  }

  /**
   * A client's oidc-provider metadata by id, read at most `clientCacheTtlMs` ago: every token,
   * introspection and revocation request looks its client up, and a transaction of four round
   * trips per request held issuance under 900 tokens/s on 2 cores (bench/oauth.bench.ts).
   */
  async findClient(clientId: string): Promise<AdapterPayload | undefined> {
    const metadata = await this.clients.get(clientId, () => this.readClient(clientId));
    // A copy per caller: the provider never shares an object with the cache.
    return metadata === undefined ? undefined : structuredClone(metadata);
  }

  /** Drops a client's cached metadata at once (its revocation or change, seen by this process). */
  forgetClient(clientId: string): void {
    this.clients.forget(clientId);
  }

  /**
   * The lookup names the id in `app.oauth_client_id`, which is all the second RLS policy on
   * `oauth_clients` lets it see: one row, any tenant.
   */
  private readClient(clientId: string): Promise<AdapterPayload | undefined> {
    return withoutTenant(this.options.dataSource, async (manager) => {
      await manager.query("SELECT set_config('app.oauth_client_id', $1, true)", [clientId]);
      const rows: Array<{ metadata: AdapterPayload }> = await manager.query(
        'SELECT metadata FROM oauth_clients WHERE client_id = $1 AND revoked_at IS NULL',
        [clientId],
      );
      return rows[0]?.metadata;
    });
  }

  /** Removes expired rows in small batches (DESIGN "Growth stays bounded"); returns how many went. */
  async deleteExpired(batchSize = 1_000): Promise<number> {
    const rows: Array<{ count: string }> = await this.options.dataSource.query(
      `WITH expired AS (
         SELECT model, id_digest FROM oidc_payloads WHERE expires_at <= now() LIMIT $1 FOR UPDATE SKIP LOCKED
       ), deleted AS (
         DELETE FROM oidc_payloads p USING expired e WHERE p.model = e.model AND p.id_digest = e.id_digest RETURNING 1
       ) SELECT count(*)::text AS count FROM deleted`,
      [batchSize],
    );
    return Number(rows[0]?.count ?? 0);
  }

  private async keyOf(model: string, id: string): Promise<string> {
    if (!SECRET_ID_MODELS.has(model)) return id;
    const { key } = await this.digestKeys.currentKey();
    return createHmac('sha256', key).update(model).update('\0').update(id).digest('base64url');
  }
}

function withoutJti(payload: AdapterPayload): AdapterPayload {
  const { jti: _jti, ...rest } = payload;
  return rest;
}

function payloadOf(row: PayloadRow, jti: string | undefined): AdapterPayload {
  const payload: AdapterPayload = jti === undefined ? { ...row.payload } : { ...row.payload, jti };
  if (row.consumed_at !== null) payload.consumed = Math.floor(row.consumed_at.getTime() / 1000);
  return payload;
}
