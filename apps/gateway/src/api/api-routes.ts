import { createClient, getTenant, HEADERS, type RequestContract } from '@strongroom/contracts';
import { type BusClient, PlatformError, type ProcessCredentials } from '@strongroom/platform';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sendProblem } from '../http/send-problem';

/** One API route: which contract it forwards to (and so which permission it requires) and how its input is read. */
export interface ApiRoute {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  url: string;
  contract: RequestContract;
  status?: number;
  input(request: FastifyRequest): unknown;
}

const params = (request: FastifyRequest) => request.params as Record<string, string>;
const bodyObject = (request: FastifyRequest) =>
  typeof request.body === 'object' && request.body !== null && !Array.isArray(request.body) ? request.body : {};

/** The API today; every route names a contract, so none exists without a permission (deny by default). */
export const API_ROUTES: readonly ApiRoute[] = [
  {
    method: 'GET',
    url: '/v1/tenants/:tenantId',
    contract: getTenant,
    input: (request) => ({ tenantId: params(request).tenantId }),
  },
  {
    method: 'POST',
    url: '/v1/tenants/:tenantId/clients',
    contract: createClient,
    status: 201,
    input: (request) => ({ ...bodyObject(request), tenantId: params(request).tenantId }),
  },
];

/**
 * Registers the API routes: the bearer token is verified here (signature, issuer, audience,
 * expiry, revocation) and checked for the route's permission, then forwarded with the call so
 * the service verifies it again (zero trust).
 */
export function registerApiRoutes(fastify: FastifyInstance, bus: BusClient, credentials: ProcessCredentials): void {
  for (const route of API_ROUTES) {
    if (route.contract.authentication !== 'access-token')
      throw new Error(`API route ${route.method} ${route.url} must require an access token`);
    fastify.route({
      method: route.method,
      url: route.url,
      handler: async (request: FastifyRequest, reply: FastifyReply) => {
        const requestId = String(request.id);
        try {
          const authorization = request.headers[HEADERS.authorization];
          const principal = await credentials.verifier.verify(authorization);
          if (!principal.permissions.has(route.contract.permission))
            throw PlatformError.forbidden(`This credential lacks the permission ${route.contract.permission}`, {
              permission: route.contract.permission,
            });
          const result = await bus.forward(route.contract, route.input(request), {
            credential: authorization,
            requestId,
          });
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
