import { Injectable } from '@nestjs/common';
import {
  type Environment,
  type PayloadOf,
  TRANSFERS_PER_EVENT_MAX,
  type Transfer,
  type TransferResult,
  type TransferType,
  transfersApplied,
} from '@strongroom/contracts';
import {
  auditOutboxRowsOf,
  isUniqueViolation,
  outboxRowsOf,
  PlatformError,
  RegionalDatabases,
} from '@strongroom/platform';
import type { EntityManager } from 'typeorm';
import { LEDGER_AUDIT_EMITTER } from '../ledger-audit';
import type { LedgerScope } from '../ledger-scope';
import { batchWriteOf, outboxInsertOf, type StoredLeg, storedLegs } from './batch-writes';
import type { AccountState, EngineCommand, LedgerView, Leg, PendingOutcome, ReversalTarget } from './ledger-state';
import { type AuditedCommand, transferAuditEvents } from './transfer-audit';
import { applyTransferBatch, type BatchOutcome, fingerprintOf } from './transfer-engine';

/**
 * A command and who asked for it: `actor` (the token's subject) is stored with the transfer,
 * `trail` (actor and request) goes into its audit event.
 */
export interface AttributedCommand extends AuditedCommand {
  actor: string;
}

/** What a batch did: a result per command, and each transfer it applied as stored. */
export interface AppliedBatch {
  results: TransferResult[];
  /** A transfer this batch applied (`ok`), as a read would return it; undefined for any other result. */
  appliedTransfer(id: string): Transfer | undefined;
}

interface TransferStateRow {
  id: string;
  environment: Environment;
  type: TransferType;
  /** SHA-256 hex. */
  fingerprint: string;
  legs: StoredLeg[];
  open_legs: StoredLeg[] | null;
  expires_at: Date | null;
  resolution: TransferType | null;
  reversed: boolean;
}

interface AccountRow {
  id: string;
  currency: string;
  closed: boolean;
  debits_must_not_exceed_credits: boolean;
  credits_must_not_exceed_debits: boolean;
  debits_posted: string;
  credits_posted: string;
  debits_pending: string;
  credits_pending: string;
  /** Epoch milliseconds, as float8: no Date parsing per locked row. */
  last_entry_ms: number | null;
  clock_ms: number;
}

const RESOLUTION_OUTCOMES: Partial<Record<TransferType, PendingOutcome>> = {
  post_pending: 'posted',
  void_pending: 'voided',
  expiry: 'expired',
};

const RACE_RETRIES_MAX = 3;

/** A transfer the batch names appeared between its unlocked read and its locks: the batch runs again. */
class StaleBatchView extends Error {
  override readonly name = 'StaleBatchView';
}

/** A concurrent batch got there first: a unique violation on a transfer id, pending id or reversal target, or a stale view. */
function lostRace(error: unknown): boolean {
  return error instanceof StaleBatchView || isUniqueViolation(error);
}

/**
 * The ledger's write path. One batch is one transaction in the tenant's region's database:
 * read what the batch names, lock its accounts (in id order, so two batches never deadlock),
 * re-read the pending and reversal state under those locks, run the pure engine, then write
 * every row in one statement (batch-writes.ts: unnest arrays, not a round trip per transfer).
 */
@Injectable()
export class TransfersRepository {
  constructor(private readonly databases: RegionalDatabases) {}

  async applyBatch(scope: LedgerScope, batch: readonly AttributedCommand[]): Promise<AppliedBatch> {
    // Hashing needs no lock: done before the transaction, it does not lengthen the time accounts are held.
    const fingerprints = new Map(batch.map(({ command }) => [command.id, fingerprintOf(command)]));
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.databases.withTenant(scope.tenantId, (manager) =>
          applyInTransaction(manager, scope, batch, fingerprints),
        );
      } catch (error) {
        // Two batches raced on the same transfer: run again, and the loser sees what the winner wrote.
        if (!lostRace(error)) throw error;
        if (attempt >= RACE_RETRIES_MAX) {
          throw PlatformError.unavailable('Concurrent requests kept racing for the same transfers; retry', {
            reason: 'CONTENDED',
          });
        }
      }
    }
  }

  async find(scope: LedgerScope, transferId: string): Promise<Transfer | undefined> {
    const [transfer] = await this.databases.withTenant(scope.tenantId, (manager) =>
      selectTransfers(manager, scope, 't.id = $3', [transferId]),
    );
    return transfer;
  }

  /** A page of the transfers carrying `reference`, in (created_at, id) order; the cursor is the last one's id. */
  async findByReference(
    scope: LedgerScope,
    reference: string,
    page: { limit: number; cursor?: string },
  ): Promise<{ transfers: Transfer[]; nextCursor: string | null }> {
    const transfers = await this.databases.withTenant(scope.tenantId, (manager) =>
      selectTransfers(
        manager,
        scope,
        `t.reference = $3 AND ($4::uuid IS NULL OR (t.created_at, t.id) > (
           (SELECT c.created_at FROM ledger_transfers c WHERE c.tenant_id = $1 AND c.id = $4::uuid), $4::uuid))`,
        [reference, page.cursor ?? null],
        page.limit + 1,
      ),
    );
    const shown = transfers.slice(0, page.limit);
    return { transfers: shown, nextCursor: transfers.length > page.limit ? (shown.at(-1)?.id ?? null) : null };
  }
}

async function applyInTransaction(
  manager: EntityManager,
  scope: LedgerScope,
  batch: readonly AttributedCommand[],
  fingerprints: ReadonlyMap<string, string>,
): Promise<AppliedBatch> {
  const { tenantId } = scope;
  const commands = batch.map(({ command }) => command);
  const references = referencedTransferIds(commands);
  const ownIds = [...new Set(commands.map((command) => command.id))];
  const postingAccounts = new Set<string>();
  for (const command of commands) {
    if ('postings' in command && command.postings)
      for (const posting of command.postings) postingAccounts.add(posting.accountId);
  }
  let accounts: AccountRow[];
  let states: Map<string, TransferStateRow>;
  if (references.length === 0) {
    // The common batch names no pending or reversed transfer: its accounts are known from its
    // postings, and the check for its own ids (retries) rides on the locking statement.
    ({ accounts, states } = await lockAccountsReadingIds(manager, scope, [...postingAccounts].sort(), ownIds));
  } else {
    // Unlocked first read: the batch's own ids and, to learn which accounts they touch, the
    // pending and reversed transfers it names.
    states = await readTransferStates(manager, tenantId, [...new Set([...ownIds, ...references])]);
    const accountIds = new Set(postingAccounts);
    for (const id of references) {
      const state = states.get(id);
      if (state) for (const leg of state.open_legs ?? state.legs) accountIds.add(leg.accountId);
    }
    accounts = await lockAccounts(manager, scope, [...accountIds].sort());
    // Whoever posts, voids, expires or reverses a transfer holds its accounts' locks, which are
    // now ours: read their state again, current this time. (An id inserted meanwhile by another
    // batch fails our insert on the primary key, and applyBatch runs the batch again.)
    for (const [id, state] of await readTransferStates(manager, tenantId, references)) {
      // Created by a concurrent batch after the first read: its accounts are not locked; start over.
      if (!states.has(id)) throw new StaleBatchView();
      states.set(id, state);
    }
  }
  let clockMs = 0;
  for (const row of accounts) clockMs = Math.max(clockMs, row.clock_ms, row.last_entry_ms ?? 0);
  const nowMs = clockMs || (await databaseClockMs(manager));
  const outcome = applyTransferBatch(commands, viewOf(scope, accounts, states, commands), nowMs, fingerprints);
  await writeOutcome(manager, scope, batch, outcome, nowMs);
  return appliedBatchOf(scope, outcome, nowMs);
}

function appliedBatchOf(scope: LedgerScope, outcome: BatchOutcome, nowMs: number): AppliedBatch {
  const at = new Date(nowMs).toISOString();
  const resolved = new Map(outcome.resolvedPendings.map((pending) => [pending.id, pending.outcome]));
  const reversed = new Set(outcome.reversedIds);
  const reversals = new Map<string, string>();
  for (const transfer of outcome.applied) if (transfer.reversesId) reversals.set(transfer.reversesId, transfer.id);
  const applied = new Map(outcome.applied.map((transfer) => [transfer.id, transfer]));
  return {
    results: outcome.results,
    appliedTransfer(id) {
      const transfer = applied.get(id);
      if (transfer === undefined) return undefined;
      return {
        tenantId: scope.tenantId,
        id,
        type: transfer.type,
        category: transfer.category as Transfer['category'],
        reference: transfer.reference,
        metadata: transfer.metadata,
        postings: storedLegs(transfer.legs),
        pendingId: transfer.pendingId,
        reversesId: transfer.reversesId,
        pendingStatus: transfer.type === 'pending' ? (resolved.get(id) ?? 'open') : null,
        expiresAt: transfer.expiresAtMs === null ? null : new Date(transfer.expiresAtMs).toISOString(),
        reversedBy: reversed.has(id) ? (reversals.get(id) ?? null) : null,
        createdAt: at,
      };
    },
  };
}

/** The transfers the batch names besides its own: the pending ones it resolves, the ones it reverses. */
function referencedTransferIds(commands: readonly EngineCommand[]): string[] {
  const ids = new Set<string>();
  for (const command of commands) {
    if ('pendingId' in command) ids.add(command.pendingId);
    if (command.type === 'reversal') ids.add(command.reversesId);
  }
  return [...ids];
}

async function readTransferStates(
  manager: EntityManager,
  tenantId: string,
  ids: readonly string[],
): Promise<Map<string, TransferStateRow>> {
  const rows: TransferStateRow[] = await manager.query(
    `SELECT t.id, t.environment, t.type, encode(t.fingerprint, 'hex') AS fingerprint, t.legs,
            CASE WHEN o.transfer_id IS NOT NULL THEN t.legs END AS open_legs, o.expires_at,
            (SELECT r.type FROM ledger_transfers r WHERE r.tenant_id = t.tenant_id AND r.pending_id = t.id) AS resolution,
            EXISTS (SELECT 1 FROM ledger_transfers r WHERE r.tenant_id = t.tenant_id AND r.reverses_id = t.id) AS reversed
       FROM ledger_transfers t
       LEFT JOIN ledger_open_pendings o ON o.tenant_id = t.tenant_id AND o.transfer_id = t.id
      WHERE t.tenant_id = $1 AND t.id = ANY($2::uuid[])`,
    [tenantId, ids],
  );
  return new Map(rows.map((row) => [row.id, row]));
}

/** The other environment's accounts are not found: a sandbox credential never moves production money. */
async function lockAccounts(manager: EntityManager, scope: LedgerScope, ids: readonly string[]): Promise<AccountRow[]> {
  if (ids.length === 0) return [];
  return manager.query(`SELECT a.*, ${CLOCK_AFTER_LOCKS} FROM (${LOCKED_ACCOUNTS}) a`, [
    scope.tenantId,
    scope.environment,
    ids,
  ]);
}

/** The batch's accounts ($1 tenant, $2 environment, $3 ids), locked in id order: two batches never deadlock. */
const LOCKED_ACCOUNTS = `SELECT id, currency, closed_at IS NOT NULL AS closed,
         debits_must_not_exceed_credits, credits_must_not_exceed_debits,
         debits_posted, credits_posted, debits_pending, credits_pending,
         (extract(epoch FROM last_entry_at) * 1000)::float8 AS last_entry_ms
    FROM ledger_accounts
   WHERE tenant_id = $1 AND environment = $2 AND id = ANY($3::uuid[])
   ORDER BY id
     FOR UPDATE`;

/** Read in the outer query, above the locks: the time after any wait for them, not before. */
const CLOCK_AFTER_LOCKS = `(extract(epoch FROM date_trunc('milliseconds', clock_timestamp())) * 1000)::float8 AS clock_ms`;

/**
 * lockAccounts and the batch's own ids already stored, in one round trip: the ids ride on one
 * row of the locking statement (once, not per account). With no account found, they are read apart.
 */
async function lockAccountsReadingIds(
  manager: EntityManager,
  scope: LedgerScope,
  accountIds: readonly string[],
  ownIds: readonly string[],
): Promise<{ accounts: AccountRow[]; states: Map<string, TransferStateRow> }> {
  const rows: Array<AccountRow & { stored: string | null }> =
    accountIds.length === 0
      ? []
      : await manager.query(
          `SELECT a.*, ${CLOCK_AFTER_LOCKS}, CASE WHEN row_number() OVER () = 1 THEN (
                    SELECT coalesce(json_agg(json_build_object('id', t.id, 'environment', t.environment,
                             'type', t.type, 'fingerprint', encode(t.fingerprint, 'hex'), 'legs', t.legs)), '[]')::text
                      FROM ledger_transfers t WHERE t.tenant_id = $1 AND t.id = ANY($4::uuid[])) END AS stored
             FROM (${LOCKED_ACCOUNTS}) a`,
          [scope.tenantId, scope.environment, accountIds, ownIds],
        );
  const carrier = rows.find((row) => row.stored !== null);
  if (carrier === undefined)
    return { accounts: rows, states: await readTransferStates(manager, scope.tenantId, ownIds) };
  const stored = JSON.parse(carrier.stored as string) as Array<
    Pick<TransferStateRow, 'id' | 'environment' | 'type' | 'fingerprint' | 'legs'>
  >;
  const states = new Map(
    stored.map((row) => [
      row.id,
      { ...row, open_legs: null, expires_at: null, resolution: null, reversed: false } satisfies TransferStateRow,
    ]),
  );
  return { accounts: rows, states };
}

async function databaseClockMs(manager: EntityManager): Promise<number> {
  const [row] = await manager.query(`SELECT ${CLOCK_AFTER_LOCKS}`);
  return (row as { clock_ms: number }).clock_ms;
}

const legOf = (leg: StoredLeg): Leg => ({ ...leg, amount: BigInt(leg.amount) });

/** Never equal to a fingerprint: an id taken in the other environment is `id_already_used`. */
const OTHER_ENVIRONMENT = 'other-environment';

function viewOf(
  scope: LedgerScope,
  accounts: readonly AccountRow[],
  states: ReadonlyMap<string, TransferStateRow>,
  commands: readonly EngineCommand[],
): LedgerView {
  const own = new Set(commands.map((command) => command.id));
  const view: LedgerView = {
    accounts: new Map(accounts.map((row) => [row.id, accountStateOf(row)])),
    existing: new Map(),
    openPendings: new Map(),
    resolvedPendings: new Map(),
    reversalTargets: new Map(),
  };
  for (const state of states.values()) {
    const visible = state.environment === scope.environment;
    if (own.has(state.id)) view.existing.set(state.id, visible ? state.fingerprint : OTHER_ENVIRONMENT);
    if (!visible) continue;
    if (state.type === 'pending') {
      const outcome = state.resolution ? RESOLUTION_OUTCOMES[state.resolution] : undefined;
      if (outcome !== undefined) view.resolvedPendings.set(state.id, outcome);
      else if (state.open_legs !== null) {
        view.openPendings.set(state.id, {
          id: state.id,
          legs: state.open_legs.map(legOf),
          expiresAtMs: state.expires_at?.getTime() ?? null,
        });
      }
    }
    const target: ReversalTarget = {
      id: state.id,
      type: state.type,
      legs: state.type === 'immediate' || state.type === 'post_pending' ? state.legs.map(legOf) : [],
      reversed: state.reversed,
    };
    view.reversalTargets.set(state.id, target);
  }
  return view;
}

function accountStateOf(row: AccountRow): AccountState {
  return {
    id: row.id,
    currency: row.currency,
    closed: row.closed,
    debitsMustNotExceedCredits: row.debits_must_not_exceed_credits,
    creditsMustNotExceedDebits: row.credits_must_not_exceed_debits,
    debitsPosted: BigInt(row.debits_posted),
    creditsPosted: BigInt(row.credits_posted),
    debitsPending: BigInt(row.debits_pending),
    creditsPending: BigInt(row.credits_pending),
  };
}

async function writeOutcome(
  manager: EntityManager,
  scope: LedgerScope,
  batch: readonly AttributedCommand[],
  outcome: BatchOutcome,
  nowMs: number,
): Promise<void> {
  const { tenantId } = scope;
  const at = new Date(nowMs).toISOString();
  // One audit event per transfer, applied or refused, in the batch's own write: recorded if and only if it commits.
  const auditEvents = transferAuditEvents(scope, batch, outcome, at);
  const auditRows = auditEvents.length > 0 ? auditOutboxRowsOf(LEDGER_AUDIT_EMITTER, auditEvents) : [];
  if (outcome.applied.length === 0) {
    // Every transfer refused: the refusals are still recorded, and nothing else is written.
    if (auditRows.length > 0) {
      const insert = outboxInsertOf(auditRows);
      await manager.query(insert.sql, insert.parameters);
    }
    return;
  }
  const actors = new Map(batch.map(({ command, actor }) => [command.id, actor]));
  const chunks: Array<{ tenantId: string; payload: PayloadOf<typeof transfersApplied> }> = [];
  for (let start = 0; start < outcome.applied.length; start += TRANSFERS_PER_EVENT_MAX) {
    const transfers = outcome.applied.slice(start, start + TRANSFERS_PER_EVENT_MAX).map((transfer) => ({
      transferId: transfer.id,
      type: transfer.type,
      category: transfer.category as Transfer['category'],
      reference: transfer.reference,
      postings: storedLegs(transfer.legs),
      pendingId: transfer.pendingId,
      reversesId: transfer.reversesId,
      actor: actors.get(transfer.id) ?? 'ledger',
    }));
    chunks.push({ tenantId, payload: { tenantId, environment: scope.environment, occurredAt: at, transfers } });
  }
  const write = batchWriteOf(
    {
      tenantId,
      environment: scope.environment,
      at,
      actorOf: (id) => actors.get(id) ?? 'ledger',
      events: [...outboxRowsOf(transfersApplied, chunks), ...auditRows],
    },
    outcome,
  );
  await manager.query(write.sql, write.parameters);
}

interface TransferRow {
  id: string;
  type: TransferType;
  category: Transfer['category'];
  reference: string | null;
  metadata: Record<string, string>;
  legs: StoredLeg[];
  pending_id: string | null;
  reverses_id: string | null;
  expires_at: Date | null;
  created_at: Date;
  open: boolean;
  resolution: TransferType | null;
  reversed_by: string | null;
}

async function selectTransfers(
  manager: EntityManager,
  scope: LedgerScope,
  condition: string,
  parameters: readonly unknown[],
  limit = 1,
): Promise<Transfer[]> {
  const rows: TransferRow[] = await manager.query(
    `SELECT t.id, t.type, t.category, t.reference, t.metadata, t.legs, t.pending_id, t.reverses_id, t.expires_at,
            t.created_at,
            EXISTS (SELECT 1 FROM ledger_open_pendings o WHERE o.tenant_id = t.tenant_id AND o.transfer_id = t.id) AS open,
            (SELECT r.type FROM ledger_transfers r WHERE r.tenant_id = t.tenant_id AND r.pending_id = t.id) AS resolution,
            (SELECT r.id FROM ledger_transfers r WHERE r.tenant_id = t.tenant_id AND r.reverses_id = t.id) AS reversed_by
       FROM ledger_transfers t
      WHERE t.tenant_id = $1 AND t.environment = $2 AND ${condition}
      ORDER BY t.created_at, t.id
      LIMIT ${limit}`,
    [scope.tenantId, scope.environment, ...parameters],
  );
  return rows.map(transferOf(scope.tenantId));
}

function pendingStatusOf(row: TransferRow): Transfer['pendingStatus'] {
  if (row.type !== 'pending') return null;
  if (row.resolution !== null) return RESOLUTION_OUTCOMES[row.resolution] ?? null;
  return row.open ? 'open' : null;
}

function transferOf(tenantId: string) {
  return (row: TransferRow): Transfer => ({
    tenantId,
    id: row.id,
    type: row.type,
    category: row.category,
    reference: row.reference,
    metadata: row.metadata,
    postings: row.legs,
    pendingId: row.pending_id,
    reversesId: row.reverses_id,
    pendingStatus: pendingStatusOf(row),
    expiresAt: row.expires_at?.toISOString() ?? null,
    reversedBy: row.reversed_by,
    createdAt: row.created_at.toISOString(),
  });
}
