import { PlatformError } from '@strongroom/platform';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sendProblem } from '../http/send-problem';
import {
  type EdgeBudgets,
  edgeRateLimitOf,
  type RateLimitChoice,
  type RateLimitState,
  rateLimitHeaders,
} from './rate-limit-policy';
import type { RateLimitDecision, SharedRateLimits } from './shared-rate-limits';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** `per-credential`: the route counts its requests itself, once the caller is authenticated. */
    rateLimit?: 'per-credential';
  }
}

/** Route config of the API routes: they count per credential in their handler, once it is authenticated. */
export const COUNTED_PER_CREDENTIAL = { rateLimit: 'per-credential' } as const;

/**
 * Counts every request that is not an API route against its edge budget (rate-limit-policy.ts),
 * after the body is parsed (the token endpoint's client may be named in the form). An OAuth
 * client's request that fails client authentication (401) is given back to the client's budget:
 * a stranger who knows a client id cannot spend that client's budget with wrong secrets.
 */
export function limitEdgeRequests(fastify: FastifyInstance, limits: SharedRateLimits, budgets: EdgeBudgets): void {
  const refundable = new WeakMap<FastifyRequest, RateLimitChoice>();
  fastify.addHook('preHandler', async (request, reply) => {
    if (request.routeOptions.config?.rateLimit === COUNTED_PER_CREDENTIAL.rateLimit) return;
    const authorization = request.headers.authorization;
    const choice = edgeRateLimitOf(
      { method: request.method, url: request.url, ip: request.ip, authorization, body: request.body },
      budgets,
    );
    const decision = await limits.consume(choice);
    if (!decision.allowed) return sendProblem(reply, overBudget(reply, decision), String(request.id));
    void reply.headers(rateLimitHeaders(decision.state));
    if (choice.refundableOnUnauthenticated) refundable.set(request, choice);
  });
  fastify.addHook('onResponse', async (request, reply) => {
    const choice = refundable.get(request);
    if (choice !== undefined && reply.statusCode === 401) limits.refund(choice);
  });
}

/** The 429: RateLimit fields, Retry-After (RFC 9110 §10.2.3), and a RATE_LIMITED problem. */
export function overBudget(reply: FastifyReply, decision: RateLimitDecision): PlatformError {
  const state: RateLimitState = decision.state;
  void reply.headers(rateLimitHeaders(state)).header('retry-after', String(state.resetSeconds));
  return new PlatformError('RATE_LIMITED', `Too many requests; retry in ${state.resetSeconds} s`, {
    retryAfterSeconds: state.resetSeconds,
  });
}
