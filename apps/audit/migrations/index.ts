import {
  Outbox1763856000000,
  OutboxAuditSubjects1764720000000,
  OutboxTenantScope1764288000000,
} from '@strongroom/platform';
import { Audit1764806400100 } from './1764806400100-audit';

/** In order; TypeORM records each by name in `schema_migrations`. */
export const migrations = [
  Outbox1763856000000,
  OutboxTenantScope1764288000000,
  OutboxAuditSubjects1764720000000,
  Audit1764806400100,
];
