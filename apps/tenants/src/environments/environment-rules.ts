import { lowerRatePlan, type RatePlanName, ratePlanRank } from '@strongroom/contracts';
import { canonicalAllowlist, PlatformError } from '@strongroom/platform';

/** The plan the gateway applies to an environment: its own, never above the tenant's. */
export function effectiveRatePlan(environmentPlan: RatePlanName | null, tenantPlan: RatePlanName): RatePlanName {
  return environmentPlan === null ? tenantPlan : lowerRatePlan(environmentPlan, tenantPlan);
}

export interface EnvironmentChange {
  ipAllowlist?: string[] | undefined;
  ratePlan?: RatePlanName | null | undefined;
}

/**
 * A requested change made canonical and checked: allowlist entries as canonical CIDRs without
 * duplicates (VALIDATION for host bits set), and a plan no higher than the tenant's (the plan is
 * what the tenant pays for; the platform raises the tenant's plan, not an environment's).
 */
export function checkedEnvironmentChange(change: EnvironmentChange, tenantPlan: RatePlanName): EnvironmentChange {
  if (
    change.ratePlan !== undefined &&
    change.ratePlan !== null &&
    ratePlanRank(change.ratePlan) > ratePlanRank(tenantPlan)
  )
    throw PlatformError.forbidden(`The tenant's plan is ${tenantPlan}; an environment may not use ${change.ratePlan}`, {
      reason: 'ABOVE_TENANT_PLAN',
    });
  return {
    ...(change.ipAllowlist !== undefined ? { ipAllowlist: canonicalAllowlist(change.ipAllowlist) } : {}),
    ...(change.ratePlan !== undefined ? { ratePlan: change.ratePlan } : {}),
  };
}
