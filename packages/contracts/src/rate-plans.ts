import { z } from 'zod';

/** Plans in increasing order of budget (a tenant admin may lower an environment's plan, never raise it). */
export const RATE_PLAN_NAMES = ['basic', 'standard', 'premium'] as const;
export type RatePlanName = (typeof RATE_PLAN_NAMES)[number];
export const ratePlanSchema = z.enum(RATE_PLAN_NAMES);

/**
 * Request budgets per credential (API key or OAuth client) by plan: a tenant has a plan (set by
 * the platform), each environment may use a lower one, and an API key a lower one still.
 * The gateway enforces them with a store shared by every replica.
 */
export const RATE_PLANS: Readonly<Record<RatePlanName, { requestsPerSecond: number }>> = {
  basic: { requestsPerSecond: 50 },
  standard: { requestsPerSecond: 500 },
  premium: { requestsPerSecond: 5_000 },
};
export const DEFAULT_RATE_PLAN: RatePlanName = 'standard';

export function ratePlanRank(plan: RatePlanName): number {
  return RATE_PLAN_NAMES.indexOf(plan);
}

/** The smaller of two plans: a narrower grant never raises what its parent allows. */
export function lowerRatePlan(a: RatePlanName, b: RatePlanName): RatePlanName {
  return ratePlanRank(a) <= ratePlanRank(b) ? a : b;
}
