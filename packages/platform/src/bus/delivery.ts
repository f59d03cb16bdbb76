import type { RefusalAudit } from './refusal-audit';

/** Marks the payload of a message that was not JSON, so validation refuses it like any bad input. */
export const MALFORMED_PAYLOAD = Symbol('malformed-payload');

/**
 * What BusServer hands a `@Handles` method: the decoded payload and the subject the reply goes
 * to. Nest's NatsContext carries the subject and headers but not the reply subject, and the
 * reply inbox (`_INBOX.<identity>.…`) is the one fact nats-server vouches for about the caller.
 * It also carries the server's refusal audit: the emitter is the service the server runs as.
 */
export class BusDelivery {
  constructor(
    readonly payload: unknown,
    readonly replyTo: string | undefined,
    readonly refusals?: RefusalAudit,
  ) {}
}
