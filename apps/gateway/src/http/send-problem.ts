import { HEADERS } from '@strongroom/contracts';
import type { FastifyReply } from 'fastify';
import { problemFromError } from './problem-details';

/** Answers an error as RFC 9457 problem+json from a route registered on Fastify directly. */
export function sendProblem(reply: FastifyReply, error: unknown, requestId: string): FastifyReply {
  const problem = problemFromError(error, requestId);
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
