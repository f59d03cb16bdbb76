import { type Environment, getTenantEnvironment, type RatePlanName } from '@strongroom/contracts';
import {
  type BusCallClient,
  type BusClient,
  IpAllowlist,
  isPlatformPrincipal,
  PlatformError,
  type Principal,
  type ProcessCredentials,
  ReadThroughCache,
} from '@strongroom/platform';

export interface EnvironmentPolicy {
  allowlist: IpAllowlist;
  ratePlan: RatePlanName;
}

/** The request a policy is looked up for: its id and client go with the lookup (audit correlation). */
export interface PolicyCall {
  requestId: string;
  client: BusCallClient;
}

/** A change to an allowlist or plan reaches every gateway replica within this. */
export const ENVIRONMENT_POLICY_TTL_MS = 1_000;
const ENTRIES_MAX = 20_000;

/**
 * The IP allowlist and rate plan of the caller's tenant environment, as the tenants service says
 * (asked on the gateway's own behalf), believed for at most a second. Platform principals (the
 * operator, service identities, platform administrators) belong to no tenant environment.
 */
export class EnvironmentPolicies {
  private readonly cache = new ReadThroughCache<string, EnvironmentPolicy>({
    ttlMs: ENVIRONMENT_POLICY_TTL_MS,
    entriesMax: ENTRIES_MAX,
  });

  constructor(
    private readonly bus: BusClient,
    private readonly credentials: ProcessCredentials,
  ) {}

  async policyOf(principal: Principal, call: PolicyCall): Promise<EnvironmentPolicy | undefined> {
    if (isPlatformPrincipal(principal)) return undefined;
    const { tenantId, environment } = principal;
    return this.cache.get(`${tenantId}/${environment}`, () => this.fetch(tenantId, environment, call));
  }

  /**
   * Refuses a caller whose address is outside its environment's allowlist (FORBIDDEN, reason
   * IP_NOT_ALLOWED); answers the plan its requests are counted under. A tenant the tenants
   * service does not know has no environment to allow anything (FORBIDDEN); the tenants service
   * unreachable is UNAVAILABLE (closed, never open).
   */
  async admit(principal: Principal, clientAddress: string, call: PolicyCall): Promise<RatePlanName | undefined> {
    const policy = await this.policyOf(principal, call);
    if (policy === undefined) return undefined;
    if (!policy.allowlist.allows(clientAddress))
      throw PlatformError.forbidden(`Requests from this address are not allowed in this ${principal.environment}`, {
        reason: 'IP_NOT_ALLOWED',
      });
    return policy.ratePlan;
  }

  private async fetch(tenantId: string, environment: Environment, call: PolicyCall): Promise<EnvironmentPolicy> {
    const credential = await this.credentials.asService.authorization();
    try {
      const found = await this.bus.request(getTenantEnvironment, { tenantId, environment }, { ...call, credential });
      return { allowlist: new IpAllowlist(found.ipAllowlist), ratePlan: found.effectiveRatePlan };
    } catch (error) {
      if (error instanceof PlatformError && error.code === 'NOT_FOUND')
        throw PlatformError.forbidden('The credential names no known tenant environment', { reason: 'UNKNOWN_TENANT' });
      throw error;
    }
  }
}
