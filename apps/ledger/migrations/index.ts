import {
  Outbox1763856000000,
  OutboxAuditSubjects1764720000000,
  OutboxTenantScope1764288000000,
} from '@strongroom/platform';
import { Ledger1764460800100 } from './1764460800100-ledger';

/** In order; TypeORM records each by name in `schema_migrations`. */
export const migrations = [
  Outbox1763856000000,
  OutboxTenantScope1764288000000,
  Ledger1764460800100,
  OutboxAuditSubjects1764720000000,
];
