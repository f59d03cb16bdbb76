import type { BusCallClient } from '@strongroom/platform';
import type { FastifyRequest } from 'fastify';

/**
 * The HTTP client as the gateway sees it, stated on every bus call it makes for the request
 * (HEADERS.clientIp, HEADERS.userAgent) so the services' audit records name it: the address is
 * Fastify's (the peer, or X-Forwarded-For from TRUSTED_PROXIES only), never a header the client
 * chose, and a client's own `x-strongroom-client-ip` is never forwarded (BusClient builds the
 * bus headers from scratch).
 */
export function clientOf(request: FastifyRequest): BusCallClient {
  const userAgent = request.headers['user-agent'];
  return { ip: request.ip, ...(typeof userAgent === 'string' ? { userAgent } : {}) };
}
