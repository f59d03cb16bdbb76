import { type CustomTransportStrategy, ServerNats } from '@nestjs/microservices';
import { type AuditEmitter, isServiceName } from '@strongroom/contracts';
import type { NatsConnection } from 'nats';
import type { Registry } from 'prom-client';
import { BusDelivery, MALFORMED_PAYLOAD } from './delivery';
import { auditDropCounter, type RefusalAudit, type RefusalAuditLogger, refusalAuditOver } from './refusal-audit';
import { decodeJson } from './wire';

interface IncomingRequest {
  pattern: string;
  data: unknown;
  id?: string;
}

export interface BusServerOptions {
  /** The queue group: the service's name. */
  queue: string;
  gracePeriodMs?: number;
  /**
   * Calls refused for their credential are audited as this service (`service.request.authorize`,
   * on `audit.events.<emitter>`). Defaults to the queue when it names a service; `false`: never.
   */
  auditEmitter?: AuditEmitter | false;
  /** Where strongroom_audit_refusals_dropped_total is exposed (the service's ops registry). */
  metrics?: Registry;
  /** Where dropped refusal events are warned about; Nest's logger (the service's pino) otherwise. */
  logger?: RefusalAuditLogger;
}

/**
 * NestJS's NATS transport on a connection the platform opened itself (mutual TLS, checked
 * certificates, fail-fast), subscribing every handler in the service's queue group.
 */
export class BusServer extends ServerNats implements CustomTransportStrategy {
  private readonly openConnection: () => Promise<NatsConnection>;
  private readonly serverOptions: BusServerOptions;
  /** Set once the connection is open: every delivery carries it to `@Handles`. */
  private readonly audit: { refusals?: RefusalAudit };

  constructor(openConnection: () => Promise<NatsConnection>, options: BusServerOptions) {
    // The deserializer is handed to Nest before `this` exists; it reads the audit once listening.
    const audit: { refusals?: RefusalAudit } = {};
    super({
      queue: options.queue,
      gracefulShutdown: true,
      gracePeriod: options.gracePeriodMs ?? 500,
      deserializer: {
        deserialize: (value, deserializeOptions) => deserializeRequest(value, deserializeOptions, audit),
      },
    });
    this.openConnection = openConnection;
    this.serverOptions = options;
    this.audit = audit;
  }

  override async createNatsClient(): ReturnType<ServerNats['createNatsClient']> {
    const connection = await this.openConnection();
    const { auditEmitter = isServiceName(this.serverOptions.queue) ? this.serverOptions.queue : false } =
      this.serverOptions;
    if (auditEmitter !== false && this.audit.refusals?.emitter !== auditEmitter) {
      this.audit.refusals = refusalAuditOver(connection, auditEmitter, {
        logger: this.serverOptions.logger ?? {
          warn: (details, message) => this.logger.warn(`${message} ${JSON.stringify(details)}`),
        },
        ...(this.serverOptions.metrics !== undefined ? { dropped: auditDropCounter(this.serverOptions.metrics) } : {}),
      });
    }
    return connection as Awaited<ReturnType<ServerNats['createNatsClient']>>;
  }

  /** The refusal audit of this server (undefined before it listens, or when auditing is off). */
  get refusals(): RefusalAudit | undefined {
    return this.audit.refusals;
  }
}

/**
 * A payload that is not JSON still gets an answer (VALIDATION from the handler) instead of
 * being dropped, so a careless caller sees an error rather than a timeout. The data handed on
 * is a BusDelivery: the payload plus the reply subject Nest receives here and nowhere else.
 */
function deserializeRequest(
  value: Uint8Array,
  options: Record<string, unknown> | undefined,
  audit: { refusals?: RefusalAudit },
): IncomingRequest {
  const channel = typeof options?.channel === 'string' ? options.channel : '';
  const replyTo = typeof options?.replyTo === 'string' ? options.replyTo : undefined;
  const malformed = {
    pattern: channel,
    data: new BusDelivery(MALFORMED_PAYLOAD, replyTo, audit.refusals),
    id: 'malformed',
  };
  let decoded: unknown;
  try {
    decoded = decodeJson(value);
  } catch {
    return malformed;
  }
  if (decoded === null || typeof decoded !== 'object' || !('data' in decoded)) return malformed;
  const packet = decoded as { data: unknown; id?: unknown };
  return {
    pattern: channel,
    data: new BusDelivery(packet.data, replyTo, audit.refusals),
    id: typeof packet.id === 'string' ? packet.id : 'anonymous',
  };
}
