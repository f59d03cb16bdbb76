import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AUDIT_CHECKPOINT_SIGNING_KEY,
  type AuditProblemKind,
  type AuditRecord,
  auditDocumentOf,
  chainAuditEvents,
  sha256Hex,
} from '@strongroom/contracts';
import { createLogger, LocalSecretsProvider } from '@strongroom/platform';
import { AuditTestDatabase, eventFor } from './support/audit-database';

const RECORDS = 10;

/**
 * Issue 7, "Must be shown by tests" 3: every edit an attacker with a Postgres superuser makes to
 * a tenant's trail is found by verifyAuditChain and reported with its position, and a forged
 * checkpoint signature is rejected. The attacker also switches the triggers off and drops the
 * constraint that keeps a record at its document's seq, as one would.
 */
describe('verifyAuditChain finds every tampering (real Postgres, superuser edits)', () => {
  let db: AuditTestDatabase;

  beforeAll(async () => {
    db = await AuditTestDatabase.open('audit_tamper');
    await db.superuser.query('ALTER TABLE audit_records DROP CONSTRAINT audit_records_in_place');
  });

  afterAll(async () => {
    await db?.close();
  });

  /** A tenant with RECORDS records (two batches) and a signed checkpoint at its head. */
  async function tenantWithCheckpoint(): Promise<string> {
    const tenantId = randomUUID();
    await db.storeEvents(tenantId, 4);
    await db.storeEvents(tenantId, RECORDS - 4);
    const checkpoint = await db.checkpoints.ofHead(tenantId);
    expect(checkpoint.statement.seq).toBe(RECORDS);
    return tenantId;
  }

  async function recordAt(tenantId: string, seq: number): Promise<{ record: AuditRecord; hash: string }> {
    const { rows } = await db.superuser.query(
      'SELECT document, hash FROM audit_records WHERE tenant_id = $1 AND seq = $2',
      [tenantId, seq],
    );
    return { record: JSON.parse(rows[0].document), hash: rows[0].hash };
  }

  async function problemsOf(tenantId: string): Promise<Array<{ kind: AuditProblemKind; seq: number }>> {
    const verification = await db.verify(tenantId);
    expect(verification.valid).toBe(verification.problems.length === 0);
    return verification.problems.map(({ kind, seq }) => ({ kind, seq }));
  }

  it('finds nothing wrong with an untouched chain', async () => {
    const tenantId = await tenantWithCheckpoint();
    const verification = await db.verify(tenantId);
    expect(verification).toEqual({
      tenantId,
      valid: true,
      records: RECORDS,
      startSeq: 0,
      lastSeq: RECORDS,
      checkpoints: { checked: 1, valid: 1 },
      problems: [],
    });
  });

  it('reports a modified document at its seq', async () => {
    const tenantId = await tenantWithCheckpoint();
    const { record } = await recordAt(tenantId, 4);
    await db.tamper('UPDATE audit_records SET document = $3 WHERE tenant_id = $1 AND seq = $2', [
      tenantId,
      4,
      auditDocumentOf({ ...record, outcome: 'denied' }),
    ]);
    expect(await problemsOf(tenantId)).toEqual([
      { kind: 'record_modified', seq: 4 },
      { kind: 'link_broken', seq: 5 },
    ]);
  });

  it('reports a modified hash at its seq', async () => {
    const tenantId = await tenantWithCheckpoint();
    await db.tamper('UPDATE audit_records SET hash = $3 WHERE tenant_id = $1 AND seq = $2', [
      tenantId,
      6,
      'a'.repeat(64),
    ]);
    expect(await problemsOf(tenantId)).toEqual([{ kind: 'record_modified', seq: 6 }]);
  });

  it('reports a record deleted in the middle where it is missing', async () => {
    const tenantId = await tenantWithCheckpoint();
    await db.tamper('DELETE FROM audit_records WHERE tenant_id = $1 AND seq = 5', [tenantId]);
    expect(await problemsOf(tenantId)).toEqual([
      { kind: 'records_missing', seq: 5 },
      { kind: 'link_broken', seq: 6 },
    ]);
  });

  it('reports a record deleted at the end, head moved back too, by the checkpoint that vouched for it', async () => {
    const tenantId = await tenantWithCheckpoint();
    const previous = await recordAt(tenantId, RECORDS - 1);
    await db.tamper('DELETE FROM audit_records WHERE tenant_id = $1 AND seq = $2', [tenantId, RECORDS]);
    await db.tamper('UPDATE audit_chain_heads SET seq = $2, hash = $3 WHERE tenant_id = $1', [
      tenantId,
      RECORDS - 1,
      previous.hash,
    ]);
    expect(await problemsOf(tenantId)).toEqual([{ kind: 'records_truncated', seq: RECORDS }]);
  });

  it('reports a record inserted in the middle (later ones renumbered, head moved on) where the chain breaks', async () => {
    const tenantId = await tenantWithCheckpoint();
    const before = await recordAt(tenantId, 4);
    const last = await recordAt(tenantId, RECORDS);
    const [forged] = chainAuditEvents(
      { seq: 4, hash: before.hash },
      [{ event: eventFor(tenantId), emitter: 'ledger' }],
      before.record.recordedAt,
    );
    await db.tamper('UPDATE audit_records SET seq = seq + 1000 WHERE tenant_id = $1 AND seq >= 5', [tenantId]);
    await db.tamper('UPDATE audit_records SET seq = seq - 999 WHERE tenant_id = $1 AND seq > 1000', [tenantId]);
    await db.tamper('INSERT INTO audit_records (tenant_id, seq, document, hash) VALUES ($1, 5, $2, $3)', [
      tenantId,
      forged?.document,
      forged?.hash,
    ]);
    await db.tamper('UPDATE audit_chain_heads SET seq = $2, hash = $3 WHERE tenant_id = $1', [
      tenantId,
      RECORDS + 1,
      last.hash,
    ]);
    const problems = await problemsOf(tenantId);
    expect(problems.slice(0, 2)).toEqual([
      { kind: 'record_misplaced', seq: 6 },
      { kind: 'link_broken', seq: 6 },
    ]);
    // The checkpoint at 10 no longer matches what is stored at 10.
    expect(problems).toContainEqual({ kind: 'checkpoint_mismatch', seq: RECORDS });
  });

  it('reports two records reordered (their seqs swapped) at both places', async () => {
    const tenantId = await tenantWithCheckpoint();
    await db.tamper('UPDATE audit_records SET seq = 1003 WHERE tenant_id = $1 AND seq = 3', [tenantId]);
    await db.tamper('UPDATE audit_records SET seq = 3 WHERE tenant_id = $1 AND seq = 4', [tenantId]);
    await db.tamper('UPDATE audit_records SET seq = 4 WHERE tenant_id = $1 AND seq = 1003', [tenantId]);
    expect(await problemsOf(tenantId)).toEqual([
      { kind: 'record_misplaced', seq: 3 },
      { kind: 'link_broken', seq: 3 },
      { kind: 'record_misplaced', seq: 4 },
      { kind: 'link_broken', seq: 4 },
      { kind: 'link_broken', seq: 5 },
    ]);
  });

  it('reports a consistent rewrite of the chain after a checkpoint by that checkpoint alone', async () => {
    const tenantId = await tenantWithCheckpoint();
    // The attacker recomputes every hash and link from record 6 on, and the head: only a signature stands in the way.
    const start = await recordAt(tenantId, 5);
    const rewritten = [];
    for (let seq = 6; seq <= RECORDS; seq += 1) {
      const { record } = await recordAt(tenantId, seq);
      const { format, emitter, seq: _seq, prevHash, recordedAt, ...event } = record;
      rewritten.push({ event: seq === 6 ? { ...event, outcome: 'denied' as const } : event, emitter });
    }
    const chained = chainAuditEvents({ seq: 5, hash: start.hash }, rewritten, start.record.recordedAt);
    for (const { record, document, hash } of chained) {
      await db.tamper('UPDATE audit_records SET document = $3, hash = $4 WHERE tenant_id = $1 AND seq = $2', [
        tenantId,
        record.seq,
        document,
        hash,
      ]);
    }
    await db.tamper('UPDATE audit_chain_heads SET hash = $2 WHERE tenant_id = $1', [tenantId, chained.at(-1)?.hash]);
    expect(await problemsOf(tenantId)).toEqual([{ kind: 'checkpoint_mismatch', seq: RECORDS }]);
  });

  it('refuses to sign a checkpoint over a record changed since the last one (a signature never launders an edit)', async () => {
    const tenantId = await tenantWithCheckpoint();
    await db.storeEvents(tenantId, 5);
    // Changed after the checkpoint at RECORDS, before the next is signed; the head still names the last record.
    const { record } = await recordAt(tenantId, RECORDS + 2);
    await db.tamper('UPDATE audit_records SET document = $3 WHERE tenant_id = $1 AND seq = $2', [
      tenantId,
      RECORDS + 2,
      auditDocumentOf({ ...record, outcome: 'denied' }),
    ]);
    await expect(db.checkpoints.ofHead(tenantId)).rejects.toMatchObject({
      code: 'CONFLICT',
      details: { reason: 'AUDIT_CHAIN_INCONSISTENT', seq: RECORDS + 2 },
    });
    // An untouched tenant is signed as before.
    const untouched = await tenantWithCheckpoint();
    await db.storeEvents(untouched, 5);
    await expect(db.checkpoints.ofHead(untouched)).resolves.toMatchObject({ statement: { seq: RECORDS + 5 } });
  });

  it('reports records removed behind a forged purge boundary at a checkpointed seq', async () => {
    const tenantId = await tenantWithCheckpoint();
    await db.storeEvents(tenantId, 3);
    // The attacker deletes records 1..RECORDS (a periodic checkpoint vouches for RECORDS) and
    // claims a purge there: the boundary is signed, but no purge record in the chain states it.
    const { hash } = await recordAt(tenantId, RECORDS);
    await db.tamper('DELETE FROM audit_records WHERE tenant_id = $1 AND seq <= $2', [tenantId, RECORDS]);
    await db.tamper(
      'INSERT INTO audit_purges (tenant_id, through_seq, through_hash, purged_at, records) VALUES ($1, $2, $3, now(), $2)',
      [tenantId, RECORDS, hash],
    );
    expect(await problemsOf(tenantId)).toEqual([{ kind: 'purge_unrecorded', seq: RECORDS }]);
  });

  it('rejects a checkpoint signed by a key that is not pinned (a forged signature)', async () => {
    const tenantId = await tenantWithCheckpoint();
    const { rows } = await db.superuser.query('SELECT statement FROM audit_checkpoints WHERE tenant_id = $1', [
      tenantId,
    ]);
    // The attacker's own Ed25519 key, same name, same version: its signature is well-formed and wrong.
    const stateDir = mkdtempSync(join(tmpdir(), 'strongroom-forger-'));
    try {
      const forger = new LocalSecretsProvider({
        stateDir,
        logger: createLogger({ service: 'audit', level: 'silent' }),
        nodeEnv: 'test',
      });
      await forger.ensureKey(AUDIT_CHECKPOINT_SIGNING_KEY, 'ed25519');
      const forged = await forger.sign(AUDIT_CHECKPOINT_SIGNING_KEY, Buffer.from(rows[0].statement));
      await db.tamper('UPDATE audit_checkpoints SET signature = $2 WHERE tenant_id = $1', [tenantId, forged]);
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
    const verification = await db.verify(tenantId);
    expect(verification.problems.map(({ kind, seq }) => ({ kind, seq }))).toEqual([
      { kind: 'checkpoint_signature_invalid', seq: RECORDS },
    ]);
    expect(verification.checkpoints).toEqual({ checked: 1, valid: 0 });
  });

  it('reports a checkpoint whose signed statement was edited, and one whose columns were', async () => {
    const edited = await tenantWithCheckpoint();
    const { rows } = await db.superuser.query('SELECT statement FROM audit_checkpoints WHERE tenant_id = $1', [edited]);
    const statement = JSON.parse(rows[0].statement);
    const otherHash = sha256Hex('not the chain');
    await db.tamper('UPDATE audit_checkpoints SET statement = $2, head_hash = $3 WHERE tenant_id = $1', [
      edited,
      JSON.stringify({ ...statement, headHash: otherHash }),
      otherHash,
    ]);
    expect(await problemsOf(edited)).toEqual([{ kind: 'checkpoint_signature_invalid', seq: RECORDS }]);

    const columns = await tenantWithCheckpoint();
    await db.tamper('UPDATE audit_checkpoints SET head_hash = $2 WHERE tenant_id = $1', [columns, otherHash]);
    expect(await problemsOf(columns)).toEqual([{ kind: 'checkpoint_mismatch', seq: RECORDS }]);
  });

  it('verifies a chain of several pages with checkpoints in each, and finds a change in a later page', async () => {
    const tenantId = randomUUID();
    for (let batch = 0; batch < 4; batch += 1) {
      await db.storeEvents(tenantId, 3_000);
      await db.checkpoints.ofHead(tenantId);
    }
    expect(await db.verify(tenantId)).toMatchObject({
      valid: true,
      records: 12_000,
      checkpoints: { checked: 4, valid: 4 },
    });
    const { record } = await recordAt(tenantId, 9_001);
    await db.tamper('UPDATE audit_records SET document = $3 WHERE tenant_id = $1 AND seq = $2', [
      tenantId,
      9_001,
      auditDocumentOf({ ...record, outcome: 'failure' }),
    ]);
    expect(await problemsOf(tenantId)).toEqual([
      { kind: 'record_modified', seq: 9_001 },
      { kind: 'link_broken', seq: 9_002 },
    ]);
  });

  it('reports a chain head moved away from the last record', async () => {
    const tenantId = await tenantWithCheckpoint();
    await db.tamper('UPDATE audit_chain_heads SET seq = seq - 1 WHERE tenant_id = $1', [tenantId]);
    expect(await problemsOf(tenantId)).toEqual([{ kind: 'head_mismatch', seq: RECORDS }]);
  });
});
