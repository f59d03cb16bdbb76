import {
  type AuditEmitter,
  type AuditEventInput,
  type BusIdentity,
  HEADERS,
  PLATFORM_AUDIT_TENANT_ID,
  type RequestContract,
} from '@strongroom/contracts';
import type { NatsConnection } from 'nats';
import { Counter, type Registry } from 'prom-client';
import { auditActorOf, auditEventOf, auditOriginOf, publishAudit } from '../audit/audit-events';
import type { Principal } from '../credentials/principal';
import { isPlatformPrincipal } from '../credentials/tenant-access';
import { PlatformError } from '../errors/platform-error';

/**
 * Auditing refusals (issue 7): a request refused for its credential writes nothing, so its audit
 * event is published straight to the AUDIT stream (publishAudit), after the answer, never before
 * it. A flood of refusals (a credential-stuffing run, a scanner) must cost neither latency nor
 * memory: at most AUDIT_REFUSALS_IN_FLIGHT_MAX publishes wait for JetStream at once; beyond that
 * an event is dropped, counted (strongroom_audit_refusals_dropped_total) and warned about.
 */

/** Publishes awaiting JetStream's acknowledgement at most, per process (TIGER_STYLE: a limit on everything). */
export const AUDIT_REFUSALS_IN_FLIGHT_MAX = 1_000;
/** Drops are warned about at most once per interval, with their count: a flood must not become a log flood too. */
export const AUDIT_DROP_WARNING_INTERVAL_MS = 10_000;

/** Why a refusal's event was not stored: the bound was reached, or JetStream refused it after retries. */
export type AuditDropCause = 'overflow' | 'failed';

export interface RefusalAuditLogger {
  warn(details: Record<string, unknown>, message: string): void;
}

export interface RefusalAuditOptions {
  emitter: AuditEmitter;
  /** Sends one event; resolves true once JetStream stored it (publishAudit). */
  send(event: AuditEventInput): Promise<boolean>;
  logger: RefusalAuditLogger;
  inFlightMax?: number;
  /** The counter of dropped events (auditDropCounter), when the process exposes metrics. */
  dropped?: Counter<'emitter' | 'cause'>;
  now?: () => number;
}

const AUDIT_DROP_COUNTER = 'strongroom_audit_refusals_dropped_total';

/** `strongroom_audit_refusals_dropped_total{emitter,cause}` on the process's registry (one, however many ask). */
export function auditDropCounter(registry: Registry): Counter<'emitter' | 'cause'> {
  const existing = registry.getSingleMetric(AUDIT_DROP_COUNTER);
  if (existing !== undefined) return existing as Counter<'emitter' | 'cause'>;
  return new Counter({
    name: AUDIT_DROP_COUNTER,
    help: 'Audit events of refused requests not stored: over the in-flight bound (overflow) or refused by JetStream (failed)',
    labelNames: ['emitter', 'cause'],
    registers: [registry],
  });
}

/** Fire-and-forget, bounded publishing of refusal events for one emitter. */
export class RefusalAudit {
  private inFlightCount = 0;
  private readonly pending = new Set<Promise<void>>();
  private readonly droppedByCause: Record<AuditDropCause, number> = { overflow: 0, failed: 0 };
  private unwarned: Record<AuditDropCause, number> = { overflow: 0, failed: 0 };
  private lastWarningAtMs = Number.NEGATIVE_INFINITY;
  private readonly inFlightMax: number;
  private readonly now: () => number;

  constructor(private readonly options: RefusalAuditOptions) {
    this.inFlightMax = options.inFlightMax ?? AUDIT_REFUSALS_IN_FLIGHT_MAX;
    this.now = options.now ?? Date.now;
  }

  get emitter(): AuditEmitter {
    return this.options.emitter;
  }

  /** Publishes waiting for JetStream now. */
  get inFlight(): number {
    return this.inFlightCount;
  }

  /** Events not stored since start, by cause. */
  get dropped(): Readonly<Record<AuditDropCause, number>> {
    return this.droppedByCause;
  }

  /** Starts publishing the event and returns at once; never throws (the refusal stands whatever happens here). */
  record(event: AuditEventInput): void {
    if (this.inFlightCount >= this.inFlightMax) {
      this.drop('overflow');
      return;
    }
    this.inFlightCount += 1;
    const publishing: Promise<void> = this.options
      .send(event)
      .catch(() => false)
      .then((stored) => {
        if (!stored) this.drop('failed');
      })
      .finally(() => {
        this.inFlightCount -= 1;
        this.pending.delete(publishing);
      });
    this.pending.add(publishing);
  }

  /** Resolves when every publish started so far has settled (shutdown, tests). */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  private drop(cause: AuditDropCause): void {
    this.droppedByCause[cause] += 1;
    this.unwarned[cause] += 1;
    this.options.dropped?.inc({ emitter: this.options.emitter, cause });
    const now = this.now();
    if (now - this.lastWarningAtMs < AUDIT_DROP_WARNING_INTERVAL_MS) return;
    this.lastWarningAtMs = now;
    this.options.logger.warn(
      { emitter: this.options.emitter, dropped: { ...this.unwarned }, inFlightMax: this.inFlightMax },
      'audit events of refused requests were not stored (over the in-flight bound, or refused by JetStream)',
    );
    this.unwarned = { overflow: 0, failed: 0 };
  }
}

/** A RefusalAudit publishing to the AUDIT stream on `connection` as `emitter` (the identity's own subject). */
export function refusalAuditOver(
  connection: NatsConnection,
  emitter: AuditEmitter,
  options: Omit<RefusalAuditOptions, 'emitter' | 'send'>,
): RefusalAudit {
  return new RefusalAudit({
    ...options,
    emitter,
    send: (event) => publishAudit(connection, emitter, [event]),
  });
}

/** The type of the resource a service-side refusal names: the bus subject called. */
export const BUS_SUBJECT_RESOURCE = 'bus_subject';

export interface ServiceRefusal {
  contract: Pick<RequestContract, 'subject' | 'permission'>;
  headers: Readonly<Record<string, string>>;
  /** `admission`: while @Handles verified the credential and the permission; `handler`: while the handler ran. */
  stage: 'admission' | 'handler';
  /** The verified caller, when verification got that far. */
  principal: Principal | undefined;
  error: unknown;
  /** Whose inbox the answer goes to: only the gateway's calls carry a client address worth recording. */
  replyIdentity?: BusIdentity | undefined;
}

/**
 * The audit event of a bus call a service refused for who the caller is, or undefined when the
 * error is no such refusal. Three refusals qualify: the credential did not verify
 * (UNAUTHENTICATED, before any principal), the verified principal lacks the contract's permission
 * (FORBIDDEN), and assertMayActOnTenant refusing another tenant (answered NOT_FOUND of the
 * Tenant, so a caller cannot probe which tenants exist; recognised here by its exact shape: a
 * non-platform principal told another tenant id is not found). The record goes to the caller's
 * own chain (the platform's when unknown), never the named tenant's: an attacker naming random
 * tenant ids must not create or fill other tenants' chains.
 */
export function serviceRefusalEventOf(refusal: ServiceRefusal): AuditEventInput | undefined {
  const { contract, headers, principal, error } = refusal;
  if (!(error instanceof PlatformError)) return undefined;
  const requestedTenantId = refusal.stage === 'handler' ? otherTenantRefused(error, principal) : undefined;
  const admission =
    refusal.stage === 'admission' &&
    ((principal === undefined && error.code === 'UNAUTHENTICATED') ||
      (principal !== undefined && error.code === 'FORBIDDEN'));
  if (!admission && requestedTenantId === undefined) return undefined;
  const origin = auditOriginOf({
    requestId: headers[HEADERS.requestId] ?? '',
    headers,
    replyIdentity: refusal.replyIdentity,
  });
  return auditEventOf({
    tenantId: principal?.tenantId ?? PLATFORM_AUDIT_TENANT_ID,
    ...(principal !== undefined ? { environment: principal.environment } : {}),
    actor: auditActorOf(principal),
    action: 'service.request.authorize',
    resource: { type: BUS_SUBJECT_RESOURCE, id: contract.subject },
    outcome: 'denied',
    reason: requestedTenantId !== undefined ? 'OTHER_TENANT' : error.code,
    ...origin,
    details:
      requestedTenantId !== undefined
        ? { requestedTenantId }
        : error.code === 'FORBIDDEN'
          ? { permission: contract.permission }
          : {},
  });
}

/** The tenant id assertMayActOnTenant refused this principal, if that is what the error is. */
function otherTenantRefused(error: PlatformError, principal: Principal | undefined): string | undefined {
  if (principal === undefined || isPlatformPrincipal(principal) || error.code !== 'NOT_FOUND') return undefined;
  const { resource, id } = error.details ?? {};
  return resource === 'Tenant' && typeof id === 'string' && id !== principal.tenantId ? id : undefined;
}
