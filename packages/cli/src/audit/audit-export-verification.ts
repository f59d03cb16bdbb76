import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import {
  AuditChainVerifier,
  type AuditCheckpoint,
  type AuditExport,
  type AuditProblem,
  auditExportSchema,
  sha256Hex,
} from '@strongroom/contracts';
import { AUDIT_EXPORT_FILES } from './audit-export-files';
import { type PinnedAuditKeys, signingKeysFor } from './audit-keys';

export interface AuditExportVerification {
  ok: boolean;
  /** export.json, when it could be read. */
  exported?: AuditExport;
  /** Lines of records.ndjson read. */
  records: number;
  /** The first problems found (AUDIT_PROBLEMS_MAX at most), each at the seq of the line it concerns. */
  problems: AuditProblem[];
  /**
   * The seq the export starts after, when it is not the genesis: nothing signed says where an
   * export starts (its checkpoint is at its end), so records cut from its front, with export.json
   * edited to match, cannot be told from an export of a shorter period.
   */
  unanchoredStartSeq?: number;
}

/** export.json is a few kilobytes (the answer, one checkpoint and the keys). */
const EXPORT_JSON_BYTES_MAX = 1024 * 1024;

/**
 * Verifies an export directory offline with pinned keys only: every line of records.ndjson is
 * the record at its position (firstSeq, firstSeq + 1, …) of the export's tenant, linked from
 * startHash by each document's own hash; the checkpoint is signed by a pinned key (never only by
 * the keys export.json ships) and vouches for the last record's hash at the export's last seq.
 * The chain logic is the contracts' AuditChainVerifier, the one every verifier uses.
 */
export async function verifyAuditExport(dir: string, pinned: PinnedAuditKeys): Promise<AuditExportVerification> {
  const exported = await readExport(dir);
  if (exported === undefined) {
    return {
      ok: false,
      records: 0,
      problems: [problem('record_unreadable', 0, `${AUDIT_EXPORT_FILES.export} is missing or not an audit export`)],
    };
  }
  const { checkpoint } = exported;
  const start = { seq: exported.firstSeq - 1, hash: exported.startHash };
  const watched = new Set(checkpoint === null ? [] : [checkpoint.statement.seq]);
  const verifier = new AuditChainVerifier(exported.tenantId, start, watched);
  let position = exported.firstSeq;
  const lines = createInterface({
    input: createReadStream(join(dir, AUDIT_EXPORT_FILES.records), 'utf8'),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  try {
    // The stored seq of a line is its position: a removed, inserted or swapped line is a record out of its place.
    for await (const line of lines) {
      verifier.add({ seq: position, document: line, hash: sha256Hex(line) });
      position += 1;
    }
  } catch {
    return {
      ok: false,
      exported,
      records: verifier.records,
      problems: [problem('record_unreadable', position, `${AUDIT_EXPORT_FILES.records} is missing or unreadable`)],
    };
  }
  const extra = checkpointCoverage(exported, checkpoint);
  if (checkpoint === null && verifier.records !== exported.records) {
    extra.push(
      problem(
        'head_mismatch',
        verifier.lastSeq,
        `${verifier.records} lines, the export names ${exported.records} records`,
      ),
    );
  }
  if (checkpoint !== null) {
    const keys = signingKeysFor(pinned, [checkpoint.keyVersion]);
    // The stored head of an export is what its checkpoint signed: the last line must be that record.
    verifier.finish([checkpoint], keys, { seq: checkpoint.statement.seq, hash: checkpoint.statement.headHash });
  }
  // An export of a period starts mid-chain, not after a purge: its start is shown by the previous
  // period's checkpoint (docs/audit.md), not by a signature or a purge record of its own.
  const startAnchorMissing = (found: AuditProblem) =>
    start.seq > 0 &&
    found.seq === start.seq &&
    (found.kind === 'purge_unrecorded' ||
      (found.kind === 'checkpoint_mismatch' && checkpoint?.statement.seq !== start.seq));
  const problems = [...extra, ...verifier.problems.filter((found) => !startAnchorMissing(found))];
  return {
    ok: problems.length === 0,
    exported,
    records: verifier.records,
    problems,
    ...(start.seq > 0 ? { unanchoredStartSeq: start.seq } : {}),
  };
}

async function readExport(dir: string): Promise<AuditExport | undefined> {
  const file = join(dir, AUDIT_EXPORT_FILES.export);
  try {
    if ((await stat(file)).size > EXPORT_JSON_BYTES_MAX) return undefined;
    const parsed = auditExportSchema.safeParse(JSON.parse(await readFile(file, 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** What the checkpoint must cover: the export's last record, of its tenant (a record-less export has none). */
function checkpointCoverage(exported: AuditExport, checkpoint: AuditCheckpoint | null): AuditProblem[] {
  if (exported.records === 0) {
    return checkpoint === null
      ? []
      : [problem('checkpoint_mismatch', checkpoint.statement.seq, 'an export of no records carries a checkpoint')];
  }
  if (checkpoint === null) return [problem('checkpoint_mismatch', exported.lastSeq, 'no checkpoint covers the export')];
  if (checkpoint.statement.seq !== exported.lastSeq) {
    return [
      problem(
        'checkpoint_mismatch',
        checkpoint.statement.seq,
        `the checkpoint vouches for the chain at ${checkpoint.statement.seq}, the export ends at ${exported.lastSeq}`,
      ),
    ];
  }
  return [];
}

function problem(kind: AuditProblem['kind'], seq: number, message: string): AuditProblem {
  return { kind, seq, message };
}
