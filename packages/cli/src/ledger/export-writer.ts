import { createHash, type Hash } from 'node:crypto';
import { access, type FileHandle, mkdir, open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  canonicalJson,
  LEDGER_EXPORT_BALANCE_COLUMNS,
  LEDGER_EXPORT_DIGESTED_FILES,
  LEDGER_EXPORT_ENTRY_COLUMNS,
  LEDGER_EXPORT_FILES,
  LEDGER_EXPORT_PAGE_LIMIT_MAX,
  LEDGER_EXPORT_TRIAL_BALANCE_COLUMNS,
  type LedgerExportManifest,
  ledgerExportBalanceCsvLine,
  ledgerExportCsvHeader,
  ledgerExportEntryCsvLine,
  ledgerExportEntryJsonLine,
  ledgerExportTrialBalanceCsvLine,
} from '@strongroom/contracts';
import { verifyWithPublicKeys } from '@strongroom/platform';
import { type LedgerExportApi, LedgerExportError } from './export-api';

export interface WriteLedgerExportOptions {
  api: LedgerExportApi;
  tenantId: string;
  from: string;
  to: string;
  /** Created if missing; it must not hold an export already (nothing is overwritten). */
  outDir: string;
  pageLimit?: number;
}

/** A file written page by page, hashed as it is written. */
class DigestedFile {
  private readonly hash: Hash = createHash('sha256');
  private bytes = 0;

  private constructor(
    readonly name: string,
    private readonly handle: FileHandle,
  ) {}

  static async create(dir: string, name: string): Promise<DigestedFile> {
    // 'wx': a file that appeared since the check is not overwritten either.
    return new DigestedFile(name, await open(join(dir, name), 'wx', 0o600));
  }

  async write(text: string): Promise<void> {
    if (text === '') return;
    this.hash.update(text, 'utf8');
    this.bytes += Buffer.byteLength(text, 'utf8');
    await this.handle.write(text, null, 'utf8');
  }

  async close(): Promise<{ sha256: string; bytes: number }> {
    await this.handle.close();
    return { sha256: this.hash.digest('hex'), bytes: this.bytes };
  }
}

/**
 * Asks the ledger for a period's signed manifest, then writes the files it describes from the
 * paged calls: entries.csv, entries.ndjson, balances.csv, trial-balance.csv, then manifest.json
 * (the signed bytes), manifest.sig and public-key.json. Refuses to finish when what the pages
 * returned is not what the manifest signed (the ledger changed in between).
 */
export async function writeLedgerExport(options: WriteLedgerExportOptions): Promise<LedgerExportManifest> {
  const { api, outDir } = options;
  const limit = options.pageLimit ?? LEDGER_EXPORT_PAGE_LIMIT_MAX;
  await mkdir(outDir, { recursive: true, mode: 0o700 });
  for (const name of Object.values(LEDGER_EXPORT_FILES)) {
    const exists = await access(join(outDir, name)).then(
      () => true,
      () => false,
    );
    if (exists) throw new LedgerExportError('EXPORT_EXISTS', `${outDir} already holds ${name}: nothing is overwritten`);
  }
  const { manifest, signature, signingKey } = await api.create({
    tenantId: options.tenantId,
    from: options.from,
    to: options.to,
  });
  checkPeriod(manifest, options);
  const bytes = Buffer.from(canonicalJson(manifest), 'utf8');
  const keys = [{ version: signingKey.version, publicKey: signingKey.publicKey, createdTime: '' }];
  // The manifest came through JSON: if its canonical bytes were not what the key signed, say so now, not at verification.
  if (!verifyWithPublicKeys(keys, bytes, signature)) {
    throw new LedgerExportError('EXPORT_UNREADABLE', 'The signature does not match the manifest as received');
  }
  const period = { tenantId: manifest.tenantId, from: manifest.from, to: manifest.to, limit };
  const files = await Promise.all(LEDGER_EXPORT_DIGESTED_FILES.map((name) => DigestedFile.create(outDir, name)));
  const [entriesCsv, entriesNdjson, balancesCsv, trialBalanceCsv] = files as [
    DigestedFile,
    DigestedFile,
    DigestedFile,
    DigestedFile,
  ];
  const written = new Map<string, { sha256: string; bytes: number }>();
  try {
    await balancesCsv.write(ledgerExportCsvHeader(LEDGER_EXPORT_BALANCE_COLUMNS));
    await trialBalanceCsv.write(ledgerExportCsvHeader(LEDGER_EXPORT_TRIAL_BALANCE_COLUMNS));
    await eachPage(manifest.accounts, limit, async (cursor) => {
      const page = await api.balances({ ...period, ...(cursor !== undefined ? { cursor } : {}) });
      await balancesCsv.write(page.accounts.map(ledgerExportBalanceCsvLine).join(''));
      await trialBalanceCsv.write(page.accounts.map(ledgerExportTrialBalanceCsvLine).join(''));
      return { rows: page.accounts.length, nextCursor: page.nextCursor };
    });
    await entriesCsv.write(ledgerExportCsvHeader(LEDGER_EXPORT_ENTRY_COLUMNS));
    await eachPage(manifest.entries, limit, async (cursor) => {
      const page = await api.entries({ ...period, ...(cursor !== undefined ? { cursor } : {}) });
      await entriesCsv.write(page.entries.map(ledgerExportEntryCsvLine).join(''));
      await entriesNdjson.write(page.entries.map(ledgerExportEntryJsonLine).join(''));
      return { rows: page.entries.length, nextCursor: page.nextCursor };
    });
  } finally {
    for (const file of files) written.set(file.name, await file.close());
  }
  for (const name of LEDGER_EXPORT_DIGESTED_FILES) {
    const file = written.get(name);
    const signed = manifest.files[name];
    if (file?.sha256 !== signed.sha256 || file.bytes !== signed.bytes) {
      throw new LedgerExportError(
        'EXPORT_CHANGED',
        `${name} as paged does not match the signed manifest: the ledger changed while exporting; export again`,
      );
    }
  }
  await writeFile(join(outDir, LEDGER_EXPORT_FILES.manifest), bytes, { flag: 'wx', mode: 0o600 });
  await writeFile(join(outDir, LEDGER_EXPORT_FILES.signature), `${signature}\n`, { flag: 'wx', mode: 0o600 });
  await writeFile(join(outDir, LEDGER_EXPORT_FILES.publicKey), `${canonicalJson(signingKey)}\n`, {
    flag: 'wx',
    mode: 0o600,
  });
  return manifest;
}

/**
 * The manifest is of the period asked for: a ledger (or a gateway) answering with another
 * tenant's or another period's signed manifest would otherwise be written as this one.
 */
function checkPeriod(manifest: LedgerExportManifest, asked: { tenantId: string; from: string; to: string }): void {
  // The ledger normalizes the bounds (any ISO 8601 offset → UTC milliseconds): compare instants, not strings.
  const sameInstant = (signed: string, requested: string) => Date.parse(signed) === Date.parse(requested);
  if (
    manifest.tenantId !== asked.tenantId ||
    !sameInstant(manifest.from, asked.from) ||
    !sameInstant(manifest.to, asked.to)
  ) {
    throw new LedgerExportError(
      'EXPORT_UNREADABLE',
      `The signed manifest is of tenant ${manifest.tenantId}, ${manifest.from} to ${manifest.to}: ` +
        `not the export asked for (tenant ${asked.tenantId}, ${asked.from} to ${asked.to})`,
    );
  }
}

/**
 * Follows `nextCursor` to the last page, and no further than the rows the manifest counts fill
 * (ceil(rows/limit) pages, and one more for an empty last page): a ledger that keeps answering,
 * or whose cursor does not move, is a mismatch, not an endless loop.
 */
async function eachPage(
  rowsSigned: number,
  limit: number,
  fetchPage: (cursor: string | undefined) => Promise<{ rows: number; nextCursor: string | null }>,
): Promise<void> {
  const pagesMax = Math.ceil(rowsSigned / limit) + 1;
  let cursor: string | undefined;
  let rows = 0;
  for (let pages = 1; ; pages += 1) {
    const page = await fetchPage(cursor);
    rows += page.rows;
    if (rows > rowsSigned) {
      throw new LedgerExportError('EXPORT_CHANGED', 'The ledger returned more rows than the signed manifest counts');
    }
    if (page.nextCursor === null) return;
    if (page.rows === 0 || page.nextCursor === cursor) {
      throw new LedgerExportError(
        'EXPORT_UNREADABLE',
        `The ledger's cursor did not advance (page ${pages}: ${page.rows} rows, next cursor ${page.nextCursor})`,
      );
    }
    if (pages >= pagesMax) {
      throw new LedgerExportError(
        'EXPORT_CHANGED',
        `The ledger offered a page beyond the ${pagesMax} that the signed manifest's ${rowsSigned} rows fill`,
      );
    }
    cursor = page.nextCursor;
  }
}
