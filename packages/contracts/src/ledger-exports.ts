import { z } from 'zod';
import { defineEvent, defineRequest } from './contract';
import {
  entrySeqSchema,
  ledgerAccountIdSchema,
  ledgerAccountTypeSchema,
  ledgerBalancesSchema,
} from './ledger-accounts';
import { balanceMinorSchema } from './ledger-money';
import { tenantIdSchema } from './tenants';
import { environmentSchema } from './tokens';

/**
 * Audit exports of a period (seed 001: "quarterly audit exports are one click and reconcile to
 * the cent"). The ledger signs a manifest (balances, trial balance, counts, the SHA-256 of every
 * file); the files themselves are assembled by the client from cursor-paged calls, so no bus
 * message grows with the period (a quarter may hold millions of entries; NATS max_payload is
 * 8 MiB). The files' byte format is in ledger-export-format.ts.
 */
export const LEDGER_EXPORT_FORMAT = 'strongroom.ledger-export.v1';
/** The longest period one export covers: a year (a quarter is the seed's case). */
export const LEDGER_EXPORT_PERIOD_DAYS_MAX = 366;
/** Rows per page of entries or balances: about 500 bytes each, well under the bus's 8 MiB max_payload. */
export const LEDGER_EXPORT_PAGE_LIMIT_MAX = 1_000;

/** The files of an export directory; the manifest carries the digest of the first four. */
export const LEDGER_EXPORT_FILES = {
  entriesCsv: 'entries.csv',
  entriesNdjson: 'entries.ndjson',
  balancesCsv: 'balances.csv',
  trialBalanceCsv: 'trial-balance.csv',
  manifest: 'manifest.json',
  signature: 'manifest.sig',
  publicKey: 'public-key.json',
} as const;
/**
 * The platform's Ed25519 Transit key that signs export manifests; a verifier accepts only keys so
 * named. Named `ledger-…`: the ledger's Vault policy may sign with and read the Transit keys so
 * named (infra/vault/init.sh creates it).
 */
export const LEDGER_EXPORT_SIGNING_KEY = 'ledger-export-signing';

export const LEDGER_EXPORT_DIGESTED_FILES = [
  LEDGER_EXPORT_FILES.entriesCsv,
  LEDGER_EXPORT_FILES.entriesNdjson,
  LEDGER_EXPORT_FILES.balancesCsv,
  LEDGER_EXPORT_FILES.trialBalanceCsv,
] as const;

/** An entry's seq: a positive Postgres bigint. */
const sequenceSchema = entrySeqSchema;
const signedMinorSchema = z.string().regex(/^-?(0|[1-9][0-9]{0,18})$/);
const accountCodeSchema = z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/);
const currencyCodeSchema = z.string().regex(/^[A-Z]{3}$/);
/** An instant as the export writes it: ISO 8601, UTC, milliseconds (entry times are milliseconds). */
const instantSchema = z.iso.datetime({ precision: 3 });
/**
 * Any ISO 8601 instant a caller sends, normalized to the export's form. An offset may carry
 * 0001-01-01T00:00+01:00 into year 0 or 9999-12-31T23:00-05:00 into year 10000: Postgres refuses
 * both, and the export form has four-digit years, so the normalized instant must lie in 0001–9999.
 */
const periodBoundSchema = z.iso
  .datetime({ offset: true })
  .transform((value) => new Date(value).toISOString())
  .refine((value) => /^(?!0000)[0-9]{4}-/.test(value), 'a period bound lies in the years 0001–9999 (UTC)');

const periodFields = {
  tenantId: tenantIdSchema,
  /** Start of the period, inclusive. */
  from: periodBoundSchema,
  /** End of the period, exclusive; it must have passed (an export never covers the future). */
  to: periodBoundSchema,
};

function checkPeriod(period: { from: string; to: string }, context: z.RefinementCtx): void {
  const lengthMs = Date.parse(period.to) - Date.parse(period.from);
  if (lengthMs <= 0) context.addIssue({ code: 'custom', path: ['to'], message: '`to` must be later than `from`' });
  if (lengthMs > LEDGER_EXPORT_PERIOD_DAYS_MAX * 86_400_000) {
    context.addIssue({
      code: 'custom',
      path: ['to'],
      message: `a period covers at most ${LEDGER_EXPORT_PERIOD_DAYS_MAX} days`,
    });
  }
}

/** One entry of the period: an account's balance change and its four balances after it. */
export const ledgerExportEntrySchema = z
  .object({
    seq: sequenceSchema,
    occurredAt: instantSchema,
    transferId: z.uuid(),
    accountId: ledgerAccountIdSchema,
    accountCode: accountCodeSchema,
    currency: currencyCodeSchema,
    direction: z.enum(['debit', 'credit']),
    postedAmount: balanceMinorSchema,
    pendingChange: signedMinorSchema,
    debitsPostedAfter: balanceMinorSchema,
    creditsPostedAfter: balanceMinorSchema,
    debitsPendingAfter: balanceMinorSchema,
    creditsPendingAfter: balanceMinorSchema,
  })
  .strict();
export type LedgerExportEntry = z.infer<typeof ledgerExportEntrySchema>;

/** An account of the period: balances after its last entry before `from` (opening) and before `to` (closing). */
export const ledgerExportBalanceSchema = z
  .object({
    accountId: ledgerAccountIdSchema,
    code: accountCodeSchema,
    type: ledgerAccountTypeSchema,
    currency: currencyCodeSchema,
    currencyExponent: z.number().int().min(0).max(4),
    opening: ledgerBalancesSchema,
    closing: ledgerBalancesSchema,
  })
  .strict();
export type LedgerExportBalance = z.infer<typeof ledgerExportBalanceSchema>;

/** A currency's trial balance: debits equal credits at the opening, over the period and at the closing. */
export const ledgerExportCurrencyTotalsSchema = z
  .object({
    currency: currencyCodeSchema,
    currencyExponent: z.number().int().min(0).max(4),
    accounts: z.number().int().nonnegative(),
    openingDebitsPosted: z.string().regex(/^(0|[1-9][0-9]*)$/),
    openingCreditsPosted: z.string().regex(/^(0|[1-9][0-9]*)$/),
    periodDebits: z.string().regex(/^(0|[1-9][0-9]*)$/),
    periodCredits: z.string().regex(/^(0|[1-9][0-9]*)$/),
    closingDebitsPosted: z.string().regex(/^(0|[1-9][0-9]*)$/),
    closingCreditsPosted: z.string().regex(/^(0|[1-9][0-9]*)$/),
  })
  .strict();
export type LedgerExportCurrencyTotals = z.infer<typeof ledgerExportCurrencyTotalsSchema>;

const fileDigestSchema = z
  .object({ sha256: z.string().regex(/^[0-9a-f]{64}$/), bytes: z.number().int().nonnegative() })
  .strict();
export type LedgerExportFileDigest = z.infer<typeof fileDigestSchema>;

/** What the platform key signs, as canonicalJson bytes (manifest.json holds exactly those bytes). */
export const ledgerExportManifestSchema = z
  .object({
    format: z.literal(LEDGER_EXPORT_FORMAT),
    exportId: z.uuid(),
    tenantId: tenantIdSchema,
    environment: environmentSchema,
    from: instantSchema,
    to: instantSchema,
    createdAt: instantSchema,
    accounts: z.number().int().nonnegative(),
    entries: z.number().int().nonnegative(),
    /** One per currency, in currency order. */
    trialBalance: z.array(ledgerExportCurrencyTotalsSchema),
    files: z.record(z.enum(LEDGER_EXPORT_DIGESTED_FILES), fileDigestSchema),
  })
  .strict();
export type LedgerExportManifest = z.infer<typeof ledgerExportManifestSchema>;

/** The Ed25519 public key that signed a manifest, for offline verification (a Transit key version). */
export const ledgerExportSigningKeySchema = z
  .object({
    /** LEDGER_EXPORT_SIGNING_KEY. */
    name: z.string(),
    version: z.number().int().positive(),
    algorithm: z.literal('Ed25519'),
    /** The raw 32-byte public key, base64. */
    publicKey: z.string(),
  })
  .strict();
export type LedgerExportSigningKey = z.infer<typeof ledgerExportSigningKeySchema>;

export const createLedgerExport = defineRequest({
  subject: 'ledger.v1.exports.create',
  request: z.object(periodFields).strict().superRefine(checkPeriod),
  response: z.object({
    manifest: ledgerExportManifestSchema,
    /** Transit form `vault:v<version>:<base64>` (or `local:`): an Ed25519 signature of manifest.json. */
    signature: z.string(),
    signingKey: ledgerExportSigningKeySchema,
  }),
  permission: 'ledger.exports.create',
  summary:
    "Sign the manifest of a period's export: opening and closing balances, trial balance per currency, entry count and the SHA-256 of each file, read in one snapshot",
});

export const listLedgerExportEntries = defineRequest({
  subject: 'ledger.v1.exports.entries',
  request: z
    .object({
      ...periodFields,
      limit: z.number().int().min(1).max(LEDGER_EXPORT_PAGE_LIMIT_MAX).default(LEDGER_EXPORT_PAGE_LIMIT_MAX),
      /** The `nextCursor` of the previous page. */
      cursor: sequenceSchema.optional(),
    })
    .strict()
    .superRefine(checkPeriod),
  response: z.object({ entries: z.array(ledgerExportEntrySchema), nextCursor: z.string().nullable() }),
  permission: 'ledger.exports.create',
  summary: "A page of the period's entries in export order (account code, then time), for entries.csv and .ndjson",
});

export const listLedgerExportBalances = defineRequest({
  subject: 'ledger.v1.exports.balances',
  request: z
    .object({
      ...periodFields,
      limit: z.number().int().min(1).max(LEDGER_EXPORT_PAGE_LIMIT_MAX).default(LEDGER_EXPORT_PAGE_LIMIT_MAX),
      /** The `nextCursor` of the previous page. */
      cursor: accountCodeSchema.optional(),
    })
    .strict()
    .superRefine(checkPeriod),
  response: z.object({ accounts: z.array(ledgerExportBalanceSchema), nextCursor: z.string().nullable() }),
  permission: 'ledger.exports.create',
  summary: "A page of the period's accounts with opening and closing balances, for balances.csv and trial-balance.csv",
});

/**
 * Every version of the export signing key, oldest first: a verifier pins these (fetched once over
 * an authenticated channel) instead of trusting the public-key.json shipped beside a signature.
 */
export const getLedgerExportSigningKeys = defineRequest({
  subject: 'ledger.v1.exports.signing-keys',
  request: z.object({ tenantId: tenantIdSchema }).strict(),
  response: z.object({ keys: z.array(ledgerExportSigningKeySchema) }),
  permission: 'ledger.exports.create',
  summary: 'The public keys (every version) of the platform key that signs ledger export manifests',
});

/** Who exported which period of a ledger (the audit trail records it: the export is the whole ledger). */
export const ledgerExportCreated = defineEvent({
  subject: 'evt.ledger.v1.exports.created',
  payload: z.object({
    tenantId: tenantIdSchema,
    environment: environmentSchema,
    exportId: z.uuid(),
    from: instantSchema,
    to: instantSchema,
    entries: z.number().int().nonnegative(),
    /** SHA-256 of manifest.json, hex. */
    manifestSha256: z.string().regex(/^[0-9a-f]{64}$/),
    actor: z.string(),
    occurredAt: instantSchema,
  }),
  summary: "A period of a tenant's ledger was exported (its signed manifest's digest)",
});
