import {
  Outbox1763856000000,
  OutboxAuditSubjects1764720000000,
  OutboxTenantScope1764288000000,
} from '@strongroom/platform';
import { Users1763856000100 } from './1763856000100-users';
import { OAuth1764028800000 } from './1764028800000-oauth';
import { ApiKeys1764028800200 } from './1764028800200-api-keys';
import { Login1764028800300 } from './1764028800300-login';
import { Cards1764028800400 } from './1764028800400-cards';
import { Invitations1764028800500 } from './1764028800500-invitations';
import { RecoveryCodes1764028800600 } from './1764028800600-recovery-codes';
import { CustomRoles1764028800700 } from './1764028800700-custom-roles';

/** In order; TypeORM records each by name in `schema_migrations`. */
export const migrations = [
  Outbox1763856000000,
  Users1763856000100,
  OAuth1764028800000,
  ApiKeys1764028800200,
  Login1764028800300,
  Cards1764028800400,
  Invitations1764028800500,
  RecoveryCodes1764028800600,
  CustomRoles1764028800700,
  OutboxTenantScope1764288000000,
  OutboxAuditSubjects1764720000000,
];
