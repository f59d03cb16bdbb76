import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { access, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  canonicalJson,
  LEDGER_EXPORT_BALANCE_COLUMNS,
  LEDGER_EXPORT_DIGESTED_FILES,
  LEDGER_EXPORT_ENTRY_COLUMNS,
  LEDGER_EXPORT_FILES,
  LEDGER_EXPORT_TRIAL_BALANCE_COLUMNS,
  type LedgerExportBalance,
  type LedgerExportEntry,
  type LedgerExportManifest,
  ledgerExportBalanceCsvLine,
  ledgerExportBalanceSchema,
  ledgerExportCsvHeader,
  ledgerExportEntryCsvLine,
  ledgerExportEntryJsonLine,
  ledgerExportEntrySchema,
  ledgerExportManifestSchema,
  ledgerExportTrialBalanceCsvLine,
} from '@strongroom/contracts';
import { LedgerExportError } from './export-api';
import { boundedLinesOf, LineCounter } from './export-lines';
import { ProblemList, reconcileAccounts } from './export-reconciliation';
import {
  checkSignature,
  type LedgerExportKeyTrust,
  type LedgerExportSignatureKey,
  parseJson,
} from './export-signature';
import { TransferBalances, transferPassesFor } from './export-transfer-balances';

/** A manifest is a few kilobytes (one line per currency); anything far bigger is not one. */
const MANIFEST_BYTES_MAX = 1024 * 1024;

/** Which key to check the signature with: the platform's pinned keys, or (explicitly) the export's own. */
export type VerifyLedgerExportOptions = LedgerExportKeyTrust;

export interface LedgerExportVerification {
  ok: boolean;
  manifest: LedgerExportManifest | undefined;
  /** The key the signature was checked with; `pinned` when it came from `trustedKeys`. */
  key: LedgerExportSignatureKey | undefined;
  problems: string[];
  problemCount: number;
}

/**
 * Verifies an export directory without the ledger: the signature of manifest.json, the SHA-256
 * of every file, that the CSV and NDJSON renderings agree, and that the books reconcile (running
 * balances, opening + entries = closing, each transfer balanced, the trial balance per currency).
 * It stops at the first failure of the signature or a digest: files nobody signed are not worth
 * reconciling, and reading them is what a hostile export would want.
 */
export async function verifyLedgerExport(
  dir: string,
  options: VerifyLedgerExportOptions,
): Promise<LedgerExportVerification> {
  const problems = new ProblemList();
  const report = (manifest?: LedgerExportManifest, key?: LedgerExportSignatureKey) => ({
    ok: problems.count === 0,
    manifest,
    key,
    problems: problems.described,
    problemCount: problems.count,
  });
  const missing = await missingFiles(dir);
  if (missing.length > 0) {
    problems.add(`the export is missing ${missing.join(', ')}`);
    return report();
  }
  const manifestPath = join(dir, LEDGER_EXPORT_FILES.manifest);
  if ((await stat(manifestPath)).size > MANIFEST_BYTES_MAX) {
    problems.add(`${LEDGER_EXPORT_FILES.manifest} is larger than a manifest can be`);
    return report();
  }
  const bytes = await readFile(manifestPath);
  const key = await checkSignature(dir, bytes, options, problems);
  if (key === undefined) return report();
  const manifest = parseManifest(bytes, problems);
  if (manifest === undefined) return report(undefined, key);
  const entryLines = await checkDigests(dir, manifest, problems);
  if (problems.count > 0) return report(manifest, key);
  try {
    await reconcileBooks(dir, manifest, entryLines, problems);
  } catch (error) {
    // A line too long to be an export's: named as a problem, the rest of the file unread.
    if (!(error instanceof LedgerExportError)) throw error;
    problems.add(error.message);
  }
  return report(manifest, key);
}

/** The books of files known to be the signed ones; `entryLines` is how many lines entries.ndjson holds. */
async function reconcileBooks(
  dir: string,
  manifest: LedgerExportManifest,
  entryLines: number,
  problems: ProblemList,
): Promise<void> {
  // From the entries the file holds, not the count the manifest claims: a claimed 10^15 would be 2·10^9 passes.
  const passes = transferPassesFor(entryLines);
  // The first share of the transfers is tallied while the accounts are reconciled; any other takes a pass of its own.
  const firstShare = new TransferBalances(0, passes, problems);
  const entries = tap(entriesOf(dir, problems), (entry) => firstShare.add(entry));
  await reconcileAccounts(manifest, accountsOf(dir, problems), entries, problems);
  firstShare.finish();
  for (let pass = 1; pass < passes; pass += 1) {
    const share = new TransferBalances(pass, passes, problems);
    for await (const entry of entriesOf(dir, undefined)) share.add(entry);
    share.finish();
  }
}

async function missingFiles(dir: string): Promise<string[]> {
  const names = Object.values(LEDGER_EXPORT_FILES);
  const present = await Promise.all(
    names.map((name) =>
      access(join(dir, name)).then(
        () => true,
        () => false,
      ),
    ),
  );
  return names.filter((_, index) => !present[index]);
}

function parseManifest(bytes: Buffer, problems: ProblemList): LedgerExportManifest | undefined {
  const parsed = ledgerExportManifestSchema.safeParse(parseJson(bytes.toString('utf8')));
  if (!parsed.success) {
    problems.add(`${LEDGER_EXPORT_FILES.manifest} is not a ledger export manifest`);
    return undefined;
  }
  // The signed bytes are the canonical form: nothing else may hide in the file.
  if (canonicalJson(parsed.data) !== bytes.toString('utf8')) {
    problems.add(`${LEDGER_EXPORT_FILES.manifest} is not in canonical form`);
    return undefined;
  }
  return parsed.data;
}

/** Checks each file's SHA-256 and size against the manifest; returns the lines entries.ndjson holds. */
async function checkDigests(dir: string, manifest: LedgerExportManifest, problems: ProblemList): Promise<number> {
  let entryLines = 0;
  for (const name of LEDGER_EXPORT_DIGESTED_FILES) {
    const hash = createHash('sha256');
    const lines = new LineCounter();
    let bytes = 0;
    for await (const chunk of createReadStream(join(dir, name)) as AsyncIterable<Buffer>) {
      hash.update(chunk);
      lines.add(chunk);
      bytes += chunk.length;
    }
    const signed = manifest.files[name];
    if (hash.digest('hex') !== signed.sha256 || bytes !== signed.bytes) {
      problems.add(`${name}: its SHA-256 is not the one the manifest signed (the file was altered or cut short)`);
    }
    if (name === LEDGER_EXPORT_FILES.entriesNdjson) entryLines = lines.lines;
  }
  return entryLines;
}

/** balances.csv, row by row, each checked against its trial-balance.csv line. */
async function* accountsOf(dir: string, problems: ProblemList): AsyncGenerator<LedgerExportBalance> {
  const trial = linesOf(dir, LEDGER_EXPORT_FILES.trialBalanceCsv, problems, LEDGER_EXPORT_TRIAL_BALANCE_COLUMNS);
  try {
    for await (const { line, number } of linesOf(
      dir,
      LEDGER_EXPORT_FILES.balancesCsv,
      problems,
      LEDGER_EXPORT_BALANCE_COLUMNS,
    )) {
      const trialLine = await trial.next();
      const account = balanceOfCsv(line);
      if (account === undefined) {
        problems.add(`${LEDGER_EXPORT_FILES.balancesCsv} line ${number}: not a canonical balance row`);
        continue;
      }
      if (trialLine.done || `${trialLine.value.line}\r\n` !== ledgerExportTrialBalanceCsvLine(account)) {
        problems.add(
          `${LEDGER_EXPORT_FILES.trialBalanceCsv} line ${number}: not the trial balance of account ${account.code}`,
        );
      }
      yield account;
    }
    for (let rest = await trial.next(); !rest.done; rest = await trial.next()) {
      problems.add(`${LEDGER_EXPORT_FILES.trialBalanceCsv} line ${rest.value.number}: no account of balances.csv`);
    }
  } finally {
    // Closes the file when reading stops early (a line too long, a consumer that gave up).
    await trial.return(undefined);
  }
}

/**
 * entries.ndjson, entry by entry; with `problems`, each is also checked against its entries.csv
 * line (the transfer passes read the NDJSON alone, already checked).
 */
async function* entriesOf(dir: string, problems: ProblemList | undefined): AsyncGenerator<LedgerExportEntry> {
  const csv = problems && linesOf(dir, LEDGER_EXPORT_FILES.entriesCsv, problems, LEDGER_EXPORT_ENTRY_COLUMNS);
  try {
    for await (const { line, number } of linesOf(dir, LEDGER_EXPORT_FILES.entriesNdjson, problems)) {
      const csvLine = await csv?.next();
      const parsed = ledgerExportEntrySchema.safeParse(parseJson(line));
      if (!parsed.success || `${line}\n` !== ledgerExportEntryJsonLine(parsed.data)) {
        problems?.add(`${LEDGER_EXPORT_FILES.entriesNdjson} line ${number}: not a canonical entry`);
        continue;
      }
      if (
        csvLine !== undefined &&
        (csvLine.done || `${csvLine.value.line}\r\n` !== ledgerExportEntryCsvLine(parsed.data))
      ) {
        problems?.add(
          `${LEDGER_EXPORT_FILES.entriesCsv} line ${number + 1}: not entry ${parsed.data.seq} of the NDJSON`,
        );
      }
      yield parsed.data;
    }
    if (csv !== undefined) {
      for (let rest = await csv.next(); !rest.done; rest = await csv.next()) {
        problems?.add(`${LEDGER_EXPORT_FILES.entriesCsv} line ${rest.value.number}: no entry of the NDJSON`);
      }
    }
  } finally {
    await csv?.return(undefined);
  }
}

/** The lines of a file (numbered from 1), after its header line when `header` is given. */
async function* linesOf(
  dir: string,
  name: string,
  problems: ProblemList | undefined,
  header?: readonly string[],
): AsyncGenerator<{ line: string; number: number }> {
  let number = 0;
  for await (const line of boundedLinesOf(join(dir, name), name)) {
    number += 1;
    if (header !== undefined && number === 1) {
      if (`${line}\r\n` !== ledgerExportCsvHeader(header)) problems?.add(`${name}: its header is not the format's`);
      continue;
    }
    yield { line, number };
  }
}

async function* tap<T>(items: AsyncIterable<T>, look: (item: T) => void): AsyncGenerator<T> {
  for await (const item of items) {
    look(item);
    yield item;
  }
}

function balanceOfCsv(line: string): LedgerExportBalance | undefined {
  const fields = line.split(',');
  if (fields.length !== LEDGER_EXPORT_BALANCE_COLUMNS.length) return undefined;
  const [accountId, code, type, currency, exponent, ...amounts] = fields;
  const balances = (offset: number) => ({
    debitsPosted: amounts[offset],
    creditsPosted: amounts[offset + 1],
    debitsPending: amounts[offset + 2],
    creditsPending: amounts[offset + 3],
  });
  const parsed = ledgerExportBalanceSchema.safeParse({
    accountId,
    code,
    type,
    currency,
    currencyExponent: /^[0-9]$/.test(exponent ?? '') ? Number(exponent) : exponent,
    opening: balances(0),
    closing: balances(4),
  });
  if (!parsed.success || ledgerExportBalanceCsvLine(parsed.data) !== `${line}\r\n`) return undefined;
  return parsed.data;
}
