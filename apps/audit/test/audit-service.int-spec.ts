import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { RunningStack } from '@strongroom/cli';
import {
  AUDIT_RETENTION_DAYS_RANGE,
  type AuditEvent,
  auditEventSchema,
  createAuditCheckpoint,
  createAuditExport,
  getAuditLegalHold,
  getAuditSigningKeys,
  isAuditCheckpointSigned,
  listAuditCheckpoints,
  listAuditExportRecords,
  listAuditRecords,
  placeAuditLegalHold,
  releaseAuditLegalHold,
  verifyAuditChain,
} from '@strongroom/contracts';
import { auditEventOf, busTlsFilesFor, connectBus, PlatformError, publishAudit } from '@strongroom/platform';
import type { NatsConnection } from 'nats';
import { type LedgerBus, ledgerBusOf } from '../../../test/e2e/support/ledger-bus';
import { startTestStack, type TestStack } from '../../../test/e2e/test-stack';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function eventually<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value).slice(0, 500)}`);
    await sleep(100);
  }
}

/**
 * The audit service as it runs (built, its own process, in the whole stack) and as a tenant's
 * auditor calls it over the bus with a real token: what other services emit is stored and
 * verifies; checkpoints, exports and legal holds answer; its own actions land in the tenant's
 * trail; another tenant's trail is not found.
 */
describe('the audit service over the bus (whole stack)', () => {
  let testStack: TestStack;
  let stack: RunningStack;
  let auditor: LedgerBus;
  let emitter: NatsConnection;
  let tenantId: string;
  const emitted: AuditEvent[] = [];

  beforeAll(async () => {
    testStack = await startTestStack({ AUDIT_CHECKPOINT_INTERVAL_SECONDS: '1' });
    stack = testStack.stack;
    tenantId = stack.demo.tenantId;
    auditor = await ledgerBusOf(testStack, { name: 'audit-service-test', timeoutMs: 30_000 });
    emitter = await connectBus({
      servers: stack.natsUrl,
      tls: busTlsFilesFor(join(testStack.stateDir, 'pki'), 'ledger'),
      name: 'audit-service-test-emitter',
    });
    for (let index = 0; index < 5; index += 1) {
      emitted.push(
        auditEventSchema.parse(
          auditEventOf({
            tenantId,
            actor: { type: 'user', id: 'clerk-1' },
            action: 'ledger.transfer.settlement',
            resource: { type: 'transfer', id: randomUUID() },
            outcome: index === 4 ? 'denied' : 'success',
            requestId: `req-audit-service-${index}`,
          }),
        ),
      );
    }
    expect(await publishAudit(emitter, 'ledger', emitted)).toBe(true);
  }, 180_000);

  afterAll(async () => {
    await emitter?.close();
    await auditor?.close();
    await testStack?.dispose();
  }, 60_000);

  it("stores what an emitter sent, and the tenant's auditor reads it back by request id", async () => {
    const page = await eventually(
      'the events to be stored',
      () => auditor.call(listAuditRecords, { tenantId, requestId: 'req-audit-service-4' }),
      (answer) => answer.records.length === 1,
    );
    expect(page.records[0]?.record).toMatchObject({ id: emitted[4]?.id, emitter: 'ledger', outcome: 'denied' });
  });

  it('verifies the chain, checkpointed by the periodic job and on demand, signed by the published keys', async () => {
    await eventually(
      'every event to be stored',
      () => auditor.call(listAuditRecords, { tenantId, action: 'ledger.transfer.settlement', limit: 10 }),
      (answer) => answer.records.length === emitted.length,
    );
    const periodic = await eventually(
      'the periodic checkpoint',
      () => auditor.call(listAuditCheckpoints, { tenantId }),
      (answer) => answer.checkpoints.length > 0,
    );
    const onDemand = await auditor.call(createAuditCheckpoint, { tenantId });
    const { keys } = await auditor.call(getAuditSigningKeys, { tenantId });
    expect(isAuditCheckpointSigned(onDemand, keys)).toBe(true);
    expect(periodic.checkpoints.every((checkpoint) => isAuditCheckpointSigned(checkpoint, keys))).toBe(true);
    const verification = await auditor.call(verifyAuditChain, { tenantId });
    expect(verification).toMatchObject({ tenantId, valid: true, problems: [] });
    expect(verification.records).toBeGreaterThanOrEqual(emitted.length);
    expect(verification.checkpoints.valid).toBe(verification.checkpoints.checked);
  });

  it('exports a period with its checkpoint, and the pages hold the stored documents', async () => {
    const to = new Date().toISOString();
    const from = new Date(Date.now() - 3_600_000).toISOString();
    const exported = await auditor.call(createAuditExport, { tenantId, from, to });
    expect(exported.records).toBeGreaterThanOrEqual(emitted.length);
    expect(exported.checkpoint?.statement.seq).toBe(exported.lastSeq);
    const page = await auditor.call(listAuditExportRecords, {
      tenantId,
      firstSeq: exported.firstSeq,
      lastSeq: exported.lastSeq,
    });
    expect(page.records.map(({ seq }) => seq)).toEqual(
      Array.from({ length: exported.records }, (_, index) => exported.firstSeq + index),
    );
  });

  it("places and releases a legal hold, with the tenant's retention from the tenants service", async () => {
    const hold = await auditor.call(placeAuditLegalHold, { tenantId, reason: 'Regulator inquiry 7' });
    expect(hold).toMatchObject({ tenantId, reason: 'Regulator inquiry 7' });
    expect(await auditor.call(getAuditLegalHold, { tenantId })).toEqual({
      hold,
      retentionDays: AUDIT_RETENTION_DAYS_RANGE.default,
      purgedThroughSeq: 0,
    });
    await expect(auditor.call(placeAuditLegalHold, { tenantId, reason: 'again' })).rejects.toMatchObject({
      code: 'CONFLICT',
    });
    expect(await auditor.call(releaseAuditLegalHold, { tenantId })).toEqual({ tenantId, released: true });
  });

  it("records its own actions in the tenant's trail, as the caller's", async () => {
    for (const action of ['audit.legal-hold.place', 'audit.legal-hold.release', 'audit.records.export'] as const) {
      const page = await eventually(
        `${action} to be recorded`,
        () => auditor.call(listAuditRecords, { tenantId, action }),
        (answer) => answer.records.length > 0,
      );
      expect(page.records[0]?.record).toMatchObject({
        emitter: 'audit',
        actor: { type: 'client', id: stack.demo.clientId },
        outcome: 'success',
      });
    }
    expect((await auditor.call(verifyAuditChain, { tenantId })).valid).toBe(true);
  });

  it("answers another tenant's trail as not found", async () => {
    const other = randomUUID();
    for (const call of [
      () => auditor.call(verifyAuditChain, { tenantId: other }),
      () => auditor.call(listAuditRecords, { tenantId: other }),
      () => auditor.call(createAuditCheckpoint, { tenantId: other }),
    ]) {
      const refusal = await call().catch((error: unknown) => error);
      expect(refusal).toBeInstanceOf(PlatformError);
      expect(refusal).toMatchObject({ code: 'NOT_FOUND' });
    }
  });
});
