import { type CustomTransportStrategy, ServerNats } from '@nestjs/microservices';
import type { NatsConnection } from 'nats';
import { BusDelivery, MALFORMED_PAYLOAD } from './delivery';
import { decodeJson } from './wire';

interface IncomingRequest {
  pattern: string;
  data: unknown;
  id?: string;
}

/**
 * NestJS's NATS transport on a connection the platform opened itself (mutual TLS, checked
 * certificates, fail-fast), subscribing every handler in the service's queue group.
 */
export class BusServer extends ServerNats implements CustomTransportStrategy {
  constructor(
    private readonly openConnection: () => Promise<NatsConnection>,
    options: { queue: string; gracePeriodMs?: number },
  ) {
    super({
      queue: options.queue,
      gracefulShutdown: true,
      gracePeriod: options.gracePeriodMs ?? 500,
      deserializer: { deserialize: deserializeRequest },
    });
  }

  override createNatsClient(): Promise<NatsConnection> {
    return this.openConnection() as ReturnType<ServerNats['createNatsClient']>;
  }
}

/**
 * A payload that is not JSON still gets an answer (VALIDATION from the handler) instead of
 * being dropped, so a careless caller sees an error rather than a timeout. The data handed on
 * is a BusDelivery: the payload plus the reply subject Nest receives here and nowhere else.
 */
function deserializeRequest(value: Uint8Array, options?: Record<string, unknown>): IncomingRequest {
  const channel = typeof options?.channel === 'string' ? options.channel : '';
  const replyTo = typeof options?.replyTo === 'string' ? options.replyTo : undefined;
  const malformed = { pattern: channel, data: new BusDelivery(MALFORMED_PAYLOAD, replyTo), id: 'malformed' };
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
    data: new BusDelivery(packet.data, replyTo),
    id: typeof packet.id === 'string' ? packet.id : 'anonymous',
  };
}
