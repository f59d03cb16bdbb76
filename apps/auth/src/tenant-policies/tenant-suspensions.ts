import { createHash } from 'node:crypto';
import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { ACCESS_TOKEN_TTL_SECONDS_MAX, eventStreamOf, tenantSuspended, tokensRevoked } from '@strongroom/contracts';
import {
  dataSourceOf,
  enqueueAudit,
  enqueueEvent,
  isUniqueViolation,
  SERVICE_RESOURCES,
  type ServiceResources,
  withoutTenant,
} from '@strongroom/platform';
import { AckPolicy, type ConsumerMessages, DeliverPolicy, type JsMsg } from 'nats';
import { AUTH_AUDIT_EMITTER, AUTH_SERVICE_ACTOR, authAuditEvent } from '../auth-audit';
import { TENANT_POLICY_TTL_MS, TenantPolicies } from './tenant-policies';

/** One durable consumer for every auth replica: each suspension is turned into a revocation once. */
export const TENANT_SUSPENSIONS_CONSUMER = 'auth-tenant-suspensions';
const REDELIVERY_DELAY_MS = 1_000;

/**
 * A suspended tenant's tokens stop working everywhere: each `evt.tenants.v1.tenants.suspended`
 * becomes a tenant-wide revocation (through the outbox, so every service's denylist gets it),
 * acknowledged only once that is committed. The revocation reaches a second past the moment it
 * is made: a token issued from a tenant policy cached before the suspension is covered too.
 */
@Injectable()
export class TenantSuspensions implements OnModuleInit, OnModuleDestroy {
  private messages: ConsumerMessages | undefined;
  private loop: Promise<void> | undefined;

  constructor(
    @Inject(SERVICE_RESOURCES) private readonly resources: ServiceResources,
    private readonly policies: TenantPolicies,
  ) {}

  async onModuleInit(): Promise<void> {
    const { connection } = this.resources;
    const stream = eventStreamOf('tenants').name;
    const manager = await connection.jetstreamManager();
    await manager.consumers.add(stream, {
      durable_name: TENANT_SUSPENSIONS_CONSUMER,
      filter_subject: tenantSuspended.subject,
      ack_policy: AckPolicy.Explicit,
      // From its creation on; afterwards the durable consumer remembers where it is, restarts included.
      deliver_policy: DeliverPolicy.New,
    });
    const consumer = await connection.jetstream().consumers.get(stream, TENANT_SUSPENSIONS_CONSUMER);
    this.messages = await consumer.consume({ max_messages: 64 });
    const messages = this.messages;
    this.loop = (async () => {
      for await (const message of messages) await this.handle(message);
    })();
  }

  async onModuleDestroy(): Promise<void> {
    await this.messages?.close();
    await this.loop;
  }

  private async handle(message: JsMsg): Promise<void> {
    const parsed = tenantSuspended.payload.safeParse(safeJson(message.data));
    if (!parsed.success) {
      this.resources.logger.error({ subject: message.subject }, 'a tenant suspension broke its contract; dropped');
      message.term();
      return;
    }
    const tenant = parsed.data;
    try {
      this.policies.forget(tenant.id);
      const revokedAt = new Date(Date.now() + TENANT_POLICY_TTL_MS);
      const expiresAt = new Date(revokedAt.getTime() + ACCESS_TOKEN_TTL_SECONDS_MAX * 1000);
      await withoutTenant(dataSourceOf(this.resources), async (manager) => {
        await enqueueEvent(
          manager,
          tokensRevoked,
          {
            scope: 'tenant',
            tenantId: tenant.id,
            revokedAt: revokedAt.toISOString(),
            expiresAt: expiresAt.toISOString(),
          },
          { tenantId: tenant.id, eventId: idOf('revocation', message.seq) },
        );
        // Auth's own act (the suspension itself is in the tenant's chain, recorded by the tenants service).
        await enqueueAudit(manager, AUTH_AUDIT_EMITTER, [
          authAuditEvent(
            { actor: AUTH_SERVICE_ACTOR, origin: {} },
            {
              tenantId: tenant.id,
              action: 'auth.token.revoke',
              resource: { type: 'tenant', id: tenant.id },
              details: { scope: 'tenant', cause: 'tenant_suspended' },
              id: idOf('audit', message.seq),
            },
          ),
        ]);
      });
      message.ack();
    } catch (error) {
      if (isUniqueViolation(error)) {
        // Applied before (a crash between commit and ack): its events are still waiting in the outbox.
        message.ack();
        return;
      }
      this.resources.logger.error({ err: error, tenantId: tenant.id }, 'tenant suspension not applied yet; retrying');
      message.nak(REDELIVERY_DELAY_MS);
    }
  }
}

/**
 * The id of what one suspension message produces, the same on every delivery: a redelivery after
 * a crash between commit and ack is a duplicate JetStream and the audit store recognise, not a
 * second revocation or record. A name-based UUID (SHA-256 of the consumer, the kind and the stream sequence).
 */
function idOf(kind: 'revocation' | 'audit', streamSequence: number): string {
  const hex = createHash('sha256').update(`${TENANT_SUSPENSIONS_CONSUMER}:${kind}:${streamSequence}`).digest('hex');
  const variant = ((Number.parseInt(hex[16] as string, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

function safeJson(data: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(data));
  } catch {
    return undefined;
  }
}
