import { randomUUID } from 'node:crypto';
import {
  AUDIT_EXPORT_FORMAT,
  AUDIT_GENESIS_HASH,
  AuditChainVerifier,
  type AuditExportRecord,
  auditExportSchema,
  isAuditCheckpointSigned,
} from '@strongroom/contracts';
import type { AuditInitiator } from '../src/own-audit-events';
import { AuditTestDatabase, emitted, eventFor } from './support/audit-database';

const HOUR_MS = 3_600_000;
const auditor: AuditInitiator = {
  actor: { type: 'user', id: 'auditor-1' },
  origin: { requestId: 'req-export-1' },
  environment: 'production',
};

/**
 * What an auditor does with a tenant's trail (issue 7, "Use"): query with filters and a cursor,
 * checkpoints (one per head, reused), and exports of a period that a third party verifies with
 * the export's start hash, its checkpoint and the keys alone.
 */
describe('queries, checkpoints and exports (real Postgres)', () => {
  let db: AuditTestDatabase;

  beforeAll(async () => {
    db = await AuditTestDatabase.open('audit_queries');
  });

  afterAll(async () => {
    await db?.close();
  });

  describe('listAuditRecords', () => {
    const tenantId = randomUUID();
    const requestId = `req-${randomUUID()}`;

    beforeAll(async () => {
      const at = (offsetHours: number) => new Date(Date.UTC(2026, 0, 1) + offsetHours * HOUR_MS).toISOString();
      await db.store.store(
        emitted([
          eventFor(tenantId, { occurredAt: at(0), actor: { type: 'user', id: 'alice' } }),
          eventFor(tenantId, {
            occurredAt: at(1),
            actor: { type: 'user', id: 'bob' },
            outcome: 'denied',
            reason: 'FORBIDDEN',
          }),
          eventFor(tenantId, { occurredAt: at(2), action: 'auth.login.attempt', requestId }),
          eventFor(tenantId, { occurredAt: at(3), resource: { type: 'account', id: 'acct-9' } }),
          eventFor(tenantId, { occurredAt: at(4), actor: { type: 'api_key', id: 'key-1' }, outcome: 'failure' }),
        ]),
      );
      await db.storeEvents(randomUUID(), 3);
    });

    it('answers newest first with a cursor, and only this tenant', async () => {
      const first = await db.records.list(tenantId, {}, { limit: 2 });
      expect(first.records.map(({ record }) => record.seq)).toEqual([5, 4]);
      expect(first.nextCursor).toBe('4');
      const second = await db.records.list(tenantId, {}, { limit: 2, cursor: first.nextCursor as string });
      expect(second.records.map(({ record }) => record.seq)).toEqual([3, 2]);
      const last = await db.records.list(tenantId, {}, { limit: 2, cursor: second.nextCursor as string });
      expect(last).toEqual({
        records: [expect.objectContaining({ record: expect.objectContaining({ seq: 1 }) })],
        nextCursor: null,
      });
      expect(first.records.every(({ record }) => record.tenantId === tenantId)).toBe(true);
    });

    it.each([
      ['a time range', { from: '2026-01-01T01:00:00Z', to: '2026-01-01T03:00:00+00:00' }, [3, 2]],
      ['an actor', { actorType: 'user' as const, actorId: 'bob' }, [2]],
      ['an action', { action: 'auth.login.attempt' as const }, [3]],
      ['a resource', { resourceType: 'account', resourceId: 'acct-9' }, [4]],
      ['an outcome', { outcome: 'denied' as const }, [2]],
      ['a request id', { requestId: 'placeholder' }, [3]],
    ])('filters by %s', async (_name, filters, seqs) => {
      const chosen = 'requestId' in filters ? { requestId } : filters;
      const page = await db.records.list(tenantId, chosen, { limit: 10 });
      expect(page.records.map(({ record }) => record.seq)).toEqual(seqs);
      for (const { record, hash } of page.records) {
        expect(hash).toMatch(/^[0-9a-f]{64}$/);
        expect(record.emitter).toBe('ledger');
      }
    });
  });

  describe('checkpoints', () => {
    it('signs the head once: a second request for an unmoved head answers the stored checkpoint', async () => {
      const tenantId = randomUUID();
      await db.storeEvents(tenantId, 3);
      const first = await db.checkpoints.ofHead(tenantId);
      const again = await db.checkpoints.ofHead(tenantId);
      expect(again).toEqual(first);
      expect(isAuditCheckpointSigned(first, await db.signer.publicKeys())).toBe(true);
      await db.storeEvents(tenantId, 1);
      expect((await db.checkpoints.ofHead(tenantId)).statement.seq).toBe(4);
    });

    it('signs a tenant with no record at genesis (seq 0)', async () => {
      const checkpoint = await db.checkpoints.ofHead(randomUUID());
      expect(checkpoint.statement).toMatchObject({ seq: 0, headHash: AUDIT_GENESIS_HASH });
    });

    it('the periodic sweep signs every head that moved, and only those', async () => {
      const moved = randomUUID();
      const still = randomUUID();
      await db.storeEvents(still, 2);
      await db.checkpoints.ofHead(still);
      await db.storeEvents(moved, 2);
      await db.checkpoints.sweep();
      const { rows } = await db.superuser.query(
        'SELECT tenant_id, seq::int FROM audit_checkpoints WHERE tenant_id = ANY($1) ORDER BY tenant_id, seq',
        [[moved, still]],
      );
      expect(rows).toEqual(
        [
          { tenant_id: moved, seq: 2 },
          { tenant_id: still, seq: 2 },
        ].sort((a, b) => a.tenant_id.localeCompare(b.tenant_id)),
      );
      expect(await db.checkpoints.sweep()).toBe(0);
    });
  });

  describe('exports', () => {
    const tenantId = randomUUID();
    const day = (n: number) => Date.UTC(2026, 1, n);

    beforeAll(async () => {
      for (const [n, count] of [
        [1, 3],
        [2, 4],
        [3, 2],
      ] as const) {
        db.clock.nowMs = day(n) + HOUR_MS;
        await db.storeEvents(tenantId, count);
      }
      db.clock.nowMs = Date.now();
    });

    it("exports a period's run of the chain with a checkpoint at its last record, which a third party verifies", async () => {
      const exported = await db.exports.create(
        tenantId,
        { from: new Date(day(2)).toISOString(), to: new Date(day(3)).toISOString() },
        auditor,
      );
      expect(auditExportSchema.parse(exported)).toEqual(exported);
      expect(exported).toMatchObject({
        format: AUDIT_EXPORT_FORMAT,
        records: 4,
        firstSeq: 4,
        lastSeq: 7,
        checkpoint: { statement: { seq: 7 } },
      });

      // The third party: the pages, the start hash, the checkpoint and the keys; nothing else.
      const documents: AuditExportRecord[] = [];
      for (let cursor: string | undefined; ; ) {
        const page = await db.records.exportPage(
          tenantId,
          { firstSeq: exported.firstSeq, lastSeq: exported.lastSeq },
          { limit: 3, ...(cursor ? { cursor } : {}) },
        );
        documents.push(...page.records);
        if (page.nextCursor === null) break;
        cursor = page.nextCursor;
      }
      expect(documents.map(({ seq }) => seq)).toEqual([4, 5, 6, 7]);
      const verifier = new AuditChainVerifier(
        tenantId,
        { seq: exported.firstSeq - 1, hash: exported.startHash, vouchedBy: 'end' },
        new Set([7]),
      );
      for (const record of documents) verifier.add(record);
      expect(verifier.finish([exported.checkpoint!], exported.signingKeys, undefined)).toEqual({
        checked: 1,
        valid: 1,
      });
      expect(verifier.problems).toEqual([]);

      expect(await db.ownEvents(tenantId)).toContainEqual(
        expect.objectContaining({
          action: 'audit.records.export',
          actor: auditor.actor,
          requestId: 'req-export-1',
          environment: 'production',
          details: expect.objectContaining({ firstSeq: 4, lastSeq: 7, records: 4 }),
        }),
      );
    });

    it('reuses the checkpoint a second export of the period finds', async () => {
      const period = { from: new Date(day(1)).toISOString(), to: new Date(day(2)).toISOString() };
      const first = await db.exports.create(tenantId, period, auditor);
      const second = await db.exports.create(tenantId, period, auditor);
      expect(second.checkpoint).toEqual(first.checkpoint);
      expect(first).toMatchObject({ firstSeq: 1, lastSeq: 3, startHash: AUDIT_GENESIS_HASH });
    });

    it('answers an empty period with no checkpoint, and refuses a period that has not ended', async () => {
      const empty = await db.exports.create(
        tenantId,
        { from: new Date(day(2) + 2 * HOUR_MS).toISOString(), to: new Date(day(3)).toISOString() },
        auditor,
      );
      expect(empty).toMatchObject({ records: 0, firstSeq: 8, lastSeq: 7, checkpoint: null });
      await expect(
        db.exports.create(
          tenantId,
          { from: new Date().toISOString(), to: new Date(Date.now() + HOUR_MS).toISOString() },
          auditor,
        ),
      ).rejects.toMatchObject({ code: 'VALIDATION' });
    });
  });
});
