import type { AuditAction, AuditActor, AuditEventInput } from '@strongroom/contracts';
import {
  type AuditOrigin,
  auditActorOf,
  auditEventOf,
  auditOriginOf,
  type BusRequestContext,
  enqueueAudit,
} from '@strongroom/platform';
import type { EntityManager } from 'typeorm';

/**
 * The audit service's own actions (exports, checkpoints on demand, legal holds, purges) are audit
 * events too (issue 7): written to its outbox in the transaction of the change, published to
 * `audit.events.audit` by its relay, and stored by its ingest like any other service's.
 */

/** Who asked for an action, and from where. */
export interface AuditInitiator {
  actor: AuditActor;
  origin: AuditOrigin;
  environment?: AuditEventInput['environment'];
}

/** The caller of a bus request (its verified principal, request id, trace, client address). */
export function initiatorOf(context: BusRequestContext): AuditInitiator {
  const initiator: AuditInitiator = { actor: auditActorOf(context.principal), origin: auditOriginOf(context) };
  if (context.principal !== undefined) initiator.environment = context.principal.environment;
  return initiator;
}

/** The service itself, on its schedule (the purge job). */
export const SCHEDULED_BY_AUDIT: AuditInitiator = { actor: { type: 'service', id: 'audit' }, origin: {} };

export interface OwnAction {
  tenantId: string;
  action: Extract<AuditAction, `audit.${string}`>;
  resource: { type: string; id: string };
  details?: AuditEventInput['details'];
}

/** Writes the event of one of the service's own actions in `manager`'s transaction. */
export function recordOwnAction(manager: EntityManager, initiator: AuditInitiator, action: OwnAction): Promise<void> {
  const event = auditEventOf({
    tenantId: action.tenantId,
    ...(initiator.environment !== undefined ? { environment: initiator.environment } : {}),
    actor: initiator.actor,
    action: action.action,
    resource: action.resource,
    outcome: 'success',
    ...initiator.origin,
    details: action.details ?? {},
  });
  return enqueueAudit(manager, 'audit', [event]);
}
