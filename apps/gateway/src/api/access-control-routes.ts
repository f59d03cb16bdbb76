import { createRole, deleteRole, listMemberships, listRoles, setUserRoles, updateRole } from '@strongroom/contracts';
import type { ApiRoute } from './api-route-table';
import { bodyObject, numberIn, params, queryObject } from './route-input';

/** Roles, custom roles and memberships (auth service). */
export const ACCESS_CONTROL_ROUTES: readonly ApiRoute[] = [
  {
    method: 'GET',
    url: '/v1/tenants/:tenantId/roles',
    contract: listRoles,
    input: (request) => ({ tenantId: params(request).tenantId }),
  },
  {
    method: 'POST',
    url: '/v1/tenants/:tenantId/roles',
    contract: createRole,
    status: 201,
    input: (request) => ({ ...bodyObject(request), tenantId: params(request).tenantId }),
  },
  {
    method: 'PUT',
    url: '/v1/tenants/:tenantId/roles/:roleName',
    contract: updateRole,
    input: (request) => ({
      ...bodyObject(request),
      tenantId: params(request).tenantId,
      name: params(request).roleName,
    }),
  },
  {
    method: 'DELETE',
    url: '/v1/tenants/:tenantId/roles/:roleName',
    contract: deleteRole,
    input: (request) => ({ tenantId: params(request).tenantId, name: params(request).roleName }),
  },
  {
    method: 'GET',
    url: '/v1/tenants/:tenantId/users',
    contract: listMemberships,
    query: ['limit', 'after'],
    input: (request) => {
      const query = queryObject(request);
      return {
        tenantId: params(request).tenantId,
        ...(query.limit !== undefined ? { limit: numberIn(query.limit) } : {}),
        ...(query.after !== undefined ? { after: query.after } : {}),
      };
    },
  },
  {
    method: 'PUT',
    url: '/v1/tenants/:tenantId/users/:userId/roles',
    contract: setUserRoles,
    input: (request) => ({
      ...bodyObject(request),
      tenantId: params(request).tenantId,
      userId: params(request).userId,
    }),
  },
];
