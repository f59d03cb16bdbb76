import { Inject, Injectable } from '@nestjs/common';
import {
  type AuditActor,
  type AuditEmitter,
  type AuditEventInput,
  type Environment,
  PLATFORM_AUDIT_TENANT_ID,
} from '@strongroom/contracts';
import { auditDropCounter, refusalAuditOver } from '../bus/refusal-audit';
import type { BusRequestContext } from '../bus/request-context';
import { PlatformError } from '../errors/platform-error';
import { SERVICE_RESOURCES, type ServiceResources } from '../service/service-resources';
import { type AuditOrigin, auditActorOf, auditEventOf, auditOriginOf } from './audit-events';

/**
 * What every service's handlers share to record their audit events (issue 7): who asked and the
 * request it came with (the trail), one event of it (auditEventFor), how a refusal is recorded
 * (refusalOf, refusalTenantOf), and the publisher of refusals that wrote nothing.
 */

/** Who asked and the request it came with: what every audit event of a call carries besides what happened. */
export interface AuditTrail {
  readonly actor: AuditActor;
  readonly origin: AuditOrigin;
}

export function auditTrailOf(context: BusRequestContext): AuditTrail {
  return { actor: auditActorOf(context.principal), origin: auditOriginOf(context) };
}

/** A service acting on its own (a sweep, a rule it applies): no request behind it. */
export function serviceAuditTrail(service: AuditEmitter): AuditTrail {
  return { actor: { type: 'service', id: service }, origin: {} };
}

/** What happened, as a handler states it; the trail adds who and which request. */
export interface AuditFact {
  tenantId: string;
  environment?: Environment | undefined;
  action: AuditEventInput['action'];
  resource: AuditEventInput['resource'];
  /** `success` unless stated. */
  outcome?: AuditEventInput['outcome'];
  reason?: string | undefined;
  details?: AuditEventInput['details'];
  occurredAt?: string;
  /** A stable id where the same fact may be stated twice (a redelivered message); random otherwise. */
  id?: string;
  /** Instead of the trail's actor (the service acting on its own within a caller's request). */
  actor?: AuditActor;
}

/** One event of `trail`'s request. */
export function auditEventFor(trail: AuditTrail, fact: AuditFact): AuditEventInput {
  const { outcome = 'success', environment, reason, actor, ...rest } = fact;
  return auditEventOf({
    ...rest,
    ...(environment !== undefined ? { environment } : {}),
    ...(reason !== undefined ? { reason } : {}),
    outcome,
    actor: actor ?? trail.actor,
    ...trail.origin,
  });
}

export interface Refusal {
  outcome: 'denied' | 'failure';
  reason: string;
}

const REASON = /^[A-Za-z0-9_.-]{1,64}$/;
const DENIED_CODES = new Set(['FORBIDDEN', 'UNAUTHENTICATED']);

/** An error that knows its typed platform form (a domain refusal of a service). */
interface ConvertibleError {
  toPlatformError(): PlatformError;
}

function isConvertible(error: unknown): error is ConvertibleError {
  return typeof (error as Partial<ConvertibleError> | null)?.toPlatformError === 'function';
}

/**
 * How a refusal is recorded: FORBIDDEN and UNAUTHENTICATED are `denied`, every other error a
 * `failure`; the reason is the typed code (a domain reason in details.reason, e.g.
 * ACCOUNT_HAS_PENDING, PERMISSION_NOT_HELD; else the error's code; INTERNAL for an untyped error).
 */
export function refusalOf(error: unknown): Refusal {
  const platform = isConvertible(error) ? error.toPlatformError() : error;
  if (!(platform instanceof PlatformError)) return { outcome: 'failure', reason: 'INTERNAL' };
  const detail = platform.details?.reason;
  const reason = typeof detail === 'string' && REASON.test(detail) ? detail : platform.code;
  return { outcome: DENIED_CODES.has(platform.code) ? 'denied' : 'failure', reason };
}

/**
 * The chain of a refused request: the caller's own tenant (the platform's when nobody is proven),
 * never a tenant it merely named: a caller naming tenants it may not touch must not fill their chains.
 */
export function refusalTenantOf(context: BusRequestContext): string {
  return context.principal?.tenantId ?? PLATFORM_AUDIT_TENANT_ID;
}

/** Sends events of something that wrote nothing; never throws, and the caller does not wait. */
export type AuditSink = (events: readonly AuditEventInput[]) => void;

/** An AuditSink publishing under the service's own emitter subject, bounded in flight (RefusalAudit). */
export function auditSinkOf(
  resources: Pick<ServiceResources, 'connection' | 'service' | 'logger' | 'metrics'>,
): AuditSink & { settled(): Promise<void> } {
  const audit = refusalAuditOver(resources.connection, resources.service as AuditEmitter, {
    logger: { warn: (details, message) => resources.logger.warn(details, message) },
    ...(resources.metrics !== undefined ? { dropped: auditDropCounter(resources.metrics) } : {}),
  });
  const sink = (events: readonly AuditEventInput[]) => {
    for (const event of events) audit.record(event);
  };
  return Object.assign(sink, { settled: () => audit.settled() });
}

/**
 * Refusals that wrote nothing have no transaction to share: their events go straight to the
 * AUDIT stream under the service's own emitter subject, after the answer, bounded in flight
 * (RefusalAudit: a flood of refusals costs neither memory nor latency; drops are counted).
 */
@Injectable()
export class AuditPublisher {
  private readonly sink: ReturnType<typeof auditSinkOf>;

  constructor(@Inject(SERVICE_RESOURCES) resources: ServiceResources) {
    this.sink = auditSinkOf(resources);
  }

  /** Starts publishing the events and returns at once; never throws. */
  publish(events: readonly AuditEventInput[]): void {
    this.sink(events);
  }

  /** Runs `work`; when it throws, publishes the events `refused` makes of the refusal, then rethrows. */
  async refusals<T>(
    work: () => Promise<T>,
    refused: (refusal: Refusal, error: unknown) => AuditEventInput[],
  ): Promise<T> {
    try {
      return await work();
    } catch (error) {
      this.publish(refused(refusalOf(error), error));
      throw error;
    }
  }

  /** Resolves when every publish started so far has settled (shutdown, tests). */
  settled(): Promise<void> {
    return this.sink.settled();
  }
}
