import type { ApiRoute } from './api-route-table';

/** Tenants, their environments and settings (tenants service). */
export const TENANT_ROUTES: readonly ApiRoute[] = [];
