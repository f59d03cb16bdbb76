import { booleanFlag, commaSeparatedList, commonConfigSchema, optionalString, portNumber } from '@strongroom/platform';
import { z } from 'zod';
import { corsAllowedOriginsSchema } from './http/cors';

const postgresUrl = z
  .string()
  .url()
  .refine((value) => /^postgres(ql)?:\/\//.test(value), 'must be a postgres:// URL');

export const gatewayConfigSchema = commonConfigSchema('gateway').extend({
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: portNumber.default(8080),
  /** Bodies above this are refused with 413 before any parsing (STYLE: a limit on everything). */
  BODY_LIMIT_BYTES: z.coerce
    .number()
    .int()
    .min(1_024)
    .max(16 * 1_048_576)
    .default(1_048_576),
  /**
   * Proxies whose X-Forwarded-For the gateway believes (comma-separated addresses or CIDRs), so
   * throttles and allowlists see the client's address; empty: the peer address is the client's.
   */
  TRUSTED_PROXIES: commaSeparatedList.pipe(z.array(z.union([z.ipv4(), z.ipv6(), z.cidrv4(), z.cidrv6()])).max(64)),
  /** How long /health waits for each service before calling it down. */
  HEALTH_TIMEOUT_MS: z.coerce.number().int().min(50).max(10_000).default(2_000),
  /** Browser origins allowed to call the API cross-origin (comma-separated, exact); empty: none, no CORS headers. */
  CORS_ALLOWED_ORIGINS: corsAllowedOriginsSchema,
  /** `Access-Control-Allow-Credentials: true` for those origins (cookies); off unless asked for. */
  CORS_ALLOW_CREDENTIALS: booleanFlag.default(false),
  /**
   * The gateway's own database (rate-limit counters shared by every replica, Idempotency-Key
   * records): the runtime role, and the owner when it migrates itself, as for a backend service.
   */
  DATABASE_RUNTIME_URL: postgresUrl,
  DATABASE_MIGRATION_URL: optionalString.pipe(postgresUrl.optional()),
  MIGRATE_ON_START: booleanFlag.default(true),
  /** `false` turns every rate limit off (a bench of raw capacity); refused when NODE_ENV=production. */
  RATE_LIMITS_ENABLED: booleanFlag.default(true),
  /** Requests a second per client address on the public endpoints (discovery, JWKS, docs, OAuth GETs). */
  RATE_LIMIT_PUBLIC_PER_SECOND: z.coerce.number().int().min(1).max(100_000).default(100),
  /** How long a counter update may take before this replica falls back to its in-memory counters. */
  RATE_LIMIT_STORE_TIMEOUT_MS: z.coerce.number().int().min(10).max(5_000).default(250),
});

export type GatewayConfig = z.infer<typeof gatewayConfigSchema>;
