import { z } from 'zod';
import { defineRequest } from './contract';
import { balanceMinorSchema, currencySchema } from './ledger-money';
import { tenantIdSchema } from './tenants';

/** Pages of accounts and entries (STYLE: a limit on everything). */
export const LEDGER_PAGE_LIMIT_MAX = 1_000;
export const LEDGER_PAGE_LIMIT_DEFAULT = 100;
/** Metadata stays small: it describes a record, it is not a document store. */
export const LEDGER_METADATA_KEYS_MAX = 32;
export const LEDGER_METADATA_VALUE_LENGTH_MAX = 512;

/** Lower-cased on receipt: Postgres answers uuids in lower case, and ids are compared as strings. */
/**
 * An instant a client names (as of, from, to): ISO 8601 with an offset, in years 0001–9999 once
 * in UTC (what Postgres timestamptz and toISOString() both hold; year 0000 or +10000 would fail
 * the query instead of the request).
 */
export const ledgerInstantSchema = z.iso.datetime({ offset: true }).refine((value) => {
  const year = new Date(value).getUTCFullYear();
  return year >= 1 && year <= 9_999;
}, 'an instant must fall in the years 0001–9999 (UTC)');

/** An entry's seq as a cursor: a positive Postgres bigint. */
export const entrySeqSchema = z
  .string()
  .regex(/^[1-9][0-9]{0,18}$/)
  // Refinements run after a failed regex in zod 4: only a well-formed value is turned into a bigint.
  .refine(
    (value) => !/^[0-9]+$/.test(value) || BigInt(value) <= 9_223_372_036_854_775_807n,
    'a cursor is at most 9223372036854775807',
  );

export const ledgerAccountIdSchema = z.uuid().toLowerCase();

/**
 * Text Postgres can store: no NUL character (text and jsonb refuse it) and no lone surrogate
 * (not valid UTF-8). Refused here as a validation error instead of failing the statement.
 */
export function storableText(value: string): boolean {
  return !value.includes('\u0000') && !LONE_SURROGATE.test(value);
}
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const STORABLE_TEXT_MESSAGE = 'text must not contain NUL characters or lone surrogates';

/** Free-form labels (loan id, programme, branch): string values, bounded in count and length. */
export const ledgerMetadataSchema = z
  .record(
    z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'a metadata key is 1–64 letters, digits, _ . : or -'),
    z.string().max(LEDGER_METADATA_VALUE_LENGTH_MAX).refine(storableText, STORABLE_TEXT_MESSAGE),
  )
  .refine((metadata) => Object.keys(metadata).length <= LEDGER_METADATA_KEYS_MAX, {
    message: `at most ${LEDGER_METADATA_KEYS_MAX} metadata keys`,
  });

/**
 * The five account types of double-entry bookkeeping. Asset and expense accounts carry a debit
 * balance, the others a credit balance (`normalBalance` says which side a report shows).
 */
export const LEDGER_ACCOUNT_TYPES = ['asset', 'liability', 'equity', 'income', 'expense'] as const;
export const ledgerAccountTypeSchema = z.enum(LEDGER_ACCOUNT_TYPES);
export type LedgerAccountType = z.infer<typeof ledgerAccountTypeSchema>;

export function normalBalanceOf(type: LedgerAccountType): 'debit' | 'credit' {
  return type === 'asset' || type === 'expense' ? 'debit' : 'credit';
}

/**
 * Balance limits, as TigerBeetle's account flags: with `debitsMustNotExceedCredits` a transfer
 * is refused (`insufficient_funds`) when posted plus pending debits would exceed posted credits
 * (a customer wallet cannot go negative); `creditsMustNotExceedDebits` is its mirror (a credit line).
 */
export const ledgerAccountFlagsSchema = z
  .object({
    debitsMustNotExceedCredits: z.boolean().default(false),
    creditsMustNotExceedDebits: z.boolean().default(false),
  })
  .strict()
  .refine((flags) => !(flags.debitsMustNotExceedCredits && flags.creditsMustNotExceedDebits), {
    message: 'an account may limit its debits or its credits, not both',
  });

export const ledgerBalancesSchema = z.object({
  debitsPosted: balanceMinorSchema,
  creditsPosted: balanceMinorSchema,
  debitsPending: balanceMinorSchema,
  creditsPending: balanceMinorSchema,
});
export type LedgerBalances = z.infer<typeof ledgerBalancesSchema>;

export const ledgerAccountSchema = z.object({
  tenantId: tenantIdSchema,
  id: ledgerAccountIdSchema,
  code: z.string(),
  name: z.string(),
  currency: z.string(),
  /** Minor-unit exponent of the currency (USD 2: an amount of 1050 is 10.50). */
  currencyExponent: z.number().int(),
  type: ledgerAccountTypeSchema,
  normalBalance: z.enum(['debit', 'credit']),
  flags: z.object({ debitsMustNotExceedCredits: z.boolean(), creditsMustNotExceedDebits: z.boolean() }),
  metadata: z.record(z.string(), z.string()),
  closed: z.boolean(),
  balances: ledgerBalancesSchema,
  createdAt: z.iso.datetime(),
});
export type LedgerAccount = z.infer<typeof ledgerAccountSchema>;

export const createLedgerAccount = defineRequest({
  subject: 'ledger.v1.accounts.create',
  request: z
    .object({
      tenantId: tenantIdSchema,
      /** Chosen by the client (retry-safe: the same account again returns it; different fields → CONFLICT). */
      id: ledgerAccountIdSchema.optional(),
      /** The tenant's own account code (chart of accounts), unique per tenant and environment. */
      code: z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'a code is 1–64 letters, digits, _ . : or -'),
      name: z.string().trim().min(1).max(200).refine(storableText, STORABLE_TEXT_MESSAGE),
      currency: currencySchema,
      type: ledgerAccountTypeSchema,
      flags: ledgerAccountFlagsSchema.default({ debitsMustNotExceedCredits: false, creditsMustNotExceedDebits: false }),
      metadata: ledgerMetadataSchema.default({}),
    })
    .strict(),
  response: ledgerAccountSchema,
  permission: 'ledger.accounts.create',
  summary: 'Open a ledger account in one currency',
});

export const getLedgerAccount = defineRequest({
  subject: 'ledger.v1.accounts.get',
  request: z.object({ tenantId: tenantIdSchema, accountId: ledgerAccountIdSchema }).strict(),
  response: ledgerAccountSchema,
  permission: 'ledger.accounts.read',
  summary: 'Read a ledger account with its current balances',
});

export const listLedgerAccounts = defineRequest({
  subject: 'ledger.v1.accounts.list',
  request: z
    .object({
      tenantId: tenantIdSchema,
      limit: z.number().int().min(1).max(LEDGER_PAGE_LIMIT_MAX).default(LEDGER_PAGE_LIMIT_DEFAULT),
      /** The `nextCursor` of the previous page. */
      cursor: ledgerAccountIdSchema.optional(),
      currency: currencySchema.optional(),
    })
    .strict(),
  response: z.object({ accounts: z.array(ledgerAccountSchema), nextCursor: z.string().nullable() }),
  permission: 'ledger.accounts.read',
  summary: "List a tenant's ledger accounts, cursor-paged",
});

export const closeLedgerAccount = defineRequest({
  subject: 'ledger.v1.accounts.close',
  request: z.object({ tenantId: tenantIdSchema, accountId: ledgerAccountIdSchema }).strict(),
  response: ledgerAccountSchema,
  permission: 'ledger.accounts.create',
  summary:
    'Close a ledger account: it takes no further transfers (CONFLICT while it has pending amounts); its history stays',
});

/** A balance now, or as of a past instant (the last entry at or before it). */
export const ledgerBalanceSchema = ledgerBalancesSchema.extend({
  accountId: ledgerAccountIdSchema,
  currency: z.string(),
  currencyExponent: z.number().int(),
  /** The instant the balance is for. */
  asOf: z.iso.datetime(),
  /** Posted balance on the account's normal side (credits − debits for a liability), may be negative. */
  postedNet: z.string().regex(/^-?(0|[1-9][0-9]*)$/),
});
export type LedgerBalance = z.infer<typeof ledgerBalanceSchema>;

export const getLedgerBalance = defineRequest({
  subject: 'ledger.v1.balances.get',
  request: z
    .object({
      tenantId: tenantIdSchema,
      accountId: ledgerAccountIdSchema,
      /** A past instant; absent: now. */
      asOf: ledgerInstantSchema.optional(),
    })
    .strict(),
  response: ledgerBalanceSchema,
  permission: 'ledger.accounts.read',
  summary: "Read an account's balance now or as of any past instant",
});

/**
 * One line of an account's history: a transfer's effect on it. `postedAmount` moved to the
 * posted balance on `direction`'s side; `pendingChange` reserved (> 0) or released (< 0) there.
 * The four balances after it make every line checkable against the one before.
 */
export const ledgerEntrySchema = z.object({
  seq: z.string(),
  transferId: z.uuid(),
  accountId: ledgerAccountIdSchema,
  direction: z.enum(['debit', 'credit']),
  postedAmount: balanceMinorSchema,
  pendingChange: z.string().regex(/^-?(0|[1-9][0-9]*)$/),
  balancesAfter: ledgerBalancesSchema,
  occurredAt: z.iso.datetime(),
});
export type LedgerEntry = z.infer<typeof ledgerEntrySchema>;

export const listLedgerEntries = defineRequest({
  subject: 'ledger.v1.entries.list',
  request: z
    .object({
      tenantId: tenantIdSchema,
      accountId: ledgerAccountIdSchema,
      limit: z.number().int().min(1).max(LEDGER_PAGE_LIMIT_MAX).default(LEDGER_PAGE_LIMIT_DEFAULT),
      /** The `nextCursor` of the previous page. */
      cursor: entrySeqSchema.optional(),
      from: ledgerInstantSchema.optional(),
      to: ledgerInstantSchema.optional(),
    })
    .strict(),
  response: z.object({ entries: z.array(ledgerEntrySchema), nextCursor: z.string().nullable() }),
  permission: 'ledger.accounts.read',
  summary: "An account's history, oldest first, cursor-paged, optionally within [from, to)",
});
