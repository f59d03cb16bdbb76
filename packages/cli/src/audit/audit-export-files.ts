/**
 * The files of an audit export directory (`strongroom audit export`): records.ndjson holds each
 * stored document exactly as it was hashed, one per line, in seq order (the one file a verifier
 * needs besides export.json); records.csv flattens the same records for reading, with each
 * record's hash; export.json is the audit service's answer (period, seqs, start hash, the
 * checkpoint at the last record, the keys it says it signs with).
 */
export const AUDIT_EXPORT_FILES = {
  records: 'records.ndjson',
  csv: 'records.csv',
  export: 'export.json',
} as const;

export const AUDIT_EXPORT_CSV_COLUMNS = [
  'seq',
  'occurred_at',
  'recorded_at',
  'emitter',
  'actor_type',
  'actor_id',
  'action',
  'resource_type',
  'resource_id',
  'outcome',
  'reason',
  'request_id',
  'trace_id',
  'source_ip',
  'hash',
] as const;

/** The fields of a record the CSV shows (a document parses to more; these are all strings or numbers). */
interface FlatRecord {
  seq?: unknown;
  occurredAt?: unknown;
  recordedAt?: unknown;
  emitter?: unknown;
  actor?: { type?: unknown; id?: unknown };
  action?: unknown;
  resource?: { type?: unknown; id?: unknown };
  outcome?: unknown;
  reason?: unknown;
  requestId?: unknown;
  traceId?: unknown;
  sourceIp?: unknown;
}

/**
 * RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled. A field a
 * spreadsheet would run as a formula (= + - @, a tab or CR first) is prefixed with `'` (OWASP
 * "CSV injection"): records.ndjson, not this file, is the evidence.
 */
export function csvField(value: unknown): string {
  let text = value === undefined || value === null ? '' : String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function auditExportCsvHeader(): string {
  return `${AUDIT_EXPORT_CSV_COLUMNS.join(',')}\r\n`;
}

/** One CSV line of a stored record (its document and hash); an unreadable document still gets its seq and hash. */
export function auditExportCsvLine(stored: { seq: number; document: string; hash: string }): string {
  let record: FlatRecord = {};
  try {
    record = JSON.parse(stored.document) as FlatRecord;
  } catch {
    // Shown with empty fields; verify-export names the problem.
  }
  return `${[
    stored.seq,
    record.occurredAt,
    record.recordedAt,
    record.emitter,
    record.actor?.type,
    record.actor?.id,
    record.action,
    record.resource?.type,
    record.resource?.id,
    record.outcome,
    record.reason,
    record.requestId,
    record.traceId,
    record.sourceIp,
    stored.hash,
  ]
    .map(csvField)
    .join(',')}\r\n`;
}
