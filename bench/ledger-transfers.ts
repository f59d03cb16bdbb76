import { randomUUID } from 'node:crypto';

/** One immediate transfer of the ledger bench: debit one account, credit another, in USD. */
export interface BenchTransfer {
  id: string;
  debitAccountId: string;
  creditAccountId: string;
  amountMinor: bigint;
}

/** The accounts a path's transfers move money between, and the one every hot-account transfer touches. */
export interface Book {
  accounts: readonly string[];
  hot: string;
}

/** The first id is the hot account, the others the many. */
export function bookOf(ids: readonly string[]): Book {
  if (ids.length < 3) throw new Error('a book needs a hot account and at least two others');
  return { accounts: ids.slice(1), hot: ids[0] as string };
}

/**
 * An endless, reproducible stream of transfers of 1–10,000 minor units between two distinct
 * accounts of `book`; with `hot`, the hot account is one of the two (debited and credited in turn).
 * The service and the floor draw the same sequence of account positions for the same seed.
 */
export function transfersOf(book: Book, hot: boolean, seed: number): () => BenchTransfer {
  const random = mulberry32(seed);
  const { accounts } = book;
  let index = 0;
  return () => {
    index += 1;
    const amountMinor = BigInt(1 + Math.floor(random() * 10_000));
    const first = Math.floor(random() * accounts.length);
    const other = accounts[first] as string;
    if (hot) {
      const [debitAccountId, creditAccountId] = index % 2 === 0 ? [book.hot, other] : [other, book.hot];
      return { id: randomUUID(), debitAccountId, creditAccountId, amountMinor };
    }
    const second = (first + 1 + Math.floor(random() * (accounts.length - 1))) % accounts.length;
    return { id: randomUUID(), debitAccountId: other, creditAccountId: accounts[second] as string, amountMinor };
  };
}

/** A small seeded PRNG (mulberry32): the same account positions on both paths, run after run. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
