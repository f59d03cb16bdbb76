import { RateLimitCounters1764201600100 } from './1764201600100-rate-limit-counters';
import { IdempotencyKeys1764201600200 } from './1764201600200-idempotency-keys';

/** In order; TypeORM records each by name in `schema_migrations`. */
export const migrations = [RateLimitCounters1764201600100, IdempotencyKeys1764201600200];
