import { randomUUID } from 'node:crypto';
import { AUDIT_CHECKPOINT_FORMAT, canonicalJson } from '@strongroom/contracts';
import { readCheckpointRow } from '../src/checkpoints/checkpoint-rows';
import type { CheckpointRow } from '../src/checkpoints/checkpoints.repository';

const tenantId = randomUUID();
const statement = {
  format: AUDIT_CHECKPOINT_FORMAT,
  tenantId,
  seq: 12,
  headHash: 'a'.repeat(64),
  createdAt: '2026-03-01T10:00:00.000Z',
};
const row: CheckpointRow = {
  tenant_id: tenantId,
  seq: '12',
  head_hash: 'a'.repeat(64),
  statement: canonicalJson(statement),
  signature: 'vault:v2:c2lnbmF0dXJl',
  key_version: 2,
};

describe('readCheckpointRow (a stored checkpoint read back)', () => {
  it('makes the checkpoint from the signed statement, with no disagreement for an untouched row', () => {
    expect(readCheckpointRow(row)).toEqual({
      seq: 12,
      checkpoint: { statement, signature: row.signature, keyVersion: 2 },
      disagreements: [],
    });
  });

  it('accepts the local provider signature form', () => {
    expect(readCheckpointRow({ ...row, signature: 'local:v2:c2lnbmF0dXJl' }).checkpoint).toBeDefined();
  });

  it.each([
    ['seq', { seq: '13' }],
    ['head_hash', { head_hash: 'b'.repeat(64) }],
    ['tenant_id', { tenant_id: randomUUID() }],
  ])('names a %s column that disagrees with the signed statement', (column, edit) => {
    const read = readCheckpointRow({ ...row, ...edit });
    expect(read.disagreements).toEqual([column]);
    expect(read.checkpoint?.statement).toEqual(statement);
  });

  it.each([
    ['a statement that is not JSON', { statement: '{"format"' }],
    ['a statement with an unknown field', { statement: canonicalJson({ ...statement, extra: 1 }) }],
    ['a malformed signature', { signature: 'forged' }],
  ])('holds no checkpoint for %s', (_name, edit) => {
    expect(readCheckpointRow({ ...row, ...edit })).toEqual({
      seq: 12,
      checkpoint: undefined,
      disagreements: ['statement'],
    });
  });
});
