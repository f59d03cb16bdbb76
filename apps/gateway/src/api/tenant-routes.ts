import {
  createTenant,
  getTenant,
  getTenantEnvironment,
  listTenantEnvironments,
  listTenants,
  reactivateTenant,
  suspendTenant,
  updateTenantEnvironment,
  updateTenantSettings,
} from '@strongroom/contracts';
import type { FastifyRequest } from 'fastify';
import type { ApiRoute } from './api-route-table';
import { bodyObject, environmentIn, numberIn, params, queryObject } from './route-input';

const tenantOf = (request: FastifyRequest) => ({ tenantId: params(request).tenantId });
const environmentOf = (request: FastifyRequest) => ({
  tenantId: params(request).tenantId,
  environment: params(request).environment,
});

/** Tenants (platform administration), their environments and settings (tenants service). */
export const TENANT_ROUTES: readonly ApiRoute[] = [
  {
    method: 'POST',
    url: '/v1/tenants',
    contract: createTenant,
    status: 201,
    input: (request) => request.body,
  },
  {
    method: 'GET',
    url: '/v1/tenants',
    contract: listTenants,
    query: ['limit', 'cursor', 'status', 'region'],
    input: (request) => {
      const { limit, cursor, status, region } = queryObject(request);
      return {
        ...(limit !== undefined ? { limit: numberIn(limit) } : {}),
        ...(cursor !== undefined ? { cursor } : {}),
        ...(status !== undefined ? { status } : {}),
        ...(region !== undefined ? { region } : {}),
      };
    },
  },
  {
    method: 'GET',
    url: '/v1/tenants/:tenantId',
    contract: getTenant,
    input: tenantOf,
  },
  {
    method: 'POST',
    url: '/v1/tenants/:tenantId/suspension',
    contract: suspendTenant,
    input: tenantOf,
  },
  {
    method: 'DELETE',
    url: '/v1/tenants/:tenantId/suspension',
    contract: reactivateTenant,
    input: tenantOf,
  },
  {
    method: 'PATCH',
    url: '/v1/tenants/:tenantId/settings',
    contract: updateTenantSettings,
    bodyField: 'settings',
    input: (request) => ({ tenantId: params(request).tenantId, settings: request.body }),
  },
  {
    method: 'GET',
    url: '/v1/tenants/:tenantId/environments',
    contract: listTenantEnvironments,
    input: tenantOf,
  },
  {
    method: 'GET',
    url: '/v1/tenants/:tenantId/environments/:environment',
    contract: getTenantEnvironment,
    input: environmentOf,
    environment: (request) => environmentIn(params(request).environment),
  },
  {
    method: 'PATCH',
    url: '/v1/tenants/:tenantId/environments/:environment',
    contract: updateTenantEnvironment,
    input: (request) => ({ ...bodyObject(request), ...environmentOf(request) }),
    environment: (request) => environmentIn(params(request).environment),
  },
];
