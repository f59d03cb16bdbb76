import { createHash, type Hash } from 'node:crypto';
import {
  type Environment,
  LEDGER_EXPORT_BALANCE_COLUMNS,
  LEDGER_EXPORT_ENTRY_COLUMNS,
  LEDGER_EXPORT_FILES,
  LEDGER_EXPORT_FORMAT,
  LEDGER_EXPORT_TRIAL_BALANCE_COLUMNS,
  type LedgerExportBalance,
  type LedgerExportCurrencyTotals,
  type LedgerExportEntry,
  type LedgerExportFileDigest,
  type LedgerExportManifest,
  ledgerExportBalanceCsvLine,
  ledgerExportCsvHeader,
  ledgerExportEntryCsvLine,
  ledgerExportEntryJsonLine,
  ledgerExportTrialBalanceCsvLine,
} from '@strongroom/contracts';

/** Characters gathered before hashing: one hash update per ~64 KB, not per line. */
const DIGEST_CHUNK_CHARS = 65_536;

/** The SHA-256 and length of a file written line by line, without the file. */
class FileDigest {
  private readonly hash: Hash = createHash('sha256');
  private bytes = 0;
  private pending = '';

  constructor(header = '') {
    this.add(header);
  }

  add(text: string): void {
    this.pending += text;
    if (this.pending.length >= DIGEST_CHUNK_CHARS) this.flush();
  }

  finish(): LedgerExportFileDigest {
    this.flush();
    return { sha256: this.hash.digest('hex'), bytes: this.bytes };
  }

  private flush(): void {
    const chunk = Buffer.from(this.pending, 'utf8');
    this.hash.update(chunk);
    this.bytes += chunk.length;
    this.pending = '';
  }
}

interface CurrencySums {
  currencyExponent: number;
  accounts: number;
  openingDebitsPosted: bigint;
  openingCreditsPosted: bigint;
  periodDebits: bigint;
  periodCredits: bigint;
  closingDebitsPosted: bigint;
  closingCreditsPosted: bigint;
}

export interface ExportIdentity {
  exportId: string;
  tenantId: string;
  environment: Environment;
  from: string;
  to: string;
  createdAt: string;
}

/**
 * The manifest of an export, built from its accounts and entries as they stream by (in export
 * order): the digest of each file as the client will write it, the trial balance per currency
 * and the counts. Nothing is kept per row, so a period of any size takes the same memory.
 */
export class ExportManifestBuilder {
  private readonly entriesCsv = new FileDigest(ledgerExportCsvHeader(LEDGER_EXPORT_ENTRY_COLUMNS));
  private readonly entriesNdjson = new FileDigest();
  private readonly balancesCsv = new FileDigest(ledgerExportCsvHeader(LEDGER_EXPORT_BALANCE_COLUMNS));
  private readonly trialBalanceCsv = new FileDigest(ledgerExportCsvHeader(LEDGER_EXPORT_TRIAL_BALANCE_COLUMNS));
  private readonly currencies = new Map<string, CurrencySums>();
  private accounts = 0;
  private entries = 0;

  addAccount(account: LedgerExportBalance): void {
    this.balancesCsv.add(ledgerExportBalanceCsvLine(account));
    this.trialBalanceCsv.add(ledgerExportTrialBalanceCsvLine(account));
    const sums = this.sumsOf(account.currency, account.currencyExponent);
    sums.accounts += 1;
    sums.openingDebitsPosted += BigInt(account.opening.debitsPosted);
    sums.openingCreditsPosted += BigInt(account.opening.creditsPosted);
    sums.closingDebitsPosted += BigInt(account.closing.debitsPosted);
    sums.closingCreditsPosted += BigInt(account.closing.creditsPosted);
    this.accounts += 1;
  }

  /** An entry of an account already added (entries come after their account, in export order). */
  addEntry(entry: LedgerExportEntry): void {
    this.entriesCsv.add(ledgerExportEntryCsvLine(entry));
    this.entriesNdjson.add(ledgerExportEntryJsonLine(entry));
    const sums = this.currencies.get(entry.currency);
    if (sums === undefined) throw new Error(`entry ${entry.seq} came before any account in ${entry.currency}`);
    if (entry.direction === 'debit') sums.periodDebits += BigInt(entry.postedAmount);
    else sums.periodCredits += BigInt(entry.postedAmount);
    this.entries += 1;
  }

  manifest(identity: ExportIdentity): LedgerExportManifest {
    const trialBalance: LedgerExportCurrencyTotals[] = [...this.currencies.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([currency, sums]) => ({
        currency,
        currencyExponent: sums.currencyExponent,
        accounts: sums.accounts,
        openingDebitsPosted: sums.openingDebitsPosted.toString(),
        openingCreditsPosted: sums.openingCreditsPosted.toString(),
        periodDebits: sums.periodDebits.toString(),
        periodCredits: sums.periodCredits.toString(),
        closingDebitsPosted: sums.closingDebitsPosted.toString(),
        closingCreditsPosted: sums.closingCreditsPosted.toString(),
      }));
    return {
      format: LEDGER_EXPORT_FORMAT,
      ...identity,
      accounts: this.accounts,
      entries: this.entries,
      trialBalance,
      files: {
        [LEDGER_EXPORT_FILES.entriesCsv]: this.entriesCsv.finish(),
        [LEDGER_EXPORT_FILES.entriesNdjson]: this.entriesNdjson.finish(),
        [LEDGER_EXPORT_FILES.balancesCsv]: this.balancesCsv.finish(),
        [LEDGER_EXPORT_FILES.trialBalanceCsv]: this.trialBalanceCsv.finish(),
      },
    };
  }

  private sumsOf(currency: string, currencyExponent: number): CurrencySums {
    let sums = this.currencies.get(currency);
    if (sums === undefined) {
      sums = {
        currencyExponent,
        accounts: 0,
        openingDebitsPosted: 0n,
        openingCreditsPosted: 0n,
        periodDebits: 0n,
        periodCredits: 0n,
        closingDebitsPosted: 0n,
        closingCreditsPosted: 0n,
      };
      this.currencies.set(currency, sums);
    }
    return sums;
  }
}
