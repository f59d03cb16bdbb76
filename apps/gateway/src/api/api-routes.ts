import {
  type BusClient,
  PlatformError,
  type Principal,
  type ProcessCredentials,
  type RefusalAudit,
} from '@strongroom/platform';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { auditGatewayRefusal, credentialKindOf } from '../audit/gateway-refusals';
import { clientOf } from '../http/client-origin';
import { sendProblem } from '../http/send-problem';
import { IDEMPOTENCY_KEY_HEADER, idempotencyKeyOf } from '../idempotency/idempotency-key';
import type { IdempotentCalls } from '../idempotency/idempotent-calls';
import { COUNTED_PER_CREDENTIAL, overBudget } from '../rate-limits/edge-rate-limits';
import { apiRateLimitOf, rateLimitHeaders } from '../rate-limits/rate-limit-policy';
import type { SharedRateLimits } from '../rate-limits/shared-rate-limits';
import { ApiCredentials } from './api-credentials';
import { API_ROUTES } from './api-route-table';
import { openApiDocument } from './openapi-document';
import { keepRawJsonBodies } from './raw-json-body';

export interface ApiRoutesOptions {
  /** The gateway's public base URL (the OpenAPI document's server). */
  publicUrl: string;
  bus: BusClient;
  credentials: ProcessCredentials;
  bodyLimitBytes: number;
  /** Per-credential budgets by plan; undefined when rate limits are off (RATE_LIMITS_ENABLED=false). */
  rateLimits: SharedRateLimits | undefined;
  /** Idempotency-Key handling of POST routes. */
  idempotency: IdempotentCalls;
  /** Where requests refused here (401, 403) are audited, bounded and without delaying the answer. */
  refusals: RefusalAudit;
}

/**
 * Registers the API routes: the caller is authenticated here (bearer token, or API key with a
 * signed request) and checked for the route's permission, then the call is forwarded with its
 * token so the service verifies it again (zero trust), and with the client's address and user
 * agent for the services' audit records. A refusal here is audited as the gateway's.
 */
export function registerApiRoutes(fastify: FastifyInstance, options: ApiRoutesOptions): void {
  keepRawJsonBodies(fastify, options.bodyLimitBytes);
  // Errors Fastify raises before a handler runs (bad JSON, a body over the limit) are problems too.
  fastify.setErrorHandler((error, request, reply) => sendProblem(reply, error, String(request.id)));
  const document = JSON.stringify(openApiDocument(API_ROUTES, options.publicUrl));
  fastify.get('/openapi.json', (_request, reply) => reply.header('content-type', 'application/json').send(document));
  const callers = new ApiCredentials(options.bus, options.credentials);
  for (const route of API_ROUTES) {
    if (route.contract.authentication !== 'access-token')
      throw new Error(`API route ${route.method} ${route.url} must require an access token`);
    fastify.route({
      method: route.method,
      url: route.url,
      config: COUNTED_PER_CREDENTIAL,
      handler: async (request: FastifyRequest, reply: FastifyReply) => {
        const requestId = String(request.id);
        const client = clientOf(request);
        // A 401 or 403 decided here is audited: no service sees the request to record it.
        const refused = (error: unknown, principal?: Principal) => {
          auditGatewayRefusal(options.refusals, {
            route,
            requestId,
            client,
            credential: credentialKindOf(request),
            ...(principal !== undefined ? { principal } : {}),
            error,
          });
          return error;
        };
        try {
          const environment = route.environment?.(request);
          const verified = await callers.verify(request, environment).catch((error: unknown) => {
            throw refused(error);
          });
          const caller = await callers.admit(verified, request, environment).catch((error: unknown) => {
            throw refused(error, verified.principal);
          });
          if (options.rateLimits !== undefined) {
            const decision = await options.rateLimits.consume(apiRateLimitOf(caller));
            if (!decision.allowed) throw overBudget(reply, decision);
            void reply.headers(rateLimitHeaders(decision.state));
          }
          if (!caller.principal.permissions.has(route.contract.permission))
            throw refused(
              PlatformError.forbidden(`This credential lacks the permission ${route.contract.permission}`, {
                permission: route.contract.permission,
              }),
              caller.principal,
            );
          const input = route.input(request, caller.principal);
          const forward = () =>
            options.bus.forward(route.contract, input, {
              credential: caller.authorization,
              requestId,
              client,
              ...(route.timeoutMs !== undefined ? { timeoutMs: route.timeoutMs } : {}),
            });
          const idempotencyKey =
            route.method === 'POST' ? idempotencyKeyOf(request.headers[IDEMPOTENCY_KEY_HEADER]) : undefined;
          if (idempotencyKey !== undefined)
            return await options.idempotency.run({
              request,
              reply,
              caller,
              key: idempotencyKey,
              status: route.status ?? 200,
              ...(route.timeoutMs !== undefined ? { timeoutMs: route.timeoutMs } : {}),
              ...(route.retrySafe === true ? { retrySafe: true } : {}),
              forward,
            });
          const result = await forward();
          return reply
            .status(route.status ?? 200)
            .header('cache-control', 'no-store')
            .send(result);
        } catch (error) {
          return sendProblem(reply, error, requestId);
        }
      },
    });
  }
}
