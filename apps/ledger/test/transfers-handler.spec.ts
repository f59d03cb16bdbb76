import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import type { NatsContext } from '@nestjs/microservices';
import { type AuditEventInput, auditEventSchema } from '@strongroom/contracts';
import {
  BusDelivery,
  busHandlerHooks,
  PlatformError,
  type Principal,
  type ServiceResources,
} from '@strongroom/platform';
import { headers as natsHeaders } from 'nats';
import { AuditPublisher } from '../src/ledger-audit';
import type { TransferBatcher } from '../src/transfers/transfer-batcher';
import { TransfersHandler } from '../src/transfers/transfers.handler';
import type { TransfersRepository } from '../src/transfers/transfers.repository';

/** The refusals' audit events as they would be published (the AUDIT stream is the e2e tests'). */
class RecordedAudit extends AuditPublisher {
  readonly events: AuditEventInput[] = [];

  constructor() {
    super({} as ServiceResources);
  }

  override publish(events: readonly AuditEventInput[]): void {
    this.events.push(...events);
  }
}

const TENANT = randomUUID();
const CLERK = 'Bearer clerk';

describe('TransfersHandler refusing a reversal to a caller without ledger.transfers.reverse', () => {
  const installed = busHandlerHooks.verifyCredential;
  const applied: unknown[] = [];
  beforeAll(() => {
    busHandlerHooks.verifyCredential = async (authorization) => {
      if (authorization !== CLERK) throw PlatformError.unauthenticated();
      return {
        subject: 'clerk-1',
        tenantId: TENANT,
        environment: 'production',
        clientId: undefined,
        tokenId: randomUUID(),
        issuedAt: new Date(),
        expiresAt: new Date(Date.now() + 60_000),
        permissions: new Set(['ledger.transfers.create']),
      } satisfies Principal;
    };
  });
  afterAll(() => {
    busHandlerHooks.verifyCredential = installed;
  });

  it('applies nothing and records each reversal it asked for as denied, with the request', async () => {
    const audit = new RecordedAudit();
    const repository = { applyBatch: async (...args: unknown[]) => applied.push(args) };
    const handler = new TransfersHandler(repository as unknown as TransfersRepository, {} as TransferBatcher, audit);
    const headers = natsHeaders();
    headers.set('authorization', CLERK);
    headers.set('x-request-id', 'req-reverse-1');
    const reversal = { type: 'reversal', id: randomUUID(), reversesId: randomUUID(), category: 'adjustment' };
    const payload = { tenantId: TENANT, transfers: [reversal, { ...reversal, id: randomUUID(), category: 'fee' }] };
    const invoke = handler.createBatch as unknown as (data: unknown, context: NatsContext) => Promise<unknown>;
    const error = await invoke
      .call(handler, new BusDelivery(payload, undefined), { getHeaders: () => headers } as unknown as NatsContext)
      .catch((caught: { getError(): unknown }) => caught.getError());

    expect(error).toMatchObject({ code: 'FORBIDDEN', details: { permission: 'ledger.transfers.reverse' } });
    expect(applied).toEqual([]);
    expect(audit.events.map((event) => [event.action, event.outcome, event.reason])).toEqual([
      ['ledger.transfer.adjustment', 'denied', 'PERMISSION_NOT_HELD'],
      ['ledger.transfer.fee', 'denied', 'PERMISSION_NOT_HELD'],
    ]);
    for (const event of audit.events) {
      expect(auditEventSchema.safeParse(event).success).toBe(true);
      expect(event).toMatchObject({
        tenantId: TENANT,
        environment: 'production',
        actor: { type: 'user', id: 'clerk-1' },
        requestId: 'req-reverse-1',
      });
    }
  });
});
