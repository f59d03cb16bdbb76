import {
  exchangeOidcHttp,
  OIDC_BODY_BYTES_MAX,
  OIDC_REQUEST_HEADERS,
  OIDC_ROUTES,
  type RequestOf,
} from '@strongroom/contracts';
import type { BusClient } from '@strongroom/platform';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { clientOf } from '../http/client-origin';
import { sendProblem } from '../http/send-problem';

type ExchangeRequest = RequestOf<typeof exchangeOidcHttp>;

/**
 * The OAuth2/OIDC endpoints at the edge. The gateway holds no protocol logic: each exchange
 * crosses the bus whole (method, path, protocol headers, form body, client address) to the auth
 * service, where oidc-provider answers it.
 */
export function registerOidcForwarding(fastify: FastifyInstance, bus: BusClient): void {
  // OAuth endpoints take form posts (RFC 6749 §4.1.3); kept as the raw string the provider parses
  // (replacing Nest's parser, which would decode it into an object we would have to re-encode).
  const form = 'application/x-www-form-urlencoded';
  if (fastify.hasContentTypeParser(form)) fastify.removeContentTypeParser(form);
  fastify.addContentTypeParser(form, { parseAs: 'string', bodyLimit: OIDC_BODY_BYTES_MAX }, (_request, body, done) =>
    done(null, body),
  );
  const forward = async (request: FastifyRequest, reply: FastifyReply) => {
    const requestId = String(request.id);
    try {
      const answer = await bus.forward(exchangeOidcHttp, exchangeOf(request), { requestId, client: clientOf(request) });
      for (const [name, value] of Object.entries(answer.headers))
        if (value !== undefined) void reply.header(name, value);
      return reply.status(answer.status).send(answer.body);
    } catch (error) {
      return sendProblem(reply, error, requestId);
    }
  };
  const paths = [OIDC_ROUTES.discovery, OIDC_ROUTES.authorizationServerMetadata, OIDC_ROUTES.jwks, '/oauth/*'];
  for (const url of paths) fastify.route({ method: ['GET', 'POST', 'OPTIONS'], url, handler: forward });
}

function exchangeOf(request: FastifyRequest): ExchangeRequest {
  const headers: ExchangeRequest['headers'] = {};
  for (const name of OIDC_REQUEST_HEADERS) {
    const value = request.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  const body =
    typeof request.body === 'string'
      ? request.body
      : request.body === undefined
        ? undefined
        : JSON.stringify(request.body);
  return {
    method: request.method as ExchangeRequest['method'],
    url: request.url,
    headers,
    ...(body !== undefined ? { body } : {}),
    remoteAddress: request.ip,
  };
}
