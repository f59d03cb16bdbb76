import { createPublicKey, verify as verifySignature } from 'node:crypto';
import { z } from 'zod';
import { AUDIT_EMITTERS, type AuditEvent, auditEventSchema, auditInstantSchema } from './audit-events';
import { canonicalJson } from './canonical-json';
import { sha256Hex } from './request-signing';
import { tenantIdSchema } from './tenants';

/**
 * The tamper evidence of the audit trail (issue 7), one format for the audit service that
 * writes it and for every verifier (the service's verify call, `strongroom audit verify`, a
 * third party holding exports and checkpoints).
 *
 * Per tenant, records form a hash chain. A record's document is the canonical JSON (RFC 8785)
 * of the event with its emitter, its place in the chain (seq, prevHash) and when it was
 * recorded; its hash is the SHA-256 of the document's UTF-8 bytes. The first record's prevHash
 * is AUDIT_GENESIS_HASH. Changing, removing, inserting or reordering a record changes a hash or
 * breaks a link; a consistent rewrite of the whole chain is caught by the signed checkpoints.
 */
export const AUDIT_RECORD_FORMAT = 'strongroom.audit-record.v1';
export const AUDIT_CHECKPOINT_FORMAT = 'strongroom.audit-checkpoint.v1';
export const AUDIT_GENESIS_HASH = '0'.repeat(64);
/** The platform's Ed25519 Transit key that signs checkpoints; a verifier accepts only keys so named. */
export const AUDIT_CHECKPOINT_SIGNING_KEY = 'audit-checkpoint-signing';

export const auditHashSchema = z.string().regex(/^[0-9a-f]{64}$/);
/** A record's place in its tenant's chain: 1, 2, 3, … (a Postgres bigint; a safe integer here). */
export const auditSeqSchema = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);

export const auditRecordSchema = auditEventSchema.safeExtend({
  format: z.literal(AUDIT_RECORD_FORMAT),
  emitter: z.enum(AUDIT_EMITTERS),
  seq: auditSeqSchema,
  prevHash: auditHashSchema,
  recordedAt: auditInstantSchema,
});
/** What the chain holds: the event, who sent it, where it sits and when it was stored. */
export type AuditRecord = z.infer<typeof auditRecordSchema>;

/** The hashed document of a record: its canonical JSON. */
export function auditDocumentOf(record: AuditRecord): string {
  return canonicalJson(record);
}

/** Chains events onto a head: each gets the next seq and the previous record's hash. */
export function chainAuditEvents(
  head: { seq: number; hash: string },
  events: ReadonlyArray<{ event: AuditEvent; emitter: AuditRecord['emitter'] }>,
  recordedAt: string,
): Array<{ record: AuditRecord; document: string; hash: string }> {
  let { seq, hash } = head;
  return events.map(({ event, emitter }) => {
    seq += 1;
    const record: AuditRecord = { ...event, format: AUDIT_RECORD_FORMAT, emitter, seq, prevHash: hash, recordedAt };
    const document = auditDocumentOf(record);
    hash = sha256Hex(document);
    return { record, document, hash };
  });
}

/** The statement a checkpoint signs: this tenant's chain had this head at this seq at this time. */
export const auditCheckpointStatementSchema = z
  .object({
    format: z.literal(AUDIT_CHECKPOINT_FORMAT),
    tenantId: tenantIdSchema,
    seq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    headHash: auditHashSchema,
    createdAt: auditInstantSchema,
  })
  .strict();
export type AuditCheckpointStatement = z.infer<typeof auditCheckpointStatementSchema>;

export const auditSigningKeySchema = z
  .object({
    name: z.literal(AUDIT_CHECKPOINT_SIGNING_KEY),
    version: z.number().int().min(1),
    algorithm: z.literal('Ed25519'),
    /** Base64 of the raw 32-byte Ed25519 public key (Vault Transit's form). */
    publicKey: z.string().regex(/^[A-Za-z0-9+/]{43}=$/),
  })
  .strict();
export type AuditSigningKey = z.infer<typeof auditSigningKeySchema>;

/** A checkpoint as exported: the statement's exact bytes (canonical JSON) and the Transit signature over them. */
export const auditCheckpointSchema = z
  .object({
    statement: auditCheckpointStatementSchema,
    /**
     * `vault:v<version>:<base64>` over canonicalJson(statement); `local:v…` from the local secrets
     * provider (development). The prefix only names the backend: the pinned keys decide.
     */
    signature: z.string().regex(/^(vault|local):v[0-9]{1,9}:[A-Za-z0-9+/]+={0,2}$/),
    keyVersion: z.number().int().min(1),
  })
  .strict();
export type AuditCheckpoint = z.infer<typeof auditCheckpointSchema>;

const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** Whether a checkpoint's signature is valid under one of the pinned keys (the key its signature names). */
export function isAuditCheckpointSigned(checkpoint: AuditCheckpoint, keys: readonly AuditSigningKey[]): boolean {
  const match = /^(?:vault|local):v([0-9]+):(.+)$/.exec(checkpoint.signature);
  if (!match) return false;
  const version = Number(match[1]);
  const key = keys.find((candidate) => candidate.version === version);
  if (key === undefined || version !== checkpoint.keyVersion) return false;
  const raw = Buffer.from(key.publicKey, 'base64');
  if (raw.length !== 32) return false;
  const publicKey = createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
  const bytes = Buffer.from(canonicalJson(checkpoint.statement), 'utf8');
  return verifySignature(null, bytes, publicKey, Buffer.from(match[2] as string, 'base64'));
}

/** What is wrong, and where: the seq a problem is found at (the record's position in its chain). */
export const AUDIT_PROBLEM_KINDS = [
  /** The record's document no longer hashes to its stored hash: it was changed. */
  'record_modified',
  /** The document is not a record of this chain at this position (its seq or tenant differs: moved or reordered). */
  'record_misplaced',
  /** The record's prevHash is not its predecessor's hash: a record before it was removed, inserted or rewritten. */
  'link_broken',
  /** Seqs skip: records are missing. */
  'records_missing',
  /** A signed checkpoint names a head hash the chain does not have at that seq. */
  'checkpoint_mismatch',
  /** A checkpoint's signature is not valid under the pinned keys. */
  'checkpoint_signature_invalid',
  /** A checkpoint names a seq past the chain's end: records at the end were removed. */
  'records_truncated',
  /** The stored chain head disagrees with the last record. */
  'head_mismatch',
  /**
   * The chain starts after a purge boundary that no `audit.records.purge` record in the chain
   * states (its throughSeq and throughHash): records were removed, not purged.
   */
  'purge_unrecorded',
  /** The document is not valid JSON of a record. */
  'record_unreadable',
] as const;
export type AuditProblemKind = (typeof AUDIT_PROBLEM_KINDS)[number];

export const auditProblemSchema = z.object({
  kind: z.enum(AUDIT_PROBLEM_KINDS),
  seq: z.number().int().min(0),
  message: z.string(),
});
export type AuditProblem = z.infer<typeof auditProblemSchema>;

/** A stored record as a verifier reads it: its column seq, the document text and the stored hash. */
export interface StoredAuditRecord {
  seq: number;
  document: string;
  hash: string;
}

/** Where a chain may start: the genesis, or a purge boundary anchored by a signed checkpoint. */
export interface AuditChainStart {
  /** The seq of the last record before the first one present (0 at genesis). */
  seq: number;
  hash: string;
  /**
   * What vouches for a start after genesis. `start` (the default): a signed checkpoint at the start
   * (a purge boundary). `end`: a signed checkpoint at the last record (an export's run of records:
   * each record's hash covers the link before it, so the checkpoint at the end vouches for the
   * whole run back to its start hash).
   */
  vouchedBy?: 'start' | 'end';
}

/** Verification report problems are capped: a rewritten chain breaks at every record. */
export const AUDIT_PROBLEMS_MAX = 100;

/**
 * Verifies one tenant's chain incrementally: feed records in ascending seq order (pages from a
 * cursor), then finish with the checkpoints and the stored head. Pure; about 2 µs a record
 * beyond the JSON parse.
 *
 * A long chain has many checkpoints (one a minute while a tenant is busy): they may be given in
 * pages too, so memory stays bounded. `watch` the seqs of the next page of checkpoints before
 * feeding the records they cover, `checkCheckpoints` them once those records are in, and pass
 * the rest to `finish`.
 */
export class AuditChainVerifier {
  private expectedSeq: number;
  private previousHash: string;
  private readonly watched: Set<number>;
  private readonly hashes = new Map<number, string>();
  private checkpointsChecked = 0;
  private checkpointsValid = 0;
  private anchored = false;
  /** An `audit.records.purge` record in the chain names the start as its boundary. */
  private purgeRecorded = false;
  /** The highest seq a valid checkpoint matched (for a start vouched for by the end). */
  private lastMatchedSeq = -1;
  readonly problems: AuditProblem[] = [];
  records = 0;

  readonly tenantId: string;

  constructor(
    tenantId: string,
    private readonly start: AuditChainStart,
    /** Seqs whose hash a checkpoint will be checked against; only these are remembered. */
    watchedSeqs: ReadonlySet<number> = new Set(),
  ) {
    // Records hold the tenant in lower case; a UUID may be typed in either.
    this.tenantId = tenantId.toLowerCase();
    this.expectedSeq = start.seq + 1;
    this.previousHash = start.hash;
    this.watched = new Set(watchedSeqs);
  }

  private report(kind: AuditProblemKind, seq: number, message: string): void {
    if (this.problems.length < AUDIT_PROBLEMS_MAX) this.problems.push({ kind, seq, message });
  }

  /** Remembers the hashes of these seqs too (checkpoints of a later page), for records not fed yet. */
  watch(seqs: Iterable<number>): void {
    for (const seq of seqs) this.watched.add(seq);
  }

  add(stored: StoredAuditRecord): void {
    this.records += 1;
    const { seq, document, hash } = stored;
    if (seq > this.expectedSeq) {
      this.report('records_missing', this.expectedSeq, `records ${this.expectedSeq}–${seq - 1} are missing`);
    }
    const recomputed = sha256Hex(document);
    if (recomputed !== hash) this.report('record_modified', seq, `record ${seq} was changed after it was recorded`);
    let parsed: {
      seq?: unknown;
      tenantId?: unknown;
      prevHash?: unknown;
      format?: unknown;
      action?: unknown;
      details?: { throughSeq?: unknown; throughHash?: unknown };
    };
    try {
      parsed = JSON.parse(document);
    } catch {
      parsed = {};
    }
    if (parsed.format !== AUDIT_RECORD_FORMAT) {
      this.report('record_unreadable', seq, `record ${seq} is not an audit record`);
    } else if (parsed.seq !== seq || parsed.tenantId !== this.tenantId) {
      this.report(
        'record_misplaced',
        seq,
        `the record stored at ${seq} is record ${String(parsed.seq)} of tenant ${String(parsed.tenantId)}`,
      );
    }
    if (parsed.prevHash !== this.previousHash) {
      this.report('link_broken', seq, `record ${seq} does not follow the record before it`);
    }
    if (
      this.start.seq > 0 &&
      parsed.action === 'audit.records.purge' &&
      parsed.details?.throughSeq === this.start.seq &&
      parsed.details?.throughHash === this.start.hash
    )
      this.purgeRecorded = true;
    // Follow the document's own hash: one changed record is reported once, not at every later link.
    this.previousHash = recomputed;
    if (this.watched.has(seq)) this.hashes.set(seq, recomputed);
    this.expectedSeq = seq + 1;
  }

  /** The last seq seen (or the start's). */
  get lastSeq(): number {
    return this.expectedSeq - 1;
  }

  get lastHash(): string {
    return this.previousHash;
  }

  /**
   * Checks signed checkpoints against the hashes seen so far. Before `finish`, give only
   * checkpoints at seqs the records fed so far reach (a later one would count as truncation);
   * the hashes they were checked against are then forgotten.
   */
  checkCheckpoints(checkpoints: readonly AuditCheckpoint[], keys: readonly AuditSigningKey[]): void {
    for (const checkpoint of checkpoints) {
      this.checkpointsChecked += 1;
      const { seq, headHash, tenantId } = checkpoint.statement;
      if (tenantId !== this.tenantId || !isAuditCheckpointSigned(checkpoint, keys)) {
        this.report('checkpoint_signature_invalid', seq, `the checkpoint at ${seq} is not signed by a pinned key`);
        continue;
      }
      this.checkpointsValid += 1;
      if (seq < this.start.seq || seq === 0) continue;
      if (seq === this.start.seq) {
        if (headHash === this.start.hash) this.anchored = true;
        else this.report('checkpoint_mismatch', seq, `the purge boundary at ${seq} is not the signed one`);
        continue;
      }
      if (seq > this.lastSeq) {
        this.report(
          'records_truncated',
          seq,
          `a checkpoint vouches for record ${seq}, past the chain's end at ${this.lastSeq}`,
        );
        continue;
      }
      const seen = this.hashes.get(seq);
      if (seen !== headHash) {
        this.report('checkpoint_mismatch', seq, `the chain at ${seq} is not the chain the checkpoint signed`);
      } else if (seq > this.lastMatchedSeq) {
        this.lastMatchedSeq = seq;
      }
    }
    for (const checkpoint of checkpoints) {
      this.hashes.delete(checkpoint.statement.seq);
      this.watched.delete(checkpoint.statement.seq);
    }
  }

  /**
   * Checks the remaining signed checkpoints against the hashes seen, that a signed checkpoint
   * anchors a purged chain's start, and the stored head against the end of the chain. The counts
   * include checkpoints given to checkCheckpoints before.
   */
  finish(
    checkpoints: readonly AuditCheckpoint[],
    keys: readonly AuditSigningKey[],
    head: { seq: number; hash: string } | undefined,
  ): { checked: number; valid: number } {
    this.checkCheckpoints(checkpoints, keys);
    if (this.start.vouchedBy === 'end') {
      if (this.records > 0 && this.lastMatchedSeq !== this.lastSeq) {
        this.report(
          'checkpoint_mismatch',
          this.lastSeq,
          `no signed checkpoint vouches for the last record ${this.lastSeq}`,
        );
      }
    } else if (this.start.seq > 0 && !this.anchored) {
      this.report(
        'checkpoint_mismatch',
        this.start.seq,
        `no signed checkpoint anchors the chain's start at ${this.start.seq}`,
      );
    }
    if (this.start.seq > 0 && this.start.vouchedBy !== 'end' && !this.purgeRecorded) {
      // A periodic checkpoint exists at almost every seq: only the purge's own record, in the
      // hashed chain, tells a purge from records deleted behind a forged boundary.
      this.report(
        'purge_unrecorded',
        this.start.seq,
        `no purge record in the chain states its start at ${this.start.seq}: records before it were removed`,
      );
    }
    if (head !== undefined && (head.seq !== this.lastSeq || head.hash !== this.previousHash)) {
      this.report(
        'head_mismatch',
        this.lastSeq,
        `the chain head (${head.seq}) is not the last record (${this.lastSeq})`,
      );
    }
    return { checked: this.checkpointsChecked, valid: this.checkpointsValid };
  }
}
