import {
  Outbox1763856000000,
  OutboxAuditSubjects1764720000000,
  OutboxTenantScope1764288000000,
} from '@strongroom/platform';
import { Tenants1763856000100 } from './1763856000100-tenants';
import { TenantSettings1764028800100 } from './1764028800100-tenant-settings';
import { TenantEnvironments1764201600100 } from './1764201600100-tenant-environments';

/** In order; TypeORM records each by name in `schema_migrations`. */
export const migrations = [
  Outbox1763856000000,
  Tenants1763856000100,
  TenantSettings1764028800100,
  TenantEnvironments1764201600100,
  OutboxTenantScope1764288000000,
  OutboxAuditSubjects1764720000000,
];
