import { randomUUID } from 'node:crypto';
import { AUDIT_RETENTION_DAYS_RANGE } from '@strongroom/contracts';
import { SCHEDULED_BY_AUDIT } from '../src/own-audit-events';
import { AuditTestDatabase } from './support/audit-database';

const DAY_MS = 86_400_000;
/** Past the default retention (7 years) by a comfortable margin. */
const EIGHT_YEARS_AGO_MS = Date.now() - 8 * 366 * DAY_MS;
const OLD_RECORDS = 7;
const NEW_RECORDS = 3;
/** 55000 object_not_in_prerequisite_state: audit_purge refused. */
const PURGE_REFUSED = '55000';

/**
 * Retention (issue 7): records past their tenant's retention are purged, the chain that remains
 * still verifies from the boundary a signed checkpoint anchors; a legal hold keeps everything;
 * audit_purge refuses whatever is not anchored, not expired, or under a hold.
 */
describe('retention, legal holds and the purge (real Postgres)', () => {
  let db: AuditTestDatabase;

  beforeAll(async () => {
    db = await AuditTestDatabase.open('audit_retention');
  });

  afterAll(async () => {
    await db?.close();
  });

  /** A tenant with OLD_RECORDS records recorded eight years ago and NEW_RECORDS today. */
  async function tenantWithOldRecords(): Promise<string> {
    const tenantId = randomUUID();
    db.clock.nowMs = EIGHT_YEARS_AGO_MS;
    await db.storeEvents(tenantId, OLD_RECORDS);
    db.clock.nowMs = Date.now();
    await db.storeEvents(tenantId, NEW_RECORDS);
    return tenantId;
  }

  /** Calls audit_purge as the service does (runtime role, the tenant's transaction). */
  async function callPurge(tenantId: string, throughSeq: number, retentionDays: number): Promise<number> {
    return db.dataSource.transaction(async (manager) => {
      await manager.query("SELECT set_config('app.tenant_id', $1, true)", [tenantId]);
      const [row] = await manager.query('SELECT audit_purge($1, $2, $3) AS records', [
        tenantId,
        throughSeq,
        retentionDays,
      ]);
      return Number(row.records);
    });
  }

  it('purges the expired records and the rest still verifies from the anchored boundary', async () => {
    const tenantId = await tenantWithOldRecords();
    expect(await db.purge.purgeTenant(tenantId)).toBe(OLD_RECORDS);

    expect(await db.countRecords(tenantId)).toBe(NEW_RECORDS);
    const verification = await db.verify(tenantId);
    // The purge's own record follows the new ones, and vouches for the boundary.
    expect(verification).toMatchObject({
      valid: true,
      startSeq: OLD_RECORDS,
      lastSeq: OLD_RECORDS + NEW_RECORDS + 1,
      records: NEW_RECORDS + 1,
      checkpoints: { checked: 1, valid: 1 },
      problems: [],
    });
    const { rows } = await db.superuser.query(
      'SELECT through_seq::int, records::int, through_hash = (SELECT head_hash FROM audit_checkpoints c WHERE c.tenant_id = p.tenant_id AND c.seq = p.through_seq) AS anchored FROM audit_purges p WHERE tenant_id = $1',
      [tenantId],
    );
    expect(rows).toEqual([{ through_seq: OLD_RECORDS, records: OLD_RECORDS, anchored: true }]);
    // The purge is itself an audit event, written with it.
    expect(await db.ownEvents(tenantId)).toEqual([
      expect.objectContaining({
        tenantId,
        action: 'audit.records.purge',
        actor: SCHEDULED_BY_AUDIT.actor,
        outcome: 'success',
        details: {
          throughSeq: OLD_RECORDS,
          throughHash: expect.stringMatching(/^[0-9a-f]{64}$/),
          records: OLD_RECORDS,
          retentionDays: AUDIT_RETENTION_DAYS_RANGE.default,
        },
      }),
    ]);
    // Nothing more is due: a second run purges nothing.
    expect(await db.purge.purgeTenant(tenantId)).toBe(0);
  });

  it('reports the boundary if its checkpoint is then removed (a purged chain must stay anchored)', async () => {
    const tenantId = await tenantWithOldRecords();
    await db.purge.purgeTenant(tenantId);
    await db.tamper('DELETE FROM audit_checkpoints WHERE tenant_id = $1', [tenantId]);
    const verification = await db.verify(tenantId);
    expect(verification.problems.map(({ kind, seq }) => ({ kind, seq }))).toEqual([
      { kind: 'checkpoint_mismatch', seq: OLD_RECORDS },
    ]);
  });

  it("keeps records a tenant's longer retention still covers", async () => {
    const tenantId = await tenantWithOldRecords();
    db.retentionDays.set(tenantId, AUDIT_RETENTION_DAYS_RANGE.max);
    expect(await db.purge.purgeTenant(tenantId)).toBe(0);
    expect(await db.countRecords(tenantId)).toBe(OLD_RECORDS + NEW_RECORDS);
  });

  it('purges nothing while a legal hold is placed, and purges once it is released', async () => {
    const tenantId = await tenantWithOldRecords();
    const hold = await db.holds.place(tenantId, 'Litigation 2025-17', 'user-legal', SCHEDULED_BY_AUDIT);
    expect(hold).toMatchObject({ tenantId, reason: 'Litigation 2025-17', placedBy: 'user-legal' });
    await expect(db.holds.place(tenantId, 'again', 'user-legal', SCHEDULED_BY_AUDIT)).rejects.toMatchObject({
      code: 'CONFLICT',
      details: { reason: 'AUDIT_LEGAL_HOLD_EXISTS' },
    });

    expect(await db.purge.purgeTenant(tenantId)).toBe(0);
    expect(await db.countRecords(tenantId)).toBe(OLD_RECORDS + NEW_RECORDS);
    // audit_purge itself refuses too, even with a checkpoint at the boundary.
    const { rows } = await db.superuser.query('SELECT hash FROM audit_records WHERE tenant_id = $1 AND seq = 3', [
      tenantId,
    ]);
    await db.checkpoints.at(tenantId, 3, rows[0].hash);
    await expect(callPurge(tenantId, 3, AUDIT_RETENTION_DAYS_RANGE.default)).rejects.toMatchObject({
      code: PURGE_REFUSED,
      message: 'audit_purge: the tenant is under a legal hold',
    });
    expect(await db.holds.status(tenantId)).toEqual({ hold, purgedThroughSeq: 0 });

    expect(await db.holds.release(tenantId, SCHEDULED_BY_AUDIT)).toBe(true);
    expect(await db.holds.release(tenantId, SCHEDULED_BY_AUDIT)).toBe(false);
    expect(await db.purge.purgeTenant(tenantId)).toBe(OLD_RECORDS);
    expect(await db.holds.status(tenantId)).toEqual({ hold: null, purgedThroughSeq: OLD_RECORDS });
    expect((await db.ownEvents(tenantId)).map((event) => event.action)).toEqual([
      'audit.legal-hold.place',
      'audit.legal-hold.release',
      'audit.records.purge',
    ]);
  });

  it('refuses to purge without a checkpoint anchoring the boundary', async () => {
    const tenantId = await tenantWithOldRecords();
    await expect(callPurge(tenantId, 5, AUDIT_RETENTION_DAYS_RANGE.default)).rejects.toMatchObject({
      code: PURGE_REFUSED,
      message: 'audit_purge: no checkpoint anchors this seq',
    });
    // A checkpoint at another seq does not anchor this one.
    const { rows } = await db.superuser.query(
      'SELECT seq::int, hash FROM audit_records WHERE tenant_id = $1 ORDER BY seq',
      [tenantId],
    );
    await db.checkpoints.at(tenantId, 4, rows[3].hash);
    await expect(callPurge(tenantId, 5, AUDIT_RETENTION_DAYS_RANGE.default)).rejects.toMatchObject({
      code: PURGE_REFUSED,
    });
    expect(await db.countRecords(tenantId)).toBe(OLD_RECORDS + NEW_RECORDS);
    // With the checkpoint at 4 it may purge through 4, and only that.
    expect(await callPurge(tenantId, 4, AUDIT_RETENTION_DAYS_RANGE.default)).toBe(4);
    // Called bare (the owner alone, not the service's purge), it leaves no purge record in the
    // chain: verification says records before 4 were removed, not purged.
    expect((await db.verify(tenantId)).problems.map(({ kind, seq }) => ({ kind, seq }))).toEqual([
      { kind: 'purge_unrecorded', seq: 4 },
    ]);
  });

  it('refuses records within their retention, a retention under the floor, and another tenant', async () => {
    const tenantId = await tenantWithOldRecords();
    const { rows } = await db.superuser.query(
      'SELECT seq::int, hash FROM audit_records WHERE tenant_id = $1 ORDER BY seq',
      [tenantId],
    );
    const lastSeq = OLD_RECORDS + NEW_RECORDS;
    await db.checkpoints.at(tenantId, lastSeq, rows[lastSeq - 1].hash);
    await expect(callPurge(tenantId, lastSeq, AUDIT_RETENTION_DAYS_RANGE.default)).rejects.toMatchObject({
      code: PURGE_REFUSED,
      message: 'audit_purge: records up to this seq are within their retention',
    });
    await expect(callPurge(tenantId, lastSeq, 1)).rejects.toMatchObject({
      code: PURGE_REFUSED,
      message: `audit_purge: retention is at least ${AUDIT_RETENTION_DAYS_RANGE.min} days`,
    });
    const other = randomUUID();
    await expect(
      db.dataSource.transaction(async (manager) => {
        await manager.query("SELECT set_config('app.tenant_id', $1, true)", [other]);
        await manager.query('SELECT audit_purge($1, $2, $3)', [tenantId, 1, AUDIT_RETENTION_DAYS_RANGE.default]);
      }),
    ).rejects.toMatchObject({ code: '42501' });
    expect(await db.countRecords(tenantId)).toBe(lastSeq);
  });

  it('purges in steps, each anchored, when many records expired', async () => {
    const tenantId = randomUUID();
    db.clock.nowMs = EIGHT_YEARS_AGO_MS;
    const many = 10_000 + 500;
    for (let stored = 0; stored < many; stored += 3_500) await db.storeEvents(tenantId, 3_500);
    db.clock.nowMs = Date.now();
    await db.storeEvents(tenantId, 2);
    expect(await db.purge.purgeTenant(tenantId)).toBe(many);
    const { rows } = await db.superuser.query(
      'SELECT through_seq::int, records::int FROM audit_purges WHERE tenant_id = $1 ORDER BY through_seq',
      [tenantId],
    );
    expect(rows).toEqual([
      { through_seq: 10_000, records: 10_000 },
      { through_seq: many, records: 500 },
    ]);
    // The two new records and the two steps' purge records.
    expect(await db.verify(tenantId)).toMatchObject({ valid: true, startSeq: many, records: 4 });
  });
});
