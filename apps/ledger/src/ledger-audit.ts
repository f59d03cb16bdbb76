import { Inject, Injectable } from '@nestjs/common';
import {
  AUDIT_EVENTS_PER_MESSAGE_MAX,
  type AuditActor,
  type AuditEventInput,
  type Environment,
} from '@strongroom/contracts';
import {
  type AuditOrigin,
  auditActorOf,
  auditEventOf,
  auditOriginOf,
  type BusRequestContext,
  PlatformError,
  publishAudit,
  SERVICE_RESOURCES,
  type ServiceResources,
} from '@strongroom/platform';

/**
 * The ledger's audit events (issue 7, seed 001: allocation, redemption and settlement by name).
 * A change records its event in its own transaction (the transfer batch in its one write
 * statement, transfer-audit.ts); a refusal that wrote nothing is published straight to the AUDIT
 * stream by AuditPublisher.
 */
export const LEDGER_AUDIT_EMITTER = 'ledger' as const;

/** Who asked for a change and the request it came with: what each of its audit events carries. */
export interface AuditTrail {
  readonly actor: AuditActor;
  readonly origin: AuditOrigin;
}

export function auditTrailOf(context: BusRequestContext): AuditTrail {
  return { actor: auditActorOf(context.principal), origin: auditOriginOf(context) };
}

/** The ledger acting on its own (the pending-expiry sweep): no request behind it. */
export const LEDGER_TRAIL: AuditTrail = { actor: { type: 'service', id: 'ledger' }, origin: {} };

export interface LedgerAuditFact {
  tenantId: string;
  environment?: Environment;
  action: AuditEventInput['action'];
  resource: AuditEventInput['resource'];
  outcome?: AuditEventInput['outcome'];
  reason?: string;
  details?: AuditEventInput['details'];
  occurredAt?: string;
}

/** One event of `trail`'s request: success unless the fact says otherwise. */
export function ledgerAuditEvent(trail: AuditTrail, fact: LedgerAuditFact): AuditEventInput {
  const { outcome = 'success', ...rest } = fact;
  return auditEventOf({ ...rest, outcome, actor: trail.actor, ...trail.origin });
}

const REASON = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * How a refusal is recorded: FORBIDDEN and UNAUTHENTICATED are `denied`, every other error a
 * `failure`; the reason is the typed code (details.reason, e.g. ACCOUNT_HAS_PENDING, else the error code).
 */
export function refusalOf(error: unknown): { outcome: 'denied' | 'failure'; reason: string } {
  if (!(error instanceof PlatformError)) return { outcome: 'failure', reason: 'INTERNAL' };
  const detail = error.details?.reason;
  const reason = typeof detail === 'string' && REASON.test(detail) ? detail : error.code;
  return { outcome: error.code === 'FORBIDDEN' || error.code === 'UNAUTHENTICATED' ? 'denied' : 'failure', reason };
}

/**
 * Refusals that wrote nothing: there is no transaction to share, so their events go straight to
 * JetStream (publishAudit, deduplicated by event id). Not awaited by the answer; publishAudit
 * logs what it could not send, and an event that breaks the schema is logged here.
 */
@Injectable()
export class AuditPublisher {
  constructor(@Inject(SERVICE_RESOURCES) private readonly resources: ServiceResources) {}

  publish(events: readonly AuditEventInput[]): void {
    const { connection, logger } = this.resources;
    for (let start = 0; start < events.length; start += AUDIT_EVENTS_PER_MESSAGE_MAX) {
      const message = events.slice(start, start + AUDIT_EVENTS_PER_MESSAGE_MAX);
      publishAudit(connection, LEDGER_AUDIT_EMITTER, message, logger).catch((error: unknown) =>
        logger.error({ err: error, events: message.length }, 'audit events of a refusal not published'),
      );
    }
  }

  /** Runs `work`; when it throws, publishes the events `refused` makes of the refusal, then rethrows. */
  async refusals<T>(
    work: () => Promise<T>,
    refused: (refusal: ReturnType<typeof refusalOf>) => AuditEventInput[],
  ): Promise<T> {
    try {
      return await work();
    } catch (error) {
      this.publish(refused(refusalOf(error)));
      throw error;
    }
  }
}
