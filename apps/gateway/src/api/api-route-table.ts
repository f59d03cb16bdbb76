import {
  changeCardPin,
  createApiKey,
  createClient,
  type Environment,
  inviteUser,
  listApiKeys,
  type RequestContract,
  registerCard,
  revokeApiKey,
  revokeTokens,
  rotateApiKey,
  unlockCard,
  verifyCardPin,
} from '@strongroom/contracts';
import type { Principal } from '@strongroom/platform';
import type { FastifyRequest } from 'fastify';
import { ACCESS_CONTROL_ROUTES } from './access-control-routes';
import { AUDIT_ROUTES } from './audit-routes';
import { LEDGER_ROUTES } from './ledger-routes';
import { bodyObject, cardOf, environmentIn, numberIn, params, queryObject } from './route-input';
import { TENANT_ROUTES } from './tenant-routes';

/** The HTTP methods API routes use (CORS offers exactly these). */
export const API_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

/** One API route: the contract it forwards to (and so the permission it requires) and how its input is read. */
export interface ApiRoute {
  method: (typeof API_METHODS)[number];
  url: string;
  contract: RequestContract;
  status?: number;
  /**
   * The contract's request, from the HTTP request and the verified caller (the gateway always
   * passes it; routes acting on the caller's own tenant read it, the others need not).
   */
  input(request: FastifyRequest, principal?: Principal): unknown;
  /** Query parameters it reads (for the OpenAPI document); none of them is part of the body. */
  query?: readonly string[];
  /** How long the service may take, when longer than the gateway's BUS_TIMEOUT_MS (a period's export). */
  timeoutMs?: number;
  /**
   * The service applies a repeated request once (the ledger's client-chosen transfer ids): an
   * Idempotency-Key whose request timed out is freed, so the client's retry gets the real outcome.
   */
  retrySafe?: boolean;
  /** When the body is one field of the contract's request (`{tenantId, transfer}` takes the transfer as its body). */
  bodyField?: string;
  /** The environment of the resource addressed, when it has one: a credential of the other one is refused. */
  environment?(request: FastifyRequest): Environment | undefined;
}

/** The API today; every route names a contract, so none exists without a permission (deny by default). */
export const API_ROUTES: readonly ApiRoute[] = [
  ...TENANT_ROUTES,
  ...ACCESS_CONTROL_ROUTES,
  ...LEDGER_ROUTES,
  ...AUDIT_ROUTES,
  {
    method: 'POST',
    url: '/v1/tenants/:tenantId/clients',
    contract: createClient,
    status: 201,
    input: (request) => ({ ...bodyObject(request), tenantId: params(request).tenantId }),
    environment: (request) => environmentIn(bodyObject(request).environment),
  },
  {
    method: 'POST',
    url: '/v1/tenants/:tenantId/api-keys',
    contract: createApiKey,
    status: 201,
    input: (request) => ({ ...bodyObject(request), tenantId: params(request).tenantId }),
    environment: (request) => environmentIn(bodyObject(request).environment),
  },
  {
    method: 'GET',
    url: '/v1/tenants/:tenantId/api-keys',
    contract: listApiKeys,
    query: ['environment', 'limit', 'after'],
    input: (request) => {
      const query = queryObject(request);
      return {
        tenantId: params(request).tenantId,
        ...(query.environment !== undefined ? { environment: query.environment } : {}),
        ...(query.limit !== undefined ? { limit: numberIn(query.limit) } : {}),
        ...(query.after !== undefined ? { afterKeyId: query.after } : {}),
      };
    },
    environment: (request) => environmentIn(queryObject(request).environment),
  },
  {
    method: 'POST',
    url: '/v1/tenants/:tenantId/api-keys/:keyId/rotate',
    contract: rotateApiKey,
    input: (request) => ({ ...bodyObject(request), tenantId: params(request).tenantId, keyId: params(request).keyId }),
  },
  {
    method: 'DELETE',
    url: '/v1/tenants/:tenantId/api-keys/:keyId',
    contract: revokeApiKey,
    input: (request) => ({ tenantId: params(request).tenantId, keyId: params(request).keyId }),
  },
  {
    method: 'POST',
    url: '/v1/tenants/:tenantId/token-revocations',
    contract: revokeTokens,
    input: (request) => ({ ...bodyObject(request), tenantId: params(request).tenantId }),
  },
  {
    method: 'POST',
    url: '/v1/tenants/:tenantId/invitations',
    contract: inviteUser,
    status: 201,
    input: (request) => ({ ...bodyObject(request), tenantId: params(request).tenantId }),
  },
  {
    method: 'POST',
    url: '/v1/tenants/:tenantId/cards',
    contract: registerCard,
    status: 201,
    input: (request) => ({ ...bodyObject(request), tenantId: params(request).tenantId }),
  },
  {
    method: 'POST',
    url: '/v1/tenants/:tenantId/cards/:cardId/pin-verifications',
    contract: verifyCardPin,
    input: (request) => ({ ...bodyObject(request), ...cardOf(request) }),
  },
  {
    method: 'PUT',
    url: '/v1/tenants/:tenantId/cards/:cardId/pin',
    contract: changeCardPin,
    input: (request) => ({ ...bodyObject(request), ...cardOf(request) }),
  },
  {
    method: 'POST',
    url: '/v1/tenants/:tenantId/cards/:cardId/unlock',
    contract: unlockCard,
    input: (request) => cardOf(request),
  },
];
