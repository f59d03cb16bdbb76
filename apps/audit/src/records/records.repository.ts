import { Injectable } from '@nestjs/common';
import type { AuditExportRecord, AuditRecordView, listAuditRecords, RequestOf } from '@strongroom/contracts';
import { PlatformError, withTenant } from '@strongroom/platform';
import { DataSource } from 'typeorm';

export type RecordFilters = Omit<RequestOf<typeof listAuditRecords>, 'tenantId' | 'limit' | 'cursor'>;

interface Page {
  limit: number;
  cursor?: string;
}

/** Each filter: its field of the generated `fields` column (the expressions the indexes are on), and how a request value is compared (instants normalised to the stored form). */
const FILTER_COLUMNS: ReadonlyArray<{
  key: keyof RecordFilters;
  condition: (parameter: string) => string;
  value?: (raw: string) => string;
}> = [
  { key: 'from', condition: (p) => `(fields).occurred_at >= ${p}`, value: isoMillis },
  { key: 'to', condition: (p) => `(fields).occurred_at < ${p}`, value: isoMillis },
  { key: 'actorType', condition: (p) => `(fields).actor_type = ${p}` },
  { key: 'actorId', condition: (p) => `(fields).actor_id = ${p}` },
  { key: 'action', condition: (p) => `(fields).action = ${p}` },
  { key: 'resourceType', condition: (p) => `(fields).resource_type = ${p}` },
  { key: 'resourceId', condition: (p) => `(fields).resource_id = ${p}` },
  { key: 'outcome', condition: (p) => `(fields).outcome = ${p}` },
  { key: 'requestId', condition: (p) => `(fields).request_id = ${p}` },
];

/** Records store instants as ISO-8601 UTC with milliseconds; a request may give any offset. */
export function isoMillis(instant: string): string {
  return new Date(instant).toISOString();
}

/** Reads of stored records: the query API and the pages of an export. Tenant-scoped (row-level security). */
@Injectable()
export class RecordsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Records matching every filter given, newest first (by seq), after the cursor's seq. */
  async list(
    tenantId: string,
    filters: RecordFilters,
    page: Page,
  ): Promise<{ records: AuditRecordView[]; nextCursor: string | null }> {
    const parameters: unknown[] = [tenantId];
    const conditions = ['tenant_id = $1'];
    for (const { key, condition, value } of FILTER_COLUMNS) {
      const raw = filters[key];
      if (raw === undefined) continue;
      parameters.push(value === undefined ? raw : value(raw));
      conditions.push(condition(`$${parameters.length}`));
    }
    if (page.cursor !== undefined) {
      parameters.push(page.cursor);
      conditions.push(`seq < $${parameters.length}::bigint`);
    }
    parameters.push(page.limit + 1);
    const rows: Array<{ seq: string; document: string; hash: string }> = await withTenant(
      this.dataSource,
      tenantId,
      (manager) =>
        manager.query(
          `SELECT seq, document, hash FROM audit_records
            WHERE ${conditions.join(' AND ')} ORDER BY seq DESC LIMIT $${parameters.length}`,
          parameters,
        ),
    );
    const shown = rows.slice(0, page.limit);
    return {
      records: shown.map((row) => ({ record: documentOf(row), hash: row.hash })),
      nextCursor: rows.length > page.limit ? (shown.at(-1)?.seq ?? null) : null,
    };
  }

  /** The stored documents of seqs [firstSeq, lastSeq] after the cursor, ascending. */
  async exportPage(
    tenantId: string,
    range: { firstSeq: number; lastSeq: number },
    page: Page,
  ): Promise<{ records: AuditExportRecord[]; nextCursor: string | null }> {
    const after = Math.max(range.firstSeq - 1, page.cursor === undefined ? 0 : Number(page.cursor));
    const rows: Array<{ seq: string; document: string; hash: string }> = await withTenant(
      this.dataSource,
      tenantId,
      (manager) =>
        manager.query(
          `SELECT seq, document, hash FROM audit_records
            WHERE tenant_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq LIMIT $4`,
          [tenantId, after, range.lastSeq, page.limit + 1],
        ),
    );
    const shown = rows.slice(0, page.limit);
    return {
      records: shown.map((row) => ({ seq: Number(row.seq), document: row.document, hash: row.hash })),
      nextCursor: rows.length > page.limit ? (shown.at(-1)?.seq ?? null) : null,
    };
  }
}

/** The record a stored document holds (the reply's schema checks it; a document that is not one was tampered with). */
function documentOf(row: { seq: string; document: string }): AuditRecordView['record'] {
  try {
    return JSON.parse(row.document);
  } catch {
    throw PlatformError.conflict(`The record stored at ${row.seq} is unreadable: verify the chain`, {
      reason: 'AUDIT_CHAIN_INCONSISTENT',
      seq: Number(row.seq),
    });
  }
}
