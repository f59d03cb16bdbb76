import {
  AUDIT_GENESIS_HASH,
  type AuditChainStart,
  AuditChainVerifier,
  type AuditCheckpoint,
  type AuditProblem,
  auditCheckpointSchema,
  auditCheckpointStatementSchema,
} from '@strongroom/contracts';
import type { Client } from 'pg';
import { type PinnedAuditKeys, signingKeysFor } from './audit-keys';

/**
 * `strongroom audit verify`: the operator's check of the audit store itself, read straight from
 * Postgres (docs/audit.md): it trusts neither the audit service nor its answers. Table and column
 * names are the audit service's schema (audit_records, audit_chain_heads, audit_checkpoints,
 * audit_purges); the chain logic is the contracts' AuditChainVerifier.
 */

export interface TenantVerification {
  tenantId: string;
  /** Records read. */
  records: number;
  /** The chain verified from here: 0 (genesis) or the latest purge boundary. */
  startSeq: number;
  lastSeq: number;
  checkpoints: { checked: number; valid: number };
  problems: AuditProblem[];
}

export interface VerifyAuditStoreOptions {
  /** Connected as the admin (superuser) of the audit database. */
  client: Client;
  /** One tenant; every tenant with anything in the store otherwise. */
  tenantId?: string;
  keys: PinnedAuditKeys;
  /** Records per keyset page. */
  pageSize?: number;
  /** Each tenant's result as soon as it is known (one line per tenant while the rest run). */
  onTenant?: (verification: TenantVerification) => void;
}

/**
 * About 5 MB of documents a page: few round trips, bounded memory. Seqs are bigint, which pg
 * hands over as decimal strings; they are safe integers (auditSeqSchema), read with Number.
 * (No `seq::text AS seq`: ORDER BY seq would then sort the text, 1, 10, 11, 2, ….)
 */
export const AUDIT_VERIFY_PAGE_SIZE_DEFAULT = 5_000;

/**
 * Every tenant that has anything in the store: a chain head, a checkpoint, a purge or a record
 * (a loose index scan over the records' primary key, so a tenant whose head row was deleted is
 * still found, without reading every record).
 */
const TENANTS_SQL = `
  WITH RECURSIVE recorded AS (
    (SELECT tenant_id FROM audit_records ORDER BY tenant_id LIMIT 1)
    UNION ALL
    SELECT (SELECT r.tenant_id FROM audit_records r WHERE r.tenant_id > recorded.tenant_id ORDER BY r.tenant_id LIMIT 1)
      FROM recorded WHERE recorded.tenant_id IS NOT NULL
  )
  SELECT tenant_id::text AS tenant_id FROM recorded WHERE tenant_id IS NOT NULL
  UNION SELECT tenant_id::text FROM audit_chain_heads
  UNION SELECT tenant_id::text FROM audit_checkpoints
  UNION SELECT tenant_id::text FROM audit_purges
  ORDER BY 1`;

export async function verifyAuditStore(options: VerifyAuditStoreOptions): Promise<TenantVerification[]> {
  const { client } = options;
  const tenants =
    options.tenantId !== undefined
      ? [options.tenantId]
      : (await client.query<{ tenant_id: string }>(TENANTS_SQL)).rows.map((row) => row.tenant_id);
  const results: TenantVerification[] = [];
  for (const tenantId of tenants) {
    const verification = await verifyTenant(options, tenantId);
    results.push(verification);
    options.onTenant?.(verification);
  }
  return results;
}

/**
 * One tenant in one read-only REPEATABLE READ transaction: the head, the checkpoints and every
 * record are of one snapshot, so records the audit service appends meanwhile are not a mismatch.
 * app.tenant_id is set as row-level security expects (a superuser bypasses it anyway).
 */
async function verifyTenant(options: VerifyAuditStoreOptions, tenantId: string): Promise<TenantVerification> {
  const { client } = options;
  const pageSize = options.pageSize ?? AUDIT_VERIFY_PAGE_SIZE_DEFAULT;
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    await client.query(`SELECT set_config('app.tenant_id', $1, true)`, [tenantId]);
    const start = await chainStartOf(client, tenantId);
    const head = await chainHeadOf(client, tenantId);
    const { checkpoints, unreadable, problems } = await checkpointsOf(client, tenantId);
    const watched = new Set(checkpoints.map((checkpoint) => checkpoint.statement.seq));
    const verifier = new AuditChainVerifier(tenantId, start, watched);
    for (let after = start.seq; ; ) {
      const { rows } = await client.query<{ seq: string; document: string; hash: string }>(
        'SELECT seq, document, hash FROM audit_records WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3',
        [tenantId, after, pageSize],
      );
      for (const row of rows) verifier.add({ seq: Number(row.seq), document: row.document, hash: row.hash });
      if (rows.length < pageSize) break;
      after = Number(rows[rows.length - 1]!.seq);
    }
    const keys = signingKeysFor(
      options.keys,
      checkpoints.map((checkpoint) => checkpoint.keyVersion),
    );
    const counted = verifier.finish(checkpoints, keys, head);
    return {
      tenantId,
      records: verifier.records,
      startSeq: start.seq,
      lastSeq: verifier.lastSeq,
      checkpoints: { checked: counted.checked + unreadable, valid: counted.valid },
      problems: [...problems, ...verifier.problems],
    };
  } finally {
    await client.query('COMMIT');
  }
}

/** The latest purge boundary, or the genesis. */
async function chainStartOf(client: Client, tenantId: string): Promise<AuditChainStart> {
  const { rows } = await client.query<{ through_seq: string; through_hash: string }>(
    'SELECT through_seq, through_hash FROM audit_purges WHERE tenant_id = $1 ORDER BY through_seq DESC LIMIT 1',
    [tenantId],
  );
  const purge = rows[0];
  return purge === undefined
    ? { seq: 0, hash: AUDIT_GENESIS_HASH }
    : { seq: Number(purge.through_seq), hash: purge.through_hash };
}

async function chainHeadOf(client: Client, tenantId: string): Promise<{ seq: number; hash: string } | undefined> {
  const { rows } = await client.query<{ seq: string; hash: string }>(
    'SELECT seq, hash FROM audit_chain_heads WHERE tenant_id = $1',
    [tenantId],
  );
  const head = rows[0];
  return head === undefined ? undefined : { seq: Number(head.seq), hash: head.hash };
}

/**
 * The tenant's checkpoints as signed: the statement is parsed from its stored text (the signed
 * bytes), not rebuilt from the row's columns; a row whose columns disagree with its statement, or
 * that does not parse, is a problem of its own.
 */
async function checkpointsOf(
  client: Client,
  tenantId: string,
): Promise<{ checkpoints: AuditCheckpoint[]; unreadable: number; problems: AuditProblem[] }> {
  const { rows } = await client.query<{
    seq: string;
    head_hash: string;
    statement: string;
    signature: string;
    key_version: number;
  }>(
    'SELECT seq, head_hash, statement, signature, key_version FROM audit_checkpoints WHERE tenant_id = $1 ORDER BY seq',
    [tenantId],
  );
  const checkpoints: AuditCheckpoint[] = [];
  const problems: AuditProblem[] = [];
  let unreadable = 0;
  for (const row of rows) {
    const seq = Number(row.seq);
    let statement: unknown;
    try {
      statement = JSON.parse(row.statement);
    } catch {
      statement = undefined;
    }
    const parsedStatement = auditCheckpointStatementSchema.safeParse(statement);
    const checkpoint = auditCheckpointSchema.safeParse({
      statement: parsedStatement.success ? parsedStatement.data : statement,
      signature: row.signature,
      keyVersion: row.key_version,
    });
    if (!checkpoint.success) {
      unreadable += 1;
      problems.push({
        kind: 'checkpoint_signature_invalid',
        seq,
        message: `the checkpoint stored at ${seq} is unreadable`,
      });
      continue;
    }
    if (checkpoint.data.statement.seq !== seq || checkpoint.data.statement.headHash !== row.head_hash) {
      problems.push({
        kind: 'checkpoint_mismatch',
        seq,
        message: `the checkpoint row at ${seq} disagrees with the statement it signed (seq ${checkpoint.data.statement.seq})`,
      });
    }
    checkpoints.push(checkpoint.data);
  }
  return { checkpoints, unreadable, problems };
}
