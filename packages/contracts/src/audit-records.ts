import { z } from 'zod';
import {
  auditCheckpointSchema,
  auditHashSchema,
  auditProblemSchema,
  auditRecordSchema,
  auditSeqSchema,
  auditSigningKeySchema,
} from './audit-chain';
import { AUDIT_ACTOR_TYPES, auditActionSchema, auditOutcomeSchema } from './audit-events';
import { defineRequest } from './contract';
import { ledgerInstantSchema } from './ledger-accounts';
import { tenantIdSchema } from './tenants';

/**
 * What a tenant's auditors do with the trail (issue 7): query, verify, checkpoints, exports and
 * legal holds. Every call is scoped to the caller's tenant (the platform's own principals may
 * name any); Postgres row-level security enforces it below the handler.
 */
export const AUDIT_PAGE_LIMIT_MAX = 1_000;
export const AUDIT_PAGE_LIMIT_DEFAULT = 100;
/** An export covers at most a year of records (a quarter or a month is the usual case). */
export const AUDIT_EXPORT_PERIOD_DAYS_MAX = 366;
export const AUDIT_EXPORT_FORMAT = 'strongroom.audit-export.v1';

/** A cursor is a record's seq, as the decimal string it is on the wire. */
const seqCursorSchema = z
  .string()
  .regex(/^[1-9][0-9]{0,15}$/, 'a cursor is the nextCursor of a previous page')
  .refine((value) => Number(value) <= Number.MAX_SAFE_INTEGER, 'a cursor is the nextCursor of a previous page');

/** A stored record: the record (parsed from the document) with the hash the chain holds for it. */
export const auditRecordViewSchema = z.object({
  record: auditRecordSchema,
  hash: auditHashSchema,
});
export type AuditRecordView = z.infer<typeof auditRecordViewSchema>;

export const listAuditRecords = defineRequest({
  subject: 'audit.v1.records.list',
  request: z
    .object({
      tenantId: tenantIdSchema,
      /** occurredAt within [from, to). */
      from: ledgerInstantSchema.optional(),
      to: ledgerInstantSchema.optional(),
      actorType: z.enum(AUDIT_ACTOR_TYPES).optional(),
      actorId: z.string().max(128).optional(),
      action: auditActionSchema.optional(),
      resourceType: z.string().max(64).optional(),
      resourceId: z.string().max(200).optional(),
      outcome: auditOutcomeSchema.optional(),
      requestId: z.string().max(128).optional(),
      limit: z.number().int().min(1).max(AUDIT_PAGE_LIMIT_MAX).default(AUDIT_PAGE_LIMIT_DEFAULT),
      /** The `nextCursor` of the previous page: records are listed newest first. */
      cursor: seqCursorSchema.optional(),
    })
    .strict(),
  response: z.object({ records: z.array(auditRecordViewSchema), nextCursor: z.string().nullable() }),
  permission: 'audit.records.read',
  summary: "Query a tenant's audit records, newest first, cursor-paged",
});

export const auditVerificationSchema = z.object({
  tenantId: tenantIdSchema,
  /** True when no problem was found: every record hashes, links and matches every signed checkpoint. */
  valid: z.boolean(),
  records: z.number().int().min(0),
  /** The chain verified from here (0 at genesis; the purge boundary after a purge). */
  startSeq: z.number().int().min(0),
  lastSeq: z.number().int().min(0),
  checkpoints: z.object({ checked: z.number().int().min(0), valid: z.number().int().min(0) }),
  problems: z.array(auditProblemSchema),
});
export type AuditVerification = z.infer<typeof auditVerificationSchema>;

export const verifyAuditChain = defineRequest({
  subject: 'audit.v1.chain.verify',
  request: z.object({ tenantId: tenantIdSchema }).strict(),
  response: auditVerificationSchema,
  permission: 'audit.records.read',
  summary: "Recompute a tenant's hash chain and check its signed checkpoints",
});

export const createAuditCheckpoint = defineRequest({
  subject: 'audit.v1.checkpoints.create',
  request: z.object({ tenantId: tenantIdSchema }).strict(),
  response: auditCheckpointSchema,
  permission: 'audit.records.export',
  summary: "Sign a checkpoint of the tenant's chain head now",
});

export const listAuditCheckpoints = defineRequest({
  subject: 'audit.v1.checkpoints.list',
  request: z
    .object({
      tenantId: tenantIdSchema,
      limit: z.number().int().min(1).max(AUDIT_PAGE_LIMIT_MAX).default(AUDIT_PAGE_LIMIT_DEFAULT),
      /** The `nextCursor` of the previous page: checkpoints are listed oldest first, by seq. */
      cursor: seqCursorSchema.optional(),
    })
    .strict(),
  response: z.object({ checkpoints: z.array(auditCheckpointSchema), nextCursor: z.string().nullable() }),
  permission: 'audit.records.read',
  summary: "A tenant's signed checkpoints, oldest first (a third party may hold copies)",
});

export const getAuditSigningKeys = defineRequest({
  subject: 'audit.v1.signing-keys.list',
  request: z.object({ tenantId: tenantIdSchema }).strict(),
  response: z.object({ keys: z.array(auditSigningKeySchema) }),
  permission: 'audit.records.read',
  summary: 'The public keys checkpoints are signed with (pin them to verify exports)',
});

/**
 * An export of a period: the seqs of the records recorded within [from, to), the hash the first
 * one follows, and a checkpoint signed at the last one. The records themselves are paged with
 * listAuditExportRecords; `strongroom audit export` writes records.ndjson (the hashed documents,
 * one per line), records.csv, and export.json (this answer).
 */
export const auditExportSchema = z.object({
  format: z.literal(AUDIT_EXPORT_FORMAT),
  tenantId: tenantIdSchema,
  from: z.string(),
  to: z.string(),
  /** 0 records: firstSeq > lastSeq and no checkpoint. */
  records: z.number().int().min(0),
  firstSeq: z.number().int().min(0),
  lastSeq: z.number().int().min(0),
  /** The hash the first record follows (its prevHash). */
  startHash: auditHashSchema,
  checkpoint: auditCheckpointSchema.nullable(),
  signingKeys: z.array(auditSigningKeySchema),
});
export type AuditExport = z.infer<typeof auditExportSchema>;

export const createAuditExport = defineRequest({
  subject: 'audit.v1.exports.create',
  request: z
    .object({ tenantId: tenantIdSchema, from: ledgerInstantSchema, to: ledgerInstantSchema })
    .strict()
    .refine((period) => new Date(period.from) < new Date(period.to), 'from must be before to')
    .refine(
      (period) =>
        new Date(period.to).getTime() - new Date(period.from).getTime() <= AUDIT_EXPORT_PERIOD_DAYS_MAX * 86_400_000,
      `a period is at most ${AUDIT_EXPORT_PERIOD_DAYS_MAX} days`,
    ),
  response: auditExportSchema,
  permission: 'audit.records.export',
  summary: 'Export the records of a period with a checkpoint that covers them',
});

/** One stored record as exported: the exact hashed document and its hash. */
export const auditExportRecordSchema = z.object({ seq: auditSeqSchema, document: z.string(), hash: auditHashSchema });
export type AuditExportRecord = z.infer<typeof auditExportRecordSchema>;

export const listAuditExportRecords = defineRequest({
  subject: 'audit.v1.exports.records',
  request: z
    .object({
      tenantId: tenantIdSchema,
      firstSeq: auditSeqSchema,
      lastSeq: auditSeqSchema,
      limit: z.number().int().min(1).max(AUDIT_PAGE_LIMIT_MAX).default(AUDIT_PAGE_LIMIT_MAX),
      /** The `nextCursor` of the previous page; records come in ascending seq. */
      cursor: seqCursorSchema.optional(),
    })
    .strict(),
  response: z.object({ records: z.array(auditExportRecordSchema), nextCursor: z.string().nullable() }),
  permission: 'audit.records.export',
  summary: 'The stored documents of an export, ascending seq, cursor-paged',
});

export const auditLegalHoldSchema = z.object({
  tenantId: tenantIdSchema,
  reason: z.string().trim().min(1).max(500),
  placedBy: z.string(),
  placedAt: z.string(),
});
export type AuditLegalHold = z.infer<typeof auditLegalHoldSchema>;

export const placeAuditLegalHold = defineRequest({
  subject: 'audit.v1.legal-holds.place',
  request: z.object({ tenantId: tenantIdSchema, reason: z.string().trim().min(1).max(500) }).strict(),
  response: auditLegalHoldSchema,
  permission: 'audit.legal-holds.manage',
  summary: 'Keep every record of the tenant past its retention until the hold is released',
});

export const releaseAuditLegalHold = defineRequest({
  subject: 'audit.v1.legal-holds.release',
  request: z.object({ tenantId: tenantIdSchema }).strict(),
  response: z.object({ tenantId: tenantIdSchema, released: z.boolean() }),
  permission: 'audit.legal-holds.manage',
  summary: 'Release the legal hold: records past retention are purged at the next run',
});

export const getAuditLegalHold = defineRequest({
  subject: 'audit.v1.legal-holds.get',
  request: z.object({ tenantId: tenantIdSchema }).strict(),
  response: z.object({
    hold: auditLegalHoldSchema.nullable(),
    retentionDays: z.number().int(),
    purgedThroughSeq: z.number().int().min(0),
  }),
  permission: 'audit.records.read',
  summary: "The tenant's legal hold (if any), its retention, and how far records have been purged",
});
