import { z } from 'zod';
import { API_KEY_RATE_LIMIT_TIERS } from './api-keys';

/**
 * Request budgets per credential (API key or OAuth client) by plan: a tenant environment names
 * its plan, an API key may name its own tier. The gateway enforces them with a store shared by
 * every replica. Names are the API-key tiers', so one vocabulary covers both.
 */
export const RATE_PLANS = {
  basic: { requestsPerSecond: 50 },
  standard: { requestsPerSecond: 500 },
  premium: { requestsPerSecond: 5_000 },
} as const satisfies Record<(typeof API_KEY_RATE_LIMIT_TIERS)[number], { requestsPerSecond: number }>;
export type RatePlanName = keyof typeof RATE_PLANS;
export const ratePlanSchema = z.enum(API_KEY_RATE_LIMIT_TIERS);
export const DEFAULT_RATE_PLAN: RatePlanName = 'standard';
