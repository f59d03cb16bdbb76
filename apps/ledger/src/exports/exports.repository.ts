import { Injectable } from '@nestjs/common';
import {
  type LedgerExportBalance,
  type LedgerExportEntry,
  type LedgerExportManifest,
  ledgerExportCreated,
  type PayloadOf,
} from '@strongroom/contracts';
import { enqueueAudit, enqueueEvents, PlatformError, RegionalDatabases } from '@strongroom/platform';
import type { EntityManager } from 'typeorm';
import { type AuditTrail, LEDGER_AUDIT_EMITTER, ledgerAuditEvent } from '../ledger-audit';
import type { LedgerScope } from '../ledger-scope';
import {
  currencyExponentFinding,
  LEDGER_FINDINGS_JSON,
  LEDGER_FINDINGS_MAX,
  type LedgerFinding,
} from './export-consistency';
import { type ExportIdentity, ExportManifestBuilder } from './export-manifest';
import {
  ACCOUNT_JSON,
  ACCOUNTS_OF_PERIOD,
  type AccountTuple,
  balanceOf,
  balancesBefore,
  ENTRY_JSON,
  type EntryTuple,
  entryOf,
  periodEntriesOf,
} from './export-rows';

/** A period as the database compares it: [from, to), ISO instants. */
export interface ExportPeriod {
  from: string;
  to: string;
}

/** Rows per FETCH of the manifest cursor: few round trips, a few megabytes in memory. */
const CURSOR_FETCH_ROWS = 10_000;
/**
 * How long an export waits for ledger transactions that began before the period's end: one of
 * them may still commit an entry dated inside the period, which the snapshot must not miss.
 */
const IN_FLIGHT_WAIT_MS_MAX = 5_000;
const IN_FLIGHT_POLL_MS = 50;
/** The bus's deadline (BusClient caps a call at 30 s): past it no one is waiting for the manifest. */
const MANIFEST_WORK_MS_MAX = 30_000;
/**
 * The application_name of a manifest's transaction while it runs (SET LOCAL: the pooled
 * connection gets its own back at the end). It only reads the ledger — the audit event is written
 * in a later transaction — so another export need not wait for it.
 */
export const EXPORT_APPLICATION_NAME = 'strongroom-ledger-export';

type ExportRow = { findings: LedgerFinding[] | null; account: AccountTuple | null; entry: EntryTuple | null };

/** Export order: account code (the tenant's chart of accounts), then each account's entries in time order. */
@Injectable()
export class ExportsRepository {
  constructor(private readonly databases: RegionalDatabases) {}

  /**
   * Reads the whole period through one cursor — one statement, so one snapshot even under READ
   * COMMITTED — and hashes it as it streams: each account (a row with the account, and no entry)
   * followed by its entries. Waits first for ledger transactions that began before `to`: an
   * entry's time is taken inside its transaction, never before it began, so once those ended no
   * entry of the period can still appear. The same statement cross-checks the books
   * (export-consistency.ts); it refuses to sign books that disagree with themselves.
   */
  async manifest(scope: LedgerScope, identity: Omit<ExportIdentity, 'createdAt'>): Promise<LedgerExportManifest> {
    return this.databases.withTenant(scope.tenantId, async (manager) => {
      const deadlineMs = Date.now() + MANIFEST_WORK_MS_MAX;
      await boundManifestWork(manager, scope.tenantId);
      const createdAt = await assertPeriodEnded(manager, identity.to);
      await waitForTransactionsBefore(manager, identity.to);
      await manager.query(
        `DECLARE ledger_export NO SCROLL CURSOR FOR
         SELECT ${LEDGER_FINDINGS_JSON} AS findings,
                CASE WHEN e.entry IS NULL THEN ${ACCOUNT_JSON} END AS account, e.entry
           FROM ledger_accounts a ${balancesBefore('o', '$3')} ${balancesBefore('c', '$4')}
          CROSS JOIN LATERAL (
            SELECT NULL::timestamptz AS created_at, NULL::bigint AS seq, NULL::json AS entry
            UNION ALL (${periodEntriesOf()})) e
          WHERE ${ACCOUNTS_OF_PERIOD}
          ORDER BY a.code, e.entry IS NOT NULL, e.created_at, e.seq`,
        [scope.tenantId, scope.environment, identity.from, identity.to],
      );
      const builder = new ExportManifestBuilder();
      const findings: LedgerFinding[] = [];
      const add = (rows: ExportRow[]) => {
        for (const { account, entry } of rows) {
          if (account !== null) {
            const balance = balanceOf(account);
            const finding = currencyExponentFinding(balance);
            if (finding !== undefined) findings.push(finding);
            builder.addAccount(balance);
          }
          if (entry !== null) builder.addEntry(entryOf(entry));
        }
      };
      // The first row alone: it carries the findings (the same on every row), which may be large.
      const first: ExportRow[] = await manager.query('FETCH FORWARD 1 FROM ledger_export');
      findings.push(...(first[0]?.findings ?? []));
      if (findings.length === 0) {
        add(first);
        await streamRows(manager, deadlineMs, add);
      }
      await manager.query('CLOSE ledger_export');
      if (findings.length > 0) throw ledgerInconsistent(findings);
      return builder.manifest({ ...identity, createdAt });
    });
  }

  /** A page of the period's accounts after the one whose code is `cursor`. */
  async balances(
    scope: LedgerScope,
    period: ExportPeriod,
    page: { limit: number; cursor?: string },
  ): Promise<{ accounts: LedgerExportBalance[]; nextCursor: string | null }> {
    return this.databases.withTenant(scope.tenantId, async (manager) => {
      await assertPeriodEnded(manager, period.to);
      const rows: Array<{ account: AccountTuple }> = await manager.query(
        `SELECT ${ACCOUNT_JSON} AS account
           FROM ledger_accounts a ${balancesBefore('o', '$3')} ${balancesBefore('c', '$4')}
          WHERE ${ACCOUNTS_OF_PERIOD} AND ($5::text IS NULL OR a.code > $5)
          ORDER BY a.code LIMIT $6`,
        [scope.tenantId, scope.environment, period.from, period.to, page.cursor ?? null, page.limit + 1],
      );
      const accounts = rows.slice(0, page.limit).map((row) => balanceOf(row.account));
      return { accounts, nextCursor: rows.length > page.limit ? (accounts.at(-1)?.code ?? null) : null };
    });
  }

  /**
   * A page of the period's entries after the entry `cursor` (a seq): first the rest of that
   * entry's account, then the accounts after it. Each part is an index range scan from the
   * cursor, so a page costs the same at the start and at the end of a busy account.
   */
  async entries(
    scope: LedgerScope,
    period: ExportPeriod,
    page: { limit: number; cursor?: string },
  ): Promise<{ entries: LedgerExportEntry[]; nextCursor: string | null }> {
    return this.databases.withTenant(scope.tenantId, async (manager) => {
      await assertPeriodEnded(manager, period.to);
      const parameters = [scope.tenantId, scope.environment, period.from, period.to];
      const wanted = page.limit + 1;
      const at = page.cursor === undefined ? undefined : await cursorPosition(manager, scope, page.cursor);
      const rows: Array<{ entry: EntryTuple }> = [];
      if (at !== undefined) {
        rows.push(
          ...(await manager.query(
            `SELECT ${ENTRY_JSON} AS entry
               FROM ledger_entries x JOIN ledger_accounts a ON a.tenant_id = x.tenant_id AND a.id = x.account_id
              WHERE ${ACCOUNTS_OF_PERIOD} AND x.tenant_id = $1 AND x.account_id = $5
                AND x.created_at >= $3 AND x.created_at < $4
                AND (x.created_at, x.seq) > ((SELECT c.created_at FROM ledger_entries c WHERE c.seq = $6::bigint), $6::bigint)
              ORDER BY x.created_at, x.seq LIMIT $7`,
            [...parameters, at.accountId, page.cursor, wanted],
          )),
        );
      }
      if (rows.length < wanted) {
        rows.push(
          ...(await manager.query(
            `SELECT e.entry
               FROM ledger_accounts a CROSS JOIN LATERAL (${periodEntriesOf('LIMIT $6')}) e
              WHERE ${ACCOUNTS_OF_PERIOD} AND ($5::text IS NULL OR a.code > $5)
              ORDER BY a.code, e.created_at, e.seq LIMIT $6`,
            [...parameters, at?.code ?? null, wanted - rows.length],
          )),
        );
      }
      const entries = rows.slice(0, page.limit).map((row) => entryOf(row.entry));
      return { entries, nextCursor: rows.length > page.limit ? (entries.at(-1)?.seq ?? null) : null };
    });
  }

  /** The export in the audit trail and its `exports.created` event (outbox, in the tenant's ledger database). */
  async recordCreated(
    scope: LedgerScope,
    event: PayloadOf<typeof ledgerExportCreated>,
    trail: AuditTrail,
  ): Promise<void> {
    await this.databases.withTenant(scope.tenantId, async (manager) => {
      await enqueueEvents(manager, ledgerExportCreated, [{ tenantId: scope.tenantId, payload: event }]);
      await enqueueAudit(manager, LEDGER_AUDIT_EMITTER, [
        ledgerAuditEvent(trail, {
          ...scope,
          action: 'ledger.export.create',
          resource: { type: 'ledger_export', id: event.exportId },
          details: {
            from: event.from,
            to: event.to,
            entries: event.entries,
            manifestSha256: event.manifestSha256,
          },
        }),
      ]);
    });
  }
}

/**
 * Reads the rest of the export cursor, the next rows produced while these are hashed. Stops at
 * the deadline: the caller has given up by then.
 */
async function streamRows(manager: EntityManager, deadlineMs: number, add: (rows: ExportRow[]) => void) {
  const fetchRows = (): Promise<ExportRow[]> => {
    const rows = manager.query(`FETCH FORWARD ${CURSOR_FETCH_ROWS} FROM ledger_export`);
    // Awaited on the next turn; if hashing throws first, its failure is not an unhandled rejection.
    rows.catch(() => undefined);
    return rows;
  };
  let next = fetchRows();
  for (;;) {
    const rows = await next;
    const more = rows.length === CURSOR_FETCH_ROWS;
    if (more && Date.now() > deadlineMs) {
      throw PlatformError.timeout('The export did not finish within the bus deadline', {
        timeoutMs: MANIFEST_WORK_MS_MAX,
      });
    }
    if (more) next = fetchRows();
    add(rows);
    if (!more) return;
  }
}

/**
 * Bounds what one manifest costs the database: each statement within the bus deadline, and one
 * manifest per tenant at a time (CONFLICT for a second, which would only repeat the first's read).
 */
async function boundManifestWork(manager: EntityManager, tenantId: string): Promise<void> {
  const [{ locked }] = await manager.query(
    `SELECT set_config('statement_timeout', $1, true), set_config('application_name', $2, true),
            pg_try_advisory_xact_lock(hashtextextended('strongroom.ledger-export:' || $3, 0)) AS locked`,
    [String(MANIFEST_WORK_MS_MAX), EXPORT_APPLICATION_NAME, tenantId],
  );
  if (locked !== true) {
    throw PlatformError.conflict('An export of this ledger is already being built; try again when it is done', {
      reason: 'LEDGER_EXPORT_IN_PROGRESS',
    });
  }
}

/** CONFLICT: the books disagree with themselves (a superuser's edit, or a bug); nothing is signed. */
function ledgerInconsistent(findings: LedgerFinding[]): PlatformError {
  return PlatformError.conflict('The ledger is inconsistent: the export refuses to sign it', {
    reason: 'LEDGER_INCONSISTENT',
    findings: findings.slice(0, LEDGER_FINDINGS_MAX),
  });
}

/** The database's clock, once the period has ended (an export never covers the future); VALIDATION before. */
async function assertPeriodEnded(manager: EntityManager, to: string): Promise<string> {
  const [{ now }] = await manager.query("SELECT date_trunc('milliseconds', clock_timestamp()) AS now");
  if ((now as Date).getTime() < Date.parse(to)) {
    throw PlatformError.validation('The period has not ended yet: `to` is in the future', { to });
  }
  return (now as Date).toISOString();
}

/**
 * Waits (bounded) until no other ledger transaction that began before `to` is open. The ledger's
 * connections share one role, and a role sees its own sessions in pg_stat_activity. Other
 * exports' transactions are told apart by their application_name and not waited for: they write
 * nothing (a long export of one tenant would otherwise hold up every other tenant's).
 */
async function waitForTransactionsBefore(manager: EntityManager, to: string): Promise<void> {
  const deadline = Date.now() + IN_FLIGHT_WAIT_MS_MAX;
  for (;;) {
    // pg_stat_activity is read once per transaction unless its snapshot is cleared.
    await manager.query('SELECT pg_stat_clear_snapshot()');
    const [{ open }] = await manager.query(
      `SELECT count(*)::int AS open FROM pg_stat_activity
        WHERE datname = current_database() AND usename = current_user AND pid <> pg_backend_pid() AND xact_start < $1
          AND application_name IS DISTINCT FROM $2`,
      [to, EXPORT_APPLICATION_NAME],
    );
    if (open === 0) return;
    if (Date.now() >= deadline) {
      throw PlatformError.unavailable('Ledger transactions that began before the end of the period are still open', {
        reason: 'PERIOD_NOT_SETTLED',
      });
    }
    await new Promise((resolve) => setTimeout(resolve, IN_FLIGHT_POLL_MS));
  }
}

/** The account of the entry a cursor names, in this ledger (VALIDATION for any other entry). */
async function cursorPosition(
  manager: EntityManager,
  scope: LedgerScope,
  cursor: string,
): Promise<{ accountId: string; code: string }> {
  const [row] = await manager.query(
    `SELECT a.id AS account_id, a.code FROM ledger_entries e
       JOIN ledger_accounts a ON a.tenant_id = e.tenant_id AND a.id = e.account_id
      WHERE e.tenant_id = $1 AND e.seq = $2::bigint AND a.environment = $3`,
    [scope.tenantId, cursor, scope.environment],
  );
  if (!row) throw PlatformError.validation('The cursor names no entry of this ledger', { cursor });
  return { accountId: row.account_id, code: row.code };
}
