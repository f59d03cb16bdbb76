import {
  canonicalJson,
  type LedgerBalances,
  type LedgerExportBalance,
  type LedgerExportCurrencyTotals,
  type LedgerExportEntry,
  type LedgerExportManifest,
} from '@strongroom/contracts';

/** At most this many problems are described; the rest are counted (a broken file can hold millions). */
export const PROBLEMS_DESCRIBED_MAX = 100;

/** What a verification found wrong, in the order found. */
export class ProblemList {
  readonly described: string[] = [];
  count = 0;

  add(problem: string): void {
    this.count += 1;
    if (this.described.length < PROBLEMS_DESCRIBED_MAX) this.described.push(problem);
  }
}

type Balances = Record<keyof LedgerBalances, bigint>;
const SIDES = ['debitsPosted', 'creditsPosted', 'debitsPending', 'creditsPending'] as const;

const balancesOf = (balances: LedgerBalances): Balances => ({
  debitsPosted: BigInt(balances.debitsPosted),
  creditsPosted: BigInt(balances.creditsPosted),
  debitsPending: BigInt(balances.debitsPending),
  creditsPending: BigInt(balances.creditsPending),
});

const balancesAfterOf = (entry: LedgerExportEntry): Balances => ({
  debitsPosted: BigInt(entry.debitsPostedAfter),
  creditsPosted: BigInt(entry.creditsPostedAfter),
  debitsPending: BigInt(entry.debitsPendingAfter),
  creditsPending: BigInt(entry.creditsPendingAfter),
});

/** The balances an entry's change leads to from `before`. */
function applyEntry(before: Balances, entry: LedgerExportEntry): Balances {
  const debit = entry.direction === 'debit';
  const posted = BigInt(entry.postedAmount);
  const pending = BigInt(entry.pendingChange);
  return {
    debitsPosted: before.debitsPosted + (debit ? posted : 0n),
    creditsPosted: before.creditsPosted + (debit ? 0n : posted),
    debitsPending: before.debitsPending + (debit ? pending : 0n),
    creditsPending: before.creditsPending + (debit ? 0n : pending),
  };
}

/** `debitsPosted 1050 ≠ 1051, …`: the sides on which two balances differ. */
function differences(expected: Balances, found: Balances): string {
  return SIDES.filter((side) => expected[side] !== found[side])
    .map((side) => `${side} ${expected[side]} expected, ${found[side]} found`)
    .join('; ');
}

interface CurrencyTally {
  currencyExponent: number;
  accounts: number;
  openingDebitsPosted: bigint;
  openingCreditsPosted: bigint;
  periodDebits: bigint;
  periodCredits: bigint;
  closingDebitsPosted: bigint;
  closingCreditsPosted: bigint;
}

/**
 * The checks that make an export reconcile to the cent, run as it streams by in export order
 * (each account, then its entries): every entry's balances follow from the previous ones and its
 * change; each account's opening plus its entries is its closing; per currency, debits equal
 * credits at the opening, over the period and at the closing, and the manifest says the same.
 * Memory: one account and one tally per currency.
 */
export class AccountReconciliation {
  private readonly currencies = new Map<string, CurrencyTally>();
  private account: LedgerExportBalance | undefined;
  private running: Balances | undefined;
  private last: { at: number; seq: bigint } | undefined;
  private accounts = 0;
  private entries = 0;
  private readonly fromMs: number;
  private readonly toMs: number;

  constructor(
    private readonly manifest: LedgerExportManifest,
    private readonly problems: ProblemList,
  ) {
    this.fromMs = Date.parse(manifest.from);
    this.toMs = Date.parse(manifest.to);
  }

  openAccount(account: LedgerExportBalance): void {
    this.closeAccount();
    this.account = account;
    this.running = balancesOf(account.opening);
    this.last = undefined;
    this.accounts += 1;
    const tally = this.tallyOf(account);
    tally.accounts += 1;
    tally.openingDebitsPosted += BigInt(account.opening.debitsPosted);
    tally.openingCreditsPosted += BigInt(account.opening.creditsPosted);
    tally.closingDebitsPosted += BigInt(account.closing.debitsPosted);
    tally.closingCreditsPosted += BigInt(account.closing.creditsPosted);
  }

  /** An entry of the account opened last (the caller matched it by account id). */
  entry(entry: LedgerExportEntry): void {
    const account = this.account;
    const running = this.running;
    if (account === undefined || running === undefined) throw new Error('an entry before any account');
    this.entries += 1;
    const name = `entry ${entry.seq} (account ${account.code}, transfer ${entry.transferId})`;
    if (entry.accountCode !== account.code || entry.currency !== account.currency) {
      this.problems.add(`${name}: its account code or currency is not the account's in balances.csv`);
    }
    const at = Date.parse(entry.occurredAt);
    if (at < this.fromMs || at >= this.toMs)
      this.problems.add(`${name}: its time ${entry.occurredAt} is outside the period`);
    const seq = BigInt(entry.seq);
    if (this.last !== undefined && (at < this.last.at || (at === this.last.at && seq <= this.last.seq))) {
      this.problems.add(`${name}: it is out of time order within its account`);
    }
    this.last = { at, seq };
    const expected = applyEntry(running, entry);
    const found = balancesAfterOf(entry);
    const difference = differences(expected, found);
    if (difference !== '') {
      this.problems.add(
        `${name}: its balances after do not follow from the previous ones and its change (${difference})`,
      );
    }
    // Later entries are checked against what this one says, so one bad entry is reported once.
    this.running = found;
    const tally = this.tallyOf(account);
    if (entry.direction === 'debit') tally.periodDebits += BigInt(entry.postedAmount);
    else tally.periodCredits += BigInt(entry.postedAmount);
  }

  /** After the last account: the trial balance per currency and the counts, against the manifest. */
  finish(): void {
    this.closeAccount();
    if (this.accounts !== this.manifest.accounts) {
      this.problems.add(`the export holds ${this.accounts} accounts, the manifest says ${this.manifest.accounts}`);
    }
    if (this.entries !== this.manifest.entries) {
      this.problems.add(`the export holds ${this.entries} entries, the manifest says ${this.manifest.entries}`);
    }
    const signed = new Map(this.manifest.trialBalance.map((totals) => [totals.currency, totals]));
    for (const [currency, tally] of this.currencies) {
      this.checkTrialBalance(currency, tally);
      const totals = signed.get(currency);
      if (totals === undefined || canonicalJson(totals) !== canonicalJson(totalsOf(currency, tally))) {
        this.problems.add(`trial balance ${currency}: the manifest's totals are not those of the files`);
      }
      signed.delete(currency);
    }
    for (const currency of signed.keys()) {
      this.problems.add(`trial balance ${currency}: in the manifest, but no account of the files holds it`);
    }
  }

  private checkTrialBalance(currency: string, tally: CurrencyTally): void {
    const pairs = [
      ['at the opening', tally.openingDebitsPosted, tally.openingCreditsPosted],
      ['over the period', tally.periodDebits, tally.periodCredits],
      ['at the closing', tally.closingDebitsPosted, tally.closingCreditsPosted],
    ] as const;
    for (const [when, debits, credits] of pairs) {
      if (debits !== credits) {
        this.problems.add(`trial balance ${currency}: debits ${debits} and credits ${credits} differ ${when}`);
      }
    }
    if (tally.openingDebitsPosted + tally.periodDebits !== tally.closingDebitsPosted) {
      this.problems.add(`trial balance ${currency}: opening debits plus the period's are not the closing debits`);
    }
    if (tally.openingCreditsPosted + tally.periodCredits !== tally.closingCreditsPosted) {
      this.problems.add(`trial balance ${currency}: opening credits plus the period's are not the closing credits`);
    }
  }

  private closeAccount(): void {
    const { account, running } = this;
    if (account === undefined || running === undefined) return;
    const difference = differences(balancesOf(account.closing), running);
    if (difference !== '') {
      this.problems.add(
        `account ${account.code} (${account.accountId}): its opening balances and its entries do not add up to its closing balances (${difference})`,
      );
    }
    this.account = undefined;
    this.running = undefined;
  }

  private tallyOf(account: LedgerExportBalance): CurrencyTally {
    let tally = this.currencies.get(account.currency);
    if (tally === undefined) {
      tally = {
        currencyExponent: account.currencyExponent,
        accounts: 0,
        openingDebitsPosted: 0n,
        openingCreditsPosted: 0n,
        periodDebits: 0n,
        periodCredits: 0n,
        closingDebitsPosted: 0n,
        closingCreditsPosted: 0n,
      };
      this.currencies.set(account.currency, tally);
    }
    return tally;
  }
}

function totalsOf(currency: string, tally: CurrencyTally): LedgerExportCurrencyTotals {
  return {
    currency,
    currencyExponent: tally.currencyExponent,
    accounts: tally.accounts,
    openingDebitsPosted: tally.openingDebitsPosted.toString(),
    openingCreditsPosted: tally.openingCreditsPosted.toString(),
    periodDebits: tally.periodDebits.toString(),
    periodCredits: tally.periodCredits.toString(),
    closingDebitsPosted: tally.closingDebitsPosted.toString(),
    closingCreditsPosted: tally.closingCreditsPosted.toString(),
  };
}

/**
 * Walks the accounts and the entries together, both in export order: each account is followed by
 * its entries; an entry whose account is not the current one ends that account's entries.
 */
export async function reconcileAccounts(
  manifest: LedgerExportManifest,
  accounts: AsyncIterable<LedgerExportBalance>,
  entries: AsyncIterable<LedgerExportEntry>,
  problems: ProblemList,
): Promise<void> {
  const reconciliation = new AccountReconciliation(manifest, problems);
  const pending = entries[Symbol.asyncIterator]();
  try {
    let next = await pending.next();
    for await (const account of accounts) {
      reconciliation.openAccount(account);
      while (!next.done && next.value.accountId === account.accountId) {
        reconciliation.entry(next.value);
        next = await pending.next();
      }
    }
    reconciliation.finish();
    for (; !next.done; next = await pending.next()) {
      problems.add(
        `entry ${next.value.seq}: its account ${next.value.accountId} is not in balances.csv, or its entries are out of export order`,
      );
    }
  } finally {
    // The entries' files are closed when the accounts' reading stops early.
    await pending.return?.();
  }
}
