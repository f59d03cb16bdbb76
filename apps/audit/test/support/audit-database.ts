import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AUDIT_RETENTION_DAYS_RANGE,
  type AuditEmitter,
  type AuditEvent,
  type AuditEventInput,
  type AuditSigningKey,
  type AuditVerification,
  auditEventSchema,
} from '@strongroom/contracts';
import {
  auditEventOf,
  createLogger,
  createServiceDataSource,
  LocalSecretsProvider,
  type ServiceResources,
  withDatabase,
} from '@strongroom/platform';
import { createTestDatabase, type TestDatabase } from '@strongroom/testing';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import { migrations } from '../../migrations';
import { AuditCheckpoints } from '../../src/checkpoints/audit-checkpoints';
import { CheckpointSigner } from '../../src/checkpoints/checkpoint-signer';
import { AuditExports } from '../../src/exports/audit-exports';
import { AuditStore } from '../../src/ingest/audit-store';
import type { EmittedEvent } from '../../src/ingest/ingest-plan';
import { RecordsRepository } from '../../src/records/records.repository';
import { AuditPurge } from '../../src/retention/audit-purge';
import { LegalHoldsRepository } from '../../src/retention/legal-holds.repository';
import { verifyChainIn } from '../../src/verification/chain-verification';
import { inTenantSnapshot } from '../../src/verification/snapshot';

/** A test clock for the store: records are recorded "at" whatever instant the test sets. */
export class TestClock {
  constructor(public nowMs = Date.now()) {}
  readonly read = (): number => this.nowMs;
}

/**
 * The audit service's real store, checkpoints, exports, holds and purge over a migrated test
 * database, used as the service uses them (runtime role, row-level security), with the local
 * secrets provider's Transit signing; plus a superuser connection for what only a test (or an
 * attacker with the disk) does. Tenants' retention is the default unless a test sets one: there
 * is no tenants service here.
 */
export class AuditTestDatabase {
  private constructor(
    /** Tenants' retention as the tenants service would answer it (the default for the others). */
    readonly retentionDays: Map<string, number>,
    readonly database: TestDatabase,
    readonly dataSource: DataSource,
    readonly superuser: Client,
    private readonly stateDir: string,
    readonly clock: TestClock,
    readonly store: AuditStore,
    readonly signer: CheckpointSigner,
    readonly checkpoints: AuditCheckpoints,
    readonly records: RecordsRepository,
    readonly exports: AuditExports,
    readonly holds: LegalHoldsRepository,
    readonly purge: AuditPurge,
  ) {}

  static async open(label: string): Promise<AuditTestDatabase> {
    const database = await createTestDatabase(label, migrations);
    const dataSource = createServiceDataSource({
      url: database.runtimeUrl,
      applicationName: 'audit-test',
      poolSize: 4,
    });
    await dataSource.initialize();
    const superuser = new Client({ connectionString: withDatabase(database.adminUrl, database.databaseName) });
    await superuser.connect();
    const logger = createLogger({ service: 'audit', level: 'silent' });
    const stateDir = mkdtempSync(join(tmpdir(), 'strongroom-audit-secrets-'));
    const secrets = new LocalSecretsProvider({ stateDir, logger, nodeEnv: 'test' });
    const resources = { logger, secrets } as Pick<ServiceResources, 'logger' | 'secrets'>;
    const clock = new TestClock();
    const signer = new CheckpointSigner(resources);
    const checkpoints = new AuditCheckpoints(dataSource, signer, resources);
    const retentionDays = new Map<string, number>();
    const purge = new AuditPurge(
      dataSource,
      checkpoints,
      { retentionDaysOf: async (tenantId) => retentionDays.get(tenantId) ?? AUDIT_RETENTION_DAYS_RANGE.default },
      resources,
    );
    return new AuditTestDatabase(
      retentionDays,
      database,
      dataSource,
      superuser,
      stateDir,
      clock,
      new AuditStore(dataSource, clock.read),
      signer,
      checkpoints,
      new RecordsRepository(dataSource),
      new AuditExports(dataSource, checkpoints, signer),
      new LegalHoldsRepository(dataSource),
      purge,
    );
  }

  async close(): Promise<void> {
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
    await this.superuser.end();
    await this.database.drop();
    rmSync(this.stateDir, { recursive: true, force: true });
  }

  /** Stores `count` events of a tenant (as emitted by `emitter`), in one batch; resolves to the events. */
  async storeEvents(tenantId: string, count: number, emitter: AuditEmitter = 'ledger'): Promise<AuditEvent[]> {
    const events = Array.from({ length: count }, (_, index) => eventFor(tenantId, { details: { index } }));
    await this.store.store(events.map((event) => ({ event, emitter })));
    return events;
  }

  async verify(tenantId: string, keys?: AuditSigningKey[]): Promise<AuditVerification> {
    // What the pipeline does between a purge and a verification: the service's own records
    // (the purge's among them) reach its chain (stored once, however often).
    const own = await this.ownEvents(tenantId);
    if (own.length > 0) await this.store.store(own.map((event) => ({ event, emitter: 'audit' as const })));
    const pinned = keys ?? (await this.signer.publicKeys());
    return inTenantSnapshot(this.dataSource, tenantId, (manager) => verifyChainIn(manager, tenantId, pinned));
  }

  /** As a superuser with triggers off (session_replication_role = replica), as an attacker with the database would. */
  async tamper(sql: string, parameters: unknown[] = []): Promise<void> {
    await this.superuser.query('BEGIN');
    try {
      await this.superuser.query("SET LOCAL session_replication_role = 'replica'");
      await this.superuser.query(sql, parameters);
      await this.superuser.query('COMMIT');
    } catch (error) {
      await this.superuser.query('ROLLBACK');
      throw error;
    }
  }

  async countRecords(tenantId: string): Promise<number> {
    const { rows } = await this.superuser.query('SELECT count(*)::int AS n FROM audit_records WHERE tenant_id = $1', [
      tenantId,
    ]);
    return rows[0].n;
  }

  /** Audit events the service wrote to its own outbox (its own actions), parsed. */
  async ownEvents(tenantId: string): Promise<AuditEvent[]> {
    const { rows } = await this.superuser.query<{ payload: { events: AuditEvent[] } }>(
      `SELECT payload FROM outbox WHERE subject = 'audit.events.audit' AND tenant_id = $1 ORDER BY seq`,
      [tenantId],
    );
    return rows.flatMap((row) => row.payload.events);
  }
}

/** A valid event of `tenantId` (checked against the contract), with overrides. */
export function eventFor(tenantId: string, overrides: Partial<AuditEventInput> = {}): AuditEvent {
  return auditEventSchema.parse(
    auditEventOf({
      tenantId,
      actor: { type: 'user', id: 'user-1' },
      action: 'ledger.transfer.allocation',
      resource: { type: 'transfer', id: randomUUID() },
      outcome: 'success',
      requestId: `req-${randomUUID()}`,
      ...overrides,
    }),
  );
}

export function emitted(events: readonly AuditEvent[], emitter: AuditEmitter = 'ledger'): EmittedEvent[] {
  return events.map((event) => ({ event, emitter }));
}
