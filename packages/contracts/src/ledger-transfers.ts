import { z } from 'zod';
import { defineEvent, defineRequest } from './contract';
import {
  LEDGER_PAGE_LIMIT_DEFAULT,
  LEDGER_PAGE_LIMIT_MAX,
  ledgerAccountIdSchema,
  ledgerMetadataSchema,
  storableText,
} from './ledger-accounts';
import { amountMinorSchema, currencySchema, minorUnitsOf } from './ledger-money';
import type { Permission } from './permissions';
import { tenantIdSchema } from './tenants';
import { environmentSchema } from './tokens';

/** TigerBeetle's batch size: one call carries at most this many transfers. */
export const TRANSFER_BATCH_MAX = 8_190;
/** A transfer moves money between 2 and this many accounts. */
export const POSTINGS_PER_TRANSFER_MAX = 16;
/** A pending transfer expires after at most this long (30 days); 0 = never. */
export const PENDING_TIMEOUT_SECONDS_MAX = 30 * 86_400;
export const TRANSFER_REFERENCE_LENGTH_MAX = 128;

/** Lower-cased on receipt, like account ids: a retry in another letter case is the same transfer. */
export const transferIdSchema = z.uuid().toLowerCase();
export const postingDirectionSchema = z.enum(['debit', 'credit']);

export const postingSchema = z
  .object({
    accountId: ledgerAccountIdSchema,
    direction: postingDirectionSchema,
    amount: amountMinorSchema,
    /** Must be the account's currency (`currency_mismatch` otherwise). */
    currency: currencySchema,
  })
  .strict();
export type Posting = z.infer<typeof postingSchema>;

/**
 * What a transfer is for; audit records tag allocations, redemptions and settlements (seed 001)
 * and a report can group by it. It changes nothing in how the transfer is applied.
 */
export const TRANSFER_CATEGORIES = [
  'allocation',
  'redemption',
  'settlement',
  'disbursement',
  'repayment',
  'fee',
  'interest',
  'adjustment',
  'other',
] as const;
export const transferCategorySchema = z.enum(TRANSFER_CATEGORIES);

const commonFields = {
  /** Chosen by the client: the same transfer sent again is answered `exists`, never applied twice. */
  id: transferIdSchema,
  category: transferCategorySchema.default('other'),
  /** The client's own reference (loan id, voucher id); transfers can be looked up by it. */
  reference: z
    .string()
    .min(1)
    .max(TRANSFER_REFERENCE_LENGTH_MAX)
    .refine(storableText, 'no NUL or lone surrogate')
    .optional(),
  metadata: ledgerMetadataSchema.default({}),
  /** Chains this transfer to the next one of the batch: a chain succeeds or fails as a whole. */
  linked: z.boolean().default(false),
};

function balancedPerCurrency(postings: readonly Posting[]): boolean {
  const net = new Map<string, bigint>();
  for (const posting of postings) {
    // A malformed amount is reported by its own schema; here it counts as nothing.
    const amount = minorUnitsOf(posting.amount) ?? 0n;
    const signed = posting.direction === 'debit' ? amount : -amount;
    net.set(posting.currency, (net.get(posting.currency) ?? 0n) + signed);
  }
  return [...net.values()].every((sum) => sum === 0n);
}

function distinctAccounts(postings: readonly Posting[]): boolean {
  return new Set(postings.map((posting) => posting.accountId)).size === postings.length;
}

/** Postings of a new transfer: balanced per currency (debits = credits), each account once. */
const postingsSchema = z
  .array(postingSchema)
  .min(2)
  .max(POSTINGS_PER_TRANSFER_MAX)
  .refine(distinctAccounts, 'each account appears in at most one posting of a transfer')
  .refine(balancedPerCurrency, 'debits must equal credits in every currency');

export const transferCommandSchema = z.discriminatedUnion('type', [
  /** Moves money now. */
  z.object({ type: z.literal('immediate'), ...commonFields, postings: postingsSchema }).strict(),
  /** Reserves money (pending balances) until posted, voided or expired. */
  z
    .object({
      type: z.literal('pending'),
      ...commonFields,
      postings: postingsSchema,
      timeoutSeconds: z.number().int().min(0).max(PENDING_TIMEOUT_SECONDS_MAX).default(0),
    })
    .strict(),
  /**
   * Posts a pending transfer: in full, or in part when `postings` name the same accounts and
   * directions with amounts no larger (the rest is released).
   */
  z
    .object({
      type: z.literal('post_pending'),
      ...commonFields,
      pendingId: transferIdSchema,
      postings: postingsSchema.optional(),
    })
    .strict(),
  /** Releases a pending transfer's reservation. */
  z.object({ type: z.literal('void_pending'), ...commonFields, pendingId: transferIdSchema }).strict(),
  /** Compensates a posted transfer in full (the ledger writes the mirror postings); once per transfer. */
  z.object({ type: z.literal('reversal'), ...commonFields, reversesId: transferIdSchema }).strict(),
]);
export type TransferCommand = z.infer<typeof transferCommandSchema>;
export type TransferCommandInput = z.input<typeof transferCommandSchema>;

/** Expiry of a pending transfer, written by the ledger itself, never sent by a client. */
export const TRANSFER_TYPES = ['immediate', 'pending', 'post_pending', 'void_pending', 'reversal', 'expiry'] as const;
export const transferTypeSchema = z.enum(TRANSFER_TYPES);
export type TransferType = z.infer<typeof transferTypeSchema>;

/**
 * The outcome of one transfer of a batch. `ok`: applied now. `exists`: the same transfer was
 * applied before (a retry). Every other code applied nothing; `linked_event_failed` marks the
 * rest of a chain one of whose transfers failed.
 */
export const TRANSFER_RESULTS = [
  'ok',
  'exists',
  'id_already_used',
  'linked_event_failed',
  'account_not_found',
  'account_closed',
  'currency_mismatch',
  'insufficient_funds',
  'credit_limit_exceeded',
  'overflow',
  'pending_transfer_not_found',
  'pending_transfer_already_posted',
  'pending_transfer_already_voided',
  'pending_transfer_expired',
  'postings_must_match_pending',
  'post_exceeds_pending_amount',
  'reversal_target_not_found',
  'reversal_target_not_posted',
  'transfer_already_reversed',
] as const;
export const transferResultCodeSchema = z.enum(TRANSFER_RESULTS);
export type TransferResultCode = z.infer<typeof transferResultCodeSchema>;

/**
 * How the single-transfer call answers a refusal: a result naming something missing is
 * NOT_FOUND, every other one CONFLICT (its `reason` is the code in capitals). A new result code
 * must be given one here.
 */
export const TRANSFER_REFUSAL_ERRORS: Readonly<
  Record<Exclude<TransferResultCode, 'ok' | 'exists'>, 'NOT_FOUND' | 'CONFLICT'>
> = {
  id_already_used: 'CONFLICT',
  linked_event_failed: 'CONFLICT',
  account_not_found: 'NOT_FOUND',
  account_closed: 'CONFLICT',
  currency_mismatch: 'CONFLICT',
  insufficient_funds: 'CONFLICT',
  credit_limit_exceeded: 'CONFLICT',
  overflow: 'CONFLICT',
  pending_transfer_not_found: 'NOT_FOUND',
  pending_transfer_already_posted: 'CONFLICT',
  pending_transfer_already_voided: 'CONFLICT',
  pending_transfer_expired: 'CONFLICT',
  postings_must_match_pending: 'CONFLICT',
  post_exceeds_pending_amount: 'CONFLICT',
  reversal_target_not_found: 'NOT_FOUND',
  reversal_target_not_posted: 'CONFLICT',
  transfer_already_reversed: 'CONFLICT',
};

/** A reversal corrects the books: besides the contract's ledger.transfers.create, it needs this. */
export const REVERSE_TRANSFERS_PERMISSION = 'ledger.transfers.reverse' satisfies Permission;

export const transferResultSchema = z.object({
  id: transferIdSchema,
  result: transferResultCodeSchema,
  /** For `insufficient_funds`, `account_closed`, …: the account that refused it. */
  accountId: ledgerAccountIdSchema.optional(),
});
export type TransferResult = z.infer<typeof transferResultSchema>;

/** One transfer as stored: `postings` are the amounts it moved (for a partial post, the posted part). */
export const transferSchema = z.object({
  tenantId: tenantIdSchema,
  id: transferIdSchema,
  type: transferTypeSchema,
  category: transferCategorySchema,
  reference: z.string().nullable(),
  metadata: z.record(z.string(), z.string()),
  postings: z.array(postingSchema),
  pendingId: transferIdSchema.nullable(),
  reversesId: transferIdSchema.nullable(),
  /** A pending transfer's state: open, or how it ended (posted, voided, expired). */
  pendingStatus: z.enum(['open', 'posted', 'voided', 'expired']).nullable(),
  expiresAt: z.iso.datetime().nullable(),
  /** The compensating transfer, once reversed. */
  reversedBy: transferIdSchema.nullable(),
  createdAt: z.iso.datetime(),
});
export type Transfer = z.infer<typeof transferSchema>;

export const createTransfers = defineRequest({
  subject: 'ledger.v1.transfers.create-batch',
  request: z
    .object({
      tenantId: tenantIdSchema,
      transfers: z
        .array(transferCommandSchema)
        .min(1)
        .max(TRANSFER_BATCH_MAX)
        .refine((transfers) => new Set(transfers.map((transfer) => transfer.id)).size === transfers.length, {
          message: 'transfer ids must be distinct within a batch',
        })
        .refine((transfers) => !transfers[transfers.length - 1]?.linked, {
          message: 'the last transfer of a batch cannot be linked: its chain would be open',
        }),
    })
    .strict(),
  response: z.object({ results: z.array(transferResultSchema) }),
  permission: 'ledger.transfers.create',
  summary: 'Apply up to 8,190 transfers in one call, each with its own result; linked chains succeed or fail together',
});

export const createTransfer = defineRequest({
  subject: 'ledger.v1.transfers.create',
  request: z
    .object({
      tenantId: tenantIdSchema,
      // Single transfers of different callers are committed together: a chain would tie them to each other.
      transfer: transferCommandSchema.refine((transfer) => !transfer.linked, {
        message: 'a single transfer cannot be linked; send a chain as a batch',
      }),
    })
    .strict(),
  response: transferSchema,
  permission: 'ledger.transfers.create',
  summary:
    'Apply one transfer; a refusal is an error whose reason is the result code (insufficient_funds → 409, account_not_found → 404)',
});

export const getTransfer = defineRequest({
  subject: 'ledger.v1.transfers.get',
  request: z.object({ tenantId: tenantIdSchema, transferId: transferIdSchema }).strict(),
  response: transferSchema,
  permission: 'ledger.transfers.read',
  summary: 'Read a transfer by id',
});

export const findTransfersByReference = defineRequest({
  subject: 'ledger.v1.transfers.find',
  request: z
    .object({
      tenantId: tenantIdSchema,
      reference: z.string().min(1).max(TRANSFER_REFERENCE_LENGTH_MAX).refine(storableText, 'no NUL or lone surrogate'),
      limit: z.number().int().min(1).max(LEDGER_PAGE_LIMIT_MAX).default(LEDGER_PAGE_LIMIT_DEFAULT),
      /** The `nextCursor` of the previous page. */
      cursor: transferIdSchema.optional(),
    })
    .strict(),
  response: z.object({ transfers: z.array(transferSchema), nextCursor: z.string().nullable() }),
  permission: 'ledger.transfers.read',
  summary: 'Find the transfers carrying a reference, oldest first, cursor-paged',
});

/** Transfers of one transaction per event: the outbox and JetStream carry batches, not a message per transfer. */
export const TRANSFERS_PER_EVENT_MAX = 1_000;

/** One applied transfer as the audit trail records it. */
export const appliedTransferRecordSchema = z.object({
  transferId: transferIdSchema,
  type: transferTypeSchema,
  category: transferCategorySchema,
  reference: z.string().nullable(),
  postings: z.array(postingSchema),
  pendingId: transferIdSchema.nullable(),
  reversesId: transferIdSchema.nullable(),
  /** Who asked for it: a user, client or API key id, or `ledger` for an expiry. */
  actor: z.string(),
});
export type AppliedTransferRecord = z.infer<typeof appliedTransferRecordSchema>;

/**
 * The transfers one transaction applied, for the audit trail (seed 001: allocation, redemption
 * and settlement events): every one of them, with its category and actor, up to 1,000 per event
 * (a larger batch writes several). One event per transfer would cost the outbox and JetStream a
 * message each, more than the transfer itself; the audit service records each transfer.
 */
export const transfersApplied = defineEvent({
  subject: 'evt.ledger.v1.transfers.applied',
  payload: z.object({
    tenantId: tenantIdSchema,
    environment: environmentSchema,
    occurredAt: z.iso.datetime(),
    transfers: z.array(appliedTransferRecordSchema).min(1).max(TRANSFERS_PER_EVENT_MAX),
  }),
  summary: 'Transfers were applied to the ledger in one transaction (each with its category and actor)',
});
