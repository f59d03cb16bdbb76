import { Outbox1763856000000 } from '@strongroom/platform';
import { Tenants1763856000100 } from './1763856000100-tenants';

/** In order; TypeORM records each by name in `schema_migrations`. */
export const migrations = [Outbox1763856000000, Tenants1763856000100];
