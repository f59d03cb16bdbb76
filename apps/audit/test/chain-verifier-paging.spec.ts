import { generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import {
  AUDIT_CHECKPOINT_FORMAT,
  AUDIT_CHECKPOINT_SIGNING_KEY,
  AUDIT_GENESIS_HASH,
  AuditChainVerifier,
  type AuditCheckpoint,
  type AuditSigningKey,
  auditEventSchema,
  canonicalJson,
  chainAuditEvents,
  type StoredAuditRecord,
} from '@strongroom/contracts';
import { auditEventOf } from '@strongroom/platform';

/**
 * The contracts' verifier as the audit service drives it: checkpoints given page by page between
 * pages of records (memory bounded however many checkpoints a chain has), and an export's run of
 * records vouched for by the checkpoint at its end.
 */
const tenantId = randomUUID();
const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const keys: AuditSigningKey[] = [
  {
    name: AUDIT_CHECKPOINT_SIGNING_KEY,
    version: 1,
    algorithm: 'Ed25519',
    publicKey: (publicKey.export({ format: 'der', type: 'spki' }) as Buffer).subarray(12).toString('base64'),
  },
];

function checkpointAt(seq: number, headHash: string): AuditCheckpoint {
  const statement = {
    format: AUDIT_CHECKPOINT_FORMAT,
    tenantId,
    seq,
    headHash,
    createdAt: '2026-03-01T10:00:00.000Z',
  } as const;
  const signature = sign(null, Buffer.from(canonicalJson(statement)), privateKey).toString('base64');
  return { statement, signature: `vault:v1:${signature}`, keyVersion: 1 };
}

const chained = chainAuditEvents(
  { seq: 0, hash: AUDIT_GENESIS_HASH },
  Array.from({ length: 20 }, (_, index) => ({
    event: auditEventSchema.parse(
      auditEventOf({
        tenantId,
        actor: { type: 'service', id: 'ledger' },
        action: 'ledger.account.create',
        resource: { type: 'account', id: `a-${index}` },
        outcome: 'success',
      }),
    ),
    emitter: 'ledger' as const,
  })),
  '2026-03-01T09:00:00.000Z',
);
const stored: StoredAuditRecord[] = chained.map(({ record, document, hash }) => ({ seq: record.seq, document, hash }));
const hashAt = (seq: number) => (stored[seq - 1] as StoredAuditRecord).hash;
const head = { seq: 20, hash: hashAt(20) };

describe('AuditChainVerifier, fed page by page', () => {
  it('checks checkpoints given between pages exactly as when all are given at the end', () => {
    const checkpoints = [5, 10, 15, 20].map((seq) => checkpointAt(seq, hashAt(seq)));
    const paged = new AuditChainVerifier(tenantId, { seq: 0, hash: AUDIT_GENESIS_HASH });
    for (const page of [stored.slice(0, 10), stored.slice(10)]) {
      const last = (page.at(-1) as StoredAuditRecord).seq;
      const reached = checkpoints.filter(({ statement }) => statement.seq <= last && statement.seq > page[0]!.seq - 1);
      paged.watch(reached.map(({ statement }) => statement.seq));
      for (const record of page) paged.add(record);
      paged.checkCheckpoints(reached, keys);
    }
    expect(paged.finish([], keys, head)).toEqual({ checked: 4, valid: 4 });
    expect(paged.problems).toEqual([]);
  });

  it('finds a checkpoint mismatch in an early page', () => {
    const verifier = new AuditChainVerifier(tenantId, { seq: 0, hash: AUDIT_GENESIS_HASH });
    verifier.watch([5]);
    for (const record of stored.slice(0, 10)) verifier.add(record);
    verifier.checkCheckpoints([checkpointAt(5, hashAt(6))], keys);
    for (const record of stored.slice(10)) verifier.add(record);
    expect(verifier.finish([], keys, head)).toEqual({ checked: 1, valid: 1 });
    expect(verifier.problems.map(({ kind, seq }) => ({ kind, seq }))).toEqual([
      { kind: 'checkpoint_mismatch', seq: 5 },
    ]);
  });
});

describe("an export's run of records, vouched for by the checkpoint at its end", () => {
  const run = stored.slice(7, 14);
  const start = { seq: 7, hash: hashAt(7), vouchedBy: 'end' as const };

  it('verifies from its start hash with the checkpoint at its last record alone', () => {
    const verifier = new AuditChainVerifier(tenantId, start, new Set([14]));
    for (const record of run) verifier.add(record);
    expect(verifier.finish([checkpointAt(14, hashAt(14))], keys, undefined)).toEqual({ checked: 1, valid: 1 });
    expect(verifier.problems).toEqual([]);
  });

  it('is not vouched for without that checkpoint, nor by a forged one', () => {
    const missing = new AuditChainVerifier(tenantId, start, new Set([14]));
    for (const record of run) missing.add(record);
    missing.finish([], keys, undefined);
    expect(missing.problems.map(({ kind, seq }) => ({ kind, seq }))).toEqual([
      { kind: 'checkpoint_mismatch', seq: 14 },
    ]);

    const forged = checkpointAt(14, hashAt(14));
    const other = generateKeyPairSync('ed25519').privateKey;
    forged.signature = `vault:v1:${sign(null, Buffer.from(canonicalJson(forged.statement)), other).toString('base64')}`;
    const rejected = new AuditChainVerifier(tenantId, start, new Set([14]));
    for (const record of run) rejected.add(record);
    rejected.finish([forged], keys, undefined);
    expect(rejected.problems.map(({ kind }) => kind)).toEqual(['checkpoint_signature_invalid', 'checkpoint_mismatch']);
  });

  it('needs that checkpoint even for a run from genesis', () => {
    const fromGenesis = new AuditChainVerifier(tenantId, { seq: 0, hash: AUDIT_GENESIS_HASH, vouchedBy: 'end' });
    for (const record of stored.slice(0, 5)) fromGenesis.add(record);
    fromGenesis.finish([], keys, undefined);
    expect(fromGenesis.problems.map(({ kind, seq }) => ({ kind, seq }))).toEqual([
      { kind: 'checkpoint_mismatch', seq: 5 },
    ]);
  });

  it('finds a record of the run changed since the export', () => {
    const changed = run.map((record) =>
      record.seq === 10 ? { ...record, document: record.document.replace('"success"', '"denied"') } : record,
    );
    const verifier = new AuditChainVerifier(tenantId, start, new Set([14]));
    for (const record of changed) verifier.add(record);
    verifier.finish([checkpointAt(14, hashAt(14))], keys, undefined);
    expect(verifier.problems.map(({ kind, seq }) => ({ kind, seq }))).toEqual([
      { kind: 'record_modified', seq: 10 },
      { kind: 'link_broken', seq: 11 },
    ]);
  });
});
