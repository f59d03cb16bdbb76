import { commonConfigSchema, portNumber } from '@strongroom/platform';
import { z } from 'zod';

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
  TRUSTED_PROXIES: z
    .string()
    .default('')
    .transform((value) =>
      value
        .split(',')
        .map((entry) => entry.trim())
        .filter((entry) => entry !== ''),
    )
    .pipe(z.array(z.union([z.ipv4(), z.ipv6(), z.cidrv4(), z.cidrv6()])).max(64)),
  /** How long /health waits for each service before calling it down. */
  HEALTH_TIMEOUT_MS: z.coerce.number().int().min(50).max(10_000).default(2_000),
});

export type GatewayConfig = z.infer<typeof gatewayConfigSchema>;
