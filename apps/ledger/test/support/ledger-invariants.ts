import { AMOUNT_MINOR_MAX } from '@strongroom/contracts';
import type { ModelAccount, ModelBalances } from './ledger-model';

/**
 * What must hold of any set of balances, whoever computed them: per currency, debits equal
 * credits (posted and pending apart); no balance below zero or above bigint; no account past
 * its limit. Returns what is broken (empty when nothing is).
 */
export function ledgerViolations(
  accounts: ReadonlyArray<ModelBalances & Omit<ModelAccount, keyof ModelBalances | 'closed'>>,
): string[] {
  const violations: string[] = [];
  const net = new Map<string, { posted: bigint; pending: bigint }>();
  for (const account of accounts) {
    const { debitsPosted, creditsPosted, debitsPending, creditsPending } = account;
    const sums = net.get(account.currency) ?? { posted: 0n, pending: 0n };
    net.set(account.currency, {
      posted: sums.posted + debitsPosted - creditsPosted,
      pending: sums.pending + debitsPending - creditsPending,
    });
    for (const balance of [debitsPosted, creditsPosted, debitsPending, creditsPending]) {
      if (balance < 0n || balance > AMOUNT_MINOR_MAX) violations.push(`${account.id}: balance ${balance} out of range`);
    }
    if (account.debitsMustNotExceedCredits && debitsPosted + debitsPending > creditsPosted) {
      violations.push(`${account.id}: debits exceed credits`);
    }
    if (account.creditsMustNotExceedDebits && creditsPosted + creditsPending > debitsPosted) {
      violations.push(`${account.id}: credits exceed debits`);
    }
  }
  for (const [currency, sums] of net) {
    if (sums.posted !== 0n || sums.pending !== 0n)
      violations.push(`${currency}: debits ≠ credits (${sums.posted}, ${sums.pending})`);
  }
  return violations;
}

/** The four balances of every account, by id, for comparing ledgers. */
export function balancesById(accounts: Iterable<ModelBalances & { id: string }>): Record<string, ModelBalances> {
  const byId: Record<string, ModelBalances> = {};
  for (const { id, debitsPosted, creditsPosted, debitsPending, creditsPending } of accounts) {
    byId[id] = { debitsPosted, creditsPosted, debitsPending, creditsPending };
  }
  return byId;
}
