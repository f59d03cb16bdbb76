import { HEADERS } from '@strongroom/contracts';
import { PlatformError } from '@strongroom/platform';
import type { FastifyReply } from 'fastify';
import { problemFromError } from './problem-details';

/** Answers an error as RFC 9457 problem+json from a route registered on Fastify directly. */
export function sendProblem(reply: FastifyReply, error: unknown, requestId: string): FastifyReply {
  const problem = problemFromError(error, requestId);
  // A 5xx is logged here (the client sees only a generic problem): a bug at error level, a
  // dependency's refusal (UNAVAILABLE, TIMEOUT) at warn. Fastify's logger is the gateway's pino.
  if (problem.status >= 500) {
    if (error instanceof PlatformError) reply.log.warn({ code: error.code, requestId }, 'request failed');
    else reply.log.error({ err: error, requestId }, 'request failed');
  }
  // RFC 6750 §3: a missing or invalid bearer token is challenged. A 401 with a `reason` (a wrong
  // PIN, a refused API-key signature) is about something else the request carried: no challenge.
  if (problem.status === 401 && problem.reason === undefined)
    void reply.header('www-authenticate', 'Bearer realm="strongroom"');
  return reply
    .status(problem.status)
    .header('content-type', 'application/problem+json')
    .header(HEADERS.requestId, requestId)
    .send(problem);
}
