import { randomUUID } from 'node:crypto';
import { context } from '@opentelemetry/api';
import type { RequestContract, RequestInputOf, ResponseOf } from '@strongroom/contracts';
import { HEADERS } from '@strongroom/contracts';
import { type NatsConnection, NatsError, ErrorCode as NatsErrorCode } from 'nats';
import type { CredentialSource } from '../credentials/service-credentials';
import { PlatformError } from '../errors/platform-error';
import { validationIssuesOf } from '../errors/zod-issues';
import { injectTraceHeaders, startBusClientSpan } from '../telemetry/bus-tracing';
import { decodeJson, encodeJson, type ReplyPacket, recordToHeaders } from './wire';

export interface BusCallOptions {
  /** `Bearer <jwt>` of the end user or of the calling service, forwarded for the callee to verify. */
  credential?: string;
  requestId?: string;
  timeoutMs?: number;
  /**
   * The HTTP client behind the call, as the gateway saw it (its address after TRUSTED_PROXIES, its
   * User-Agent): sent as HEADERS.clientIp and HEADERS.userAgent for the callee's audit records.
   * Only the gateway states them; nothing a client sent under those names is ever forwarded.
   */
  client?: BusCallClient;
}

export interface BusCallClient {
  ip?: string;
  userAgent?: string;
}

/** A User-Agent is recorded up to this many characters (the audit event's bound). */
export const CLIENT_USER_AGENT_LENGTH_MAX = 256;

export interface BusClientOptions {
  defaultTimeoutMs: number;
  /**
   * The credential of a call that names none: only for a client that never acts for anyone
   * else (the operator CLI). A service's shared client has none, so forgetting to forward an
   * end user's credential fails UNAUTHENTICATED instead of borrowing the service's rights.
   */
  actingAs?: CredentialSource;
  /** Upper bound on any single call, so no caller can wait forever on a lost reply. */
  maxTimeoutMs?: number;
}

/**
 * The typed caller: `request(contract, input)` returns the contract's response type, and
 * every failure is a PlatformError with a code (TIMEOUT, UNAVAILABLE, BAD_REPLY, or the
 * callee's own).
 */
export class BusClient {
  constructor(
    private readonly connection: NatsConnection,
    private readonly options: BusClientOptions,
  ) {}

  /** A call whose input was typed (and so checked) by the caller. */
  request<C extends RequestContract>(
    contract: C,
    input: RequestInputOf<C>,
    call: BusCallOptions = {},
  ): Promise<ResponseOf<C>> {
    const parsed = contract.request.safeParse(input);
    if (!parsed.success) {
      return Promise.reject(
        PlatformError.validation(`Invalid ${contract.subject} request`, { issues: validationIssuesOf(parsed.error) }),
      );
    }
    return this.forward(contract, parsed.data, call);
  }

  /** A call with untrusted input (e.g. an HTTP body at the gateway): the callee validates it. */
  async forward<C extends RequestContract>(
    contract: C,
    input: unknown,
    call: BusCallOptions = {},
  ): Promise<ResponseOf<C>> {
    const timeoutMs = Math.min(call.timeoutMs ?? this.options.defaultTimeoutMs, this.options.maxTimeoutMs ?? 30_000);
    const span = startBusClientSpan(contract.subject);
    try {
      const headers: Record<string, string> = { [HEADERS.requestId]: call.requestId ?? randomUUID() };
      const credential = call.credential ?? (await this.options.actingAs?.authorization());
      if (credential !== undefined) headers[HEADERS.authorization] = credential;
      if (call.client !== undefined) Object.assign(headers, clientHeadersOf(call.client));
      injectTraceHeaders(headers, span.context);
      const packet = { pattern: contract.subject, data: input, id: randomUUID() };
      const reply = await context.with(span.context, () =>
        this.send(contract.subject, encodeJson(packet), headers, timeoutMs),
      );
      const response = this.unwrapReply(contract, reply);
      span.end();
      return response;
    } catch (error) {
      span.end(error instanceof PlatformError ? error.code : error);
      throw error;
    }
  }

  private async send(subject: string, payload: Uint8Array, headers: Record<string, string>, timeoutMs: number) {
    try {
      const message = await this.connection.request(subject, payload, {
        timeout: timeoutMs,
        headers: recordToHeaders(headers),
      });
      return decodeJson(message.data) as ReplyPacket;
    } catch (error) {
      throw transportErrorOf(subject, timeoutMs, error);
    }
  }

  private unwrapReply<C extends RequestContract>(contract: C, reply: ReplyPacket): ResponseOf<C> {
    if (reply === null || typeof reply !== 'object') {
      throw PlatformError.badReply(`${contract.subject} answered with a non-object reply`);
    }
    if (reply.err !== undefined && reply.err !== null) throw PlatformError.fromBody(reply.err);
    const checked = contract.response.safeParse(reply.response);
    if (!checked.success) {
      throw PlatformError.badReply(`${contract.subject} answered with a reply that breaks its contract`, {
        issues: validationIssuesOf(checked.error),
      });
    }
    return checked.data as ResponseOf<C>;
  }
}

/** The client headers of a call: printable ASCII only (a NATS header line), bounded. */
export function clientHeadersOf(client: BusCallClient): Record<string, string> {
  const headers: Record<string, string> = {};
  const ip = client.ip?.trim();
  if (ip) headers[HEADERS.clientIp] = ip;
  const userAgent = client.userAgent
    ?.replace(/[^\x20-\x7e]/g, '')
    .trim()
    .slice(0, CLIENT_USER_AGENT_LENGTH_MAX);
  if (userAgent) headers[HEADERS.userAgent] = userAgent;
  return headers;
}

/** `details.reason` of the UNAVAILABLE a request no subscriber received: nothing ran, a retry is safe. */
export const NO_RESPONDERS_REASON = 'NO_RESPONDERS';

function transportErrorOf(subject: string, timeoutMs: number, error: unknown): PlatformError {
  if (error instanceof NatsError) {
    if (error.code === NatsErrorCode.NoResponders) {
      return PlatformError.unavailable(`No service is serving ${subject}`, { subject, reason: NO_RESPONDERS_REASON });
    }
    if (error.code === NatsErrorCode.Timeout) {
      return PlatformError.timeout(`${subject} did not answer within ${timeoutMs} ms`, { subject, timeoutMs });
    }
    if (error.code === NatsErrorCode.MaxPayloadExceeded) {
      // Refused by the client before sending (the server's max_payload): nothing ran.
      return new PlatformError('PAYLOAD_TOO_LARGE', `The request to ${subject} is larger than the bus carries`, {
        subject,
      });
    }
    if (error.code === NatsErrorCode.PermissionsViolation) {
      return PlatformError.forbidden(`This service identity may not call ${subject}`, { subject });
    }
    if (error.code === NatsErrorCode.ConnectionClosed || error.code === NatsErrorCode.Disconnect) {
      return PlatformError.unavailable('The bus connection is closed', { subject });
    }
  }
  if (error instanceof SyntaxError) return PlatformError.badReply(`${subject} answered with invalid JSON`);
  return PlatformError.unavailable(`The call to ${subject} failed`, { subject });
}
