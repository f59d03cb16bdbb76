import { Outbox1763856000000 } from '@strongroom/platform';
import { Tenants1763856000100 } from './1763856000100-tenants';
import { TenantSettings1764028800100 } from './1764028800100-tenant-settings';

/** In order; TypeORM records each by name in `schema_migrations`. */
export const migrations = [Outbox1763856000000, Tenants1763856000100, TenantSettings1764028800100];
