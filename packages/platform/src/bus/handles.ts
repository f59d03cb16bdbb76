import { Ctx, MessagePattern, type NatsContext, Payload, RpcException } from '@nestjs/microservices';
import { context } from '@opentelemetry/api';
import type { RequestContract, RequestOf, ResponseOf } from '@strongroom/contracts';
import { PlatformError } from '../errors/platform-error';
import { validationIssuesOf } from '../errors/zod-issues';
import { extractTraceContext, startBusServerSpan } from '../telemetry/bus-tracing';
import { type BusRequestContext, requestContextOf } from './request-context';
import { headersToRecord } from './wire';

export type ContractHandler<C extends RequestContract> = (
  input: RequestOf<C>,
  context: BusRequestContext,
) => Promise<ResponseOf<C>>;

/** Where a handler reports errors it did not expect (wired to the service logger at bootstrap). */
export const busHandlerHooks = {
  reportUnexpected(_subject: string, _error: unknown): void {},
  observe(_subject: string, _outcome: 'ok' | 'error', _durationSeconds: number): void {},
};

/** Marks the payload of a message that was not JSON, so validation refuses it like any bad input. */
export const MALFORMED_PAYLOAD = Symbol('malformed-payload');

/**
 * Registers a method as the handler of a request contract on the bus. Before the method
 * runs, the payload is parsed with the contract's request schema: invalid input is answered
 * with VALIDATION and never reaches domain code. The reply is checked against the response
 * schema: a reply that breaks the contract is a bug, answered as BAD_REPLY and reported.
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
      const headers = headersToRecord(natsContext?.getHeaders?.());
      const context_ = requestContextOf(contract.subject, headers);
      const startedAt = performance.now();
      const span = startBusServerSpan(contract.subject, extractTraceContext(headers));
      try {
        const reply = await context.with(span.context, async () => {
          const input = contract.request.safeParse(data === MALFORMED_PAYLOAD ? undefined : data);
          if (!input.success) {
            throw PlatformError.validation(`Invalid ${contract.subject} request`, {
              issues: validationIssuesOf(input.error),
            });
          }
          const output = await domainMethod.call(this, input.data as RequestOf<C>, context_);
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
