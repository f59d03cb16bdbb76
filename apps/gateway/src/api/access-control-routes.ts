import type { ApiRoute } from './api-route-table';

/** Roles, custom roles and memberships (auth service). */
export const ACCESS_CONTROL_ROUTES: readonly ApiRoute[] = [];
