import { Ctx, MessagePattern, type NatsContext, Payload, RpcException } from '@nestjs/microservices';
import { context } from '@opentelemetry/api';
import {
  type BusIdentity,
  busIdentityOfInbox,
  HEADERS,
  type RequestContract,
  type RequestOf,
  type ResponseOf,
} from '@strongroom/contracts';
import type { Principal } from '../credentials/principal';
import { PlatformError } from '../errors/platform-error';
import { validationIssuesOf } from '../errors/zod-issues';
import { extractTraceContext, startBusServerSpan } from '../telemetry/bus-tracing';
import { BusDelivery, MALFORMED_PAYLOAD } from './delivery';
import { type RefusalAudit, type ServiceRefusal, serviceRefusalEventOf } from './refusal-audit';
import { type BusRequestContext, requestContextOf } from './request-context';
import { headersToRecord } from './wire';

export type ContractHandler<C extends RequestContract> = (
  input: RequestOf<C>,
  context: BusRequestContext,
) => Promise<ResponseOf<C>>;

/** Wired at bootstrap (runBackendService): the service logger, its metrics and its token verifier. */
export const busHandlerHooks = {
  reportUnexpected(_subject: string, _error: unknown): void {},
  observe(_subject: string, _outcome: 'ok' | 'error', _durationSeconds: number): void {},
  /**
   * Verifies the caller's `authorization` header (UNAUTHENTICATED when it does not). Until a
   * verifier is installed every protected call is refused: a process that forgot to install
   * one fails closed.
   */
  verifyCredential(_authorization: string | undefined): Promise<Principal> {
    return Promise.reject(PlatformError.unauthenticated());
  },
};

/**
 * Deny by default: a public contract needs nothing; any other needs a verified credential
 * (UNAUTHENTICATED otherwise) holding the contract's permission (FORBIDDEN otherwise).
 */
export function authorizeCall(
  contract: RequestContract,
  authorization: string | undefined,
): Promise<Principal | undefined> {
  return admitCall(contract, authorization === undefined ? {} : { [HEADERS.authorization]: authorization }, undefined);
}

/**
 * authorizeCall, auditing a refusal (no or a bad credential, a missing permission) as the
 * service that refused it: the one place every bus call of every service passes.
 */
async function admitCall(
  contract: RequestContract,
  headers: Readonly<Record<string, string>>,
  refusals: RefusalAudit | undefined,
  replyIdentity?: BusIdentity,
): Promise<Principal | undefined> {
  if (contract.authentication === 'none') return undefined;
  let principal: Principal | undefined;
  try {
    principal = await busHandlerHooks.verifyCredential(headers[HEADERS.authorization]);
    if (!principal.permissions.has(contract.permission)) {
      throw PlatformError.forbidden(`The caller lacks the permission ${contract.permission}`, {
        permission: contract.permission,
      });
    }
    return principal;
  } catch (error) {
    auditRefusal(refusals, { contract, headers, stage: 'admission', principal, error, replyIdentity });
    throw error;
  }
}

/** Publishes the refusal's audit event, if the error is a refusal, without waiting (bounded by RefusalAudit). */
function auditRefusal(refusals: RefusalAudit | undefined, refusal: ServiceRefusal): void {
  if (refusals === undefined) return;
  const event = serviceRefusalEventOf(refusal);
  if (event !== undefined) refusals.record(event);
}

/**
 * Registers a method as the handler of a request contract on the bus. Before the method runs:
 * the caller is authenticated and authorized (authorizeCall), then the payload is parsed with
 * the contract's request schema (VALIDATION otherwise); domain code sees neither an unknown
 * caller nor invalid input. Authorization comes first so a caller without the right learns
 * nothing about the contract's schema from validation issues, and anonymous input is never
 * parsed. A refusal for the credential, or assertMayActOnTenant's refusal of another tenant in
 * the handler, is audited as the service (serviceRefusalEventOf). The reply is checked against
 * the response schema: a reply that breaks the contract is a bug, answered as BAD_REPLY and
 * reported.
 */
export function Handles<C extends RequestContract>(contract: C) {
  return <M extends ContractHandler<C>>(
    target: object,
    key: string | symbol,
    descriptor: TypedPropertyDescriptor<M>,
  ): void => {
    const domainMethod = descriptor.value;
    if (!domainMethod) throw new Error(`@Handles(${contract.subject}) must decorate a method`);

    descriptor.value = async function handleContractMessage(this: unknown, data: unknown, natsContext?: NatsContext) {
      const delivery = data instanceof BusDelivery ? data : new BusDelivery(data, undefined);
      const headers = headersToRecord(natsContext?.getHeaders?.());
      const startedAt = performance.now();
      const span = startBusServerSpan(contract.subject, extractTraceContext(headers));
      try {
        const reply = await context.with(span.context, async () => {
          const principal = await admitCall(contract, headers, delivery.refusals, busIdentityOfInbox(delivery.replyTo));
          const context_ = requestContextOf(contract.subject, headers, { principal, replyTo: delivery.replyTo });
          const payload = delivery.payload === MALFORMED_PAYLOAD ? undefined : delivery.payload;
          const input = contract.request.safeParse(payload);
          if (!input.success) {
            throw PlatformError.validation(`Invalid ${contract.subject} request`, {
              issues: validationIssuesOf(input.error),
            });
          }
          let output: unknown;
          try {
            output = await domainMethod.call(this, input.data as RequestOf<C>, context_);
          } catch (error) {
            auditRefusal(delivery.refusals, {
              contract,
              headers,
              stage: 'handler',
              principal,
              error,
              replyIdentity: context_.replyIdentity,
            });
            throw error;
          }
          const checked = contract.response.safeParse(output);
          if (!checked.success) {
            busHandlerHooks.reportUnexpected(contract.subject, checked.error);
            throw PlatformError.badReply(`The ${contract.subject} handler produced a reply that breaks its contract`);
          }
          return checked.data;
        });
        span.end();
        busHandlerHooks.observe(contract.subject, 'ok', (performance.now() - startedAt) / 1000);
        return reply;
      } catch (error) {
        span.end(error instanceof PlatformError ? error.code : error);
        busHandlerHooks.observe(contract.subject, 'error', (performance.now() - startedAt) / 1000);
        if (error instanceof PlatformError) throw new RpcException(error.toBody());
        busHandlerHooks.reportUnexpected(contract.subject, error);
        throw new RpcException(PlatformError.internal().toBody());
      }
    } as unknown as M;

    MessagePattern(contract.subject)(target, key, descriptor);
    // Nest passes the NATS context (headers) only to a parameter that asks for it.
    Payload()(target, key, 0);
    Ctx()(target, key, 1);
  };
}
