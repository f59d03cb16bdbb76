import { access, type FileHandle, mkdir, open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AUDIT_PAGE_LIMIT_MAX, type AuditExport } from '@strongroom/contracts';
import { AuditCliError, type AuditExportApi } from './audit-api';
import { AUDIT_EXPORT_FILES, auditExportCsvHeader, auditExportCsvLine } from './audit-export-files';

export interface WriteAuditExportOptions {
  api: AuditExportApi;
  /** The tenant to export; the credential's own when absent (only a platform credential names another). */
  tenantId?: string;
  from: string;
  to: string;
  /** Created if missing; it must not hold an export already (nothing is overwritten). */
  outDir: string;
  pageLimit?: number;
}

/**
 * Asks the audit service for a period's export, then writes records.ndjson (each stored document
 * exactly, one per line) and records.csv from the paged records, and export.json last (a
 * directory without it is an export that did not finish). Refuses pages that are not exactly the
 * seqs the export names, in order.
 */
export async function writeAuditExport(options: WriteAuditExportOptions): Promise<AuditExport> {
  const { api, outDir } = options;
  const limit = options.pageLimit ?? AUDIT_PAGE_LIMIT_MAX;
  await mkdir(outDir, { recursive: true, mode: 0o700 });
  for (const name of Object.values(AUDIT_EXPORT_FILES)) {
    const exists = await access(join(outDir, name)).then(
      () => true,
      () => false,
    );
    if (exists) throw new AuditCliError('AUDIT_EXISTS', `${outDir} already holds ${name}: nothing is overwritten`);
  }
  const exported = await api.create({
    ...(options.tenantId !== undefined ? { tenantId: options.tenantId } : {}),
    from: options.from,
    to: options.to,
  });
  checkExport(exported, options);
  // 'wx': a file that appeared since the check is not overwritten either.
  const ndjson = await open(join(outDir, AUDIT_EXPORT_FILES.records), 'wx', 0o600);
  const csv = await open(join(outDir, AUDIT_EXPORT_FILES.csv), 'wx', 0o600);
  try {
    await csv.write(auditExportCsvHeader());
    if (exported.records > 0) await writeRecords(options.api, exported, limit, ndjson, csv);
  } finally {
    await ndjson.close();
    await csv.close();
  }
  await writeFile(join(outDir, AUDIT_EXPORT_FILES.export), `${JSON.stringify(exported, null, 2)}\n`, {
    flag: 'wx',
    mode: 0o600,
  });
  return exported;
}

/** The export is of the tenant and period asked for, and its seqs count its records. */
function checkExport(exported: AuditExport, asked: { tenantId?: string; from: string; to: string }): void {
  const sameInstant = (answered: string, requested: string) => Date.parse(answered) === Date.parse(requested);
  if (
    (asked.tenantId !== undefined && exported.tenantId !== asked.tenantId) ||
    !sameInstant(exported.from, asked.from) ||
    !sameInstant(exported.to, asked.to)
  ) {
    throw new AuditCliError(
      'AUDIT_UNREADABLE',
      `the export answered is of tenant ${exported.tenantId}, ${exported.from} to ${exported.to}: not the one asked for`,
    );
  }
  const counted = exported.records === 0 ? 0 : exported.lastSeq - exported.firstSeq + 1;
  if (counted !== exported.records || (exported.records > 0 && exported.checkpoint === null)) {
    throw new AuditCliError(
      'AUDIT_UNREADABLE',
      `the export names seqs ${exported.firstSeq}–${exported.lastSeq} for ${exported.records} records` +
        (exported.checkpoint === null ? ' and no checkpoint' : ''),
    );
  }
}

/**
 * Follows `nextCursor` to the last page and no further than the records fill: each record must be
 * the next seq, so a page missing, repeated or out of order is refused, never written.
 */
async function writeRecords(
  api: AuditExportApi,
  exported: AuditExport,
  limit: number,
  ndjson: FileHandle,
  csv: FileHandle,
): Promise<void> {
  const pagesMax = Math.ceil(exported.records / limit) + 1;
  let expectedSeq = exported.firstSeq;
  let cursor: string | undefined;
  for (let pages = 1; ; pages += 1) {
    const page = await api.records({
      tenantId: exported.tenantId,
      firstSeq: exported.firstSeq,
      lastSeq: exported.lastSeq,
      limit,
      ...(cursor !== undefined ? { cursor } : {}),
    });
    for (const record of page.records) {
      if (record.seq !== expectedSeq || record.seq > exported.lastSeq) {
        throw new AuditCliError(
          'AUDIT_CHANGED',
          `expected record ${expectedSeq}, the audit service sent ${record.seq}`,
        );
      }
      // A document is canonical JSON: it never holds a raw line break, so one line is one record.
      if (/[\r\n]/.test(record.document)) {
        throw new AuditCliError('AUDIT_UNREADABLE', `record ${record.seq} is not one line of canonical JSON`);
      }
      expectedSeq += 1;
    }
    await ndjson.write(page.records.map((record) => `${record.document}\n`).join(''));
    await csv.write(page.records.map(auditExportCsvLine).join(''));
    if (page.nextCursor === null) break;
    if (page.records.length === 0 || page.nextCursor === cursor || pages >= pagesMax) {
      throw new AuditCliError('AUDIT_UNREADABLE', `the records' cursor did not advance (page ${pages})`);
    }
    cursor = page.nextCursor;
  }
  if (expectedSeq !== exported.lastSeq + 1) {
    throw new AuditCliError(
      'AUDIT_CHANGED',
      `the audit service sent records ${exported.firstSeq}–${expectedSeq - 1}, the export names ${exported.firstSeq}–${exported.lastSeq}`,
    );
  }
}
