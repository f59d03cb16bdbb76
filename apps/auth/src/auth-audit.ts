import { Inject, Injectable } from '@nestjs/common';
import {
  AUDIT_EVENTS_PER_MESSAGE_MAX,
  type AuditActor,
  type AuditEventInput,
  type Environment,
  PLATFORM_AUDIT_TENANT_ID,
} from '@strongroom/contracts';
import {
  type AuditOrigin,
  auditActorOf,
  auditEventOf,
  auditOriginOf,
  type BusRequestContext,
  DomainRefusal,
  PlatformError,
  publishAudit,
  SERVICE_RESOURCES,
  type ServiceResources,
} from '@strongroom/platform';
import type { Logger } from 'pino';

/**
 * Auth's audit events (issue 7; seed 001 asks for structured audit logs on authentication). A
 * change records its event in the transaction that makes it, beside its domain event; an attempt
 * refused or failed without writing anything is published straight to the AUDIT stream
 * (AuthAuditPublisher). Events name ids, codes and counts: never an email, a password, a PIN, a
 * card number or a token (the contract's schema refuses such detail keys).
 */
export const AUTH_AUDIT_EMITTER = 'auth' as const;

/** Who asked and the request it came with: what every audit event of a call carries besides what happened. */
export interface AuditTrail {
  readonly actor: AuditActor;
  readonly origin: AuditOrigin;
}

export function auditTrailOf(context: BusRequestContext): AuditTrail {
  return { actor: auditActorOf(context.principal), origin: auditOriginOf(context) };
}

/** Auth acting on its own (a suspension turned into a revocation, a card locked by its rule). */
export const AUTH_SERVICE_ACTOR: AuditActor = { type: 'service', id: 'auth' };

export interface AuthAuditFact {
  tenantId: string;
  environment?: Environment | undefined;
  action: AuditEventInput['action'];
  resource: AuditEventInput['resource'];
  outcome?: AuditEventInput['outcome'];
  reason?: string | undefined;
  details?: AuditEventInput['details'];
  occurredAt?: string;
  /** Instead of the trail's actor (auth acting on its own within a caller's request). */
  actor?: AuditActor;
}

/** One event of `trail`'s request: success unless the fact says otherwise. */
export function authAuditEvent(trail: AuditTrail, fact: AuthAuditFact): AuditEventInput {
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

const REASON = /^[A-Za-z0-9_.-]{1,64}$/;
const DENIED_CODES = new Set(['FORBIDDEN', 'UNAUTHENTICATED']);

export interface Refusal {
  outcome: 'denied' | 'failure';
  reason: string;
}

/**
 * How a refusal is recorded: FORBIDDEN and UNAUTHENTICATED are `denied`, every other error a
 * `failure`; the reason is the typed code (a domain refusal's reason, e.g. PERMISSION_NOT_HELD,
 * weak_pin; else the error's code).
 */
export function refusalOf(error: unknown): Refusal {
  const platform = error instanceof DomainRefusal ? error.toPlatformError() : error;
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

/**
 * Publishes awaiting JetStream at most (TIGER_STYLE: a limit on everything). Auth's refusals come
 * from unauthenticated callers (a key or client secret guessed, a replayed token): a flood of them
 * must cost neither memory nor latency. Beyond the bound an event is dropped and the drop logged.
 */
export const AUDIT_PUBLISHES_IN_FLIGHT_MAX = 1_000;

/** An AuditSink over publishAudit: messages of at most AUDIT_EVENTS_PER_MESSAGE_MAX, failures logged. */
export function publishingSink(resources: Pick<ServiceResources, 'connection'> & { logger: Logger }): AuditSink {
  let inFlight = 0;
  return (events) => {
    for (let start = 0; start < events.length; start += AUDIT_EVENTS_PER_MESSAGE_MAX) {
      const message = events.slice(start, start + AUDIT_EVENTS_PER_MESSAGE_MAX);
      if (inFlight >= AUDIT_PUBLISHES_IN_FLIGHT_MAX) {
        resources.logger.warn(
          { events: message.length },
          'audit events of refusals dropped: too many publishes waiting',
        );
        continue;
      }
      inFlight += 1;
      // publishAudit logs what JetStream refused; an event that breaks the schema is a bug, logged here.
      publishAudit(resources.connection, AUTH_AUDIT_EMITTER, message, resources.logger)
        .catch((error: unknown) =>
          resources.logger.error({ err: error, events: message.length }, 'audit events not published'),
        )
        .finally(() => {
          inFlight -= 1;
        });
    }
  };
}

/** Auth's refusals on the bus: published straight to the AUDIT stream, after the answer, never before it. */
@Injectable()
export class AuthAuditPublisher {
  readonly publish: AuditSink;

  constructor(@Inject(SERVICE_RESOURCES) resources: ServiceResources) {
    this.publish = publishingSink(resources);
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
}
