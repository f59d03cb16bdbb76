import {
  authenticateApiKey,
  type Environment,
  environmentOfApiKey,
  HEADERS,
  type RatePlanName,
  REQUEST_SIGNING_HEADERS,
  type ResponseOf,
  sha256Hex,
} from '@strongroom/contracts';
import {
  assertMayUseEnvironment,
  type BusClient,
  PlatformError,
  type Principal,
  type ProcessCredentials,
} from '@strongroom/platform';
import type { FastifyRequest } from 'fastify';
import { clientOf } from '../http/client-origin';
import { EnvironmentPolicies } from './environment-policies';
import { rawBodyOf } from './raw-json-body';

/** A caller whose credential verified, not yet admitted to its environment. */
export interface VerifiedCaller {
  /** `Bearer <jwt>` forwarded on the bus (the client's own token, or the one its API key was exchanged for). */
  authorization: string;
  principal: Principal;
  /** Set when the caller presented an API key: its id and the rate tier it names. */
  apiKey?: { keyId: string; rateLimitTier: RatePlanName };
}

export interface CallerCredential extends VerifiedCaller {
  /** The rate plan of the caller's tenant environment, when known (tenants service). */
  environmentRatePlan?: RatePlanName;
}

/**
 * Who is calling: a bearer token (OAuth2), or an API key with a signed request (seed 003), which
 * auth exchanges for a five-minute access token. Either way the token is verified here
 * (signature, issuer, audience, expiry, revocation) and again by the service, and the caller's
 * address checked against its tenant environment's IP allowlist.
 */
export class ApiCredentials {
  private readonly environments: EnvironmentPolicies;

  constructor(
    private readonly bus: BusClient,
    private readonly credentials: ProcessCredentials,
  ) {
    this.environments = new EnvironmentPolicies(bus, credentials);
  }

  /**
   * Who presents the request: the bearer token, or the token the API key was exchanged for,
   * verified (signature, issuer, audience, expiry, revocation). UNAUTHENTICATED when it is not.
   */
  async verify(request: FastifyRequest, resourceEnvironment: Environment | undefined): Promise<VerifiedCaller> {
    const apiKey = request.headers[REQUEST_SIGNING_HEADERS.apiKey];
    const bearer = request.headers[HEADERS.authorization];
    if (apiKey !== undefined && bearer !== undefined)
      throw PlatformError.validation('Send either an API key or a bearer token, not both');
    const exchanged =
      apiKey === undefined ? undefined : await this.exchangeApiKey(request, apiKey, resourceEnvironment);
    const authorization = exchanged === undefined ? bearer : `Bearer ${exchanged.accessToken}`;
    const principal = await this.credentials.verifier.verify(authorization);
    return {
      authorization: authorization!,
      principal,
      ...(exchanged !== undefined
        ? { apiKey: { keyId: exchanged.keyId, rateLimitTier: exchanged.rateLimitTier } }
        : {}),
    };
  }

  /**
   * Whether a verified caller may act here at all: a sandbox credential never touches production
   * resources and the other way round, and its address must be in its environment's allowlist.
   * FORBIDDEN when not.
   */
  async admit(
    caller: VerifiedCaller,
    request: FastifyRequest,
    resourceEnvironment: Environment | undefined,
  ): Promise<CallerCredential> {
    // Platform principals (tenant administration) belong to no tenant environment.
    if (resourceEnvironment !== undefined) assertMayUseEnvironment(caller.principal, resourceEnvironment);
    // Seed 003: allowed CIDR ranges per environment, whatever the credential (API key, OAuth client, user).
    const environmentRatePlan = await this.environments.admit(caller.principal, request.ip, {
      requestId: String(request.id),
      client: clientOf(request),
    });
    return { ...caller, ...(environmentRatePlan !== undefined ? { environmentRatePlan } : {}) };
  }

  private async exchangeApiKey(
    request: FastifyRequest,
    apiKey: string | string[],
    resourceEnvironment: Environment | undefined,
  ): Promise<ResponseOf<typeof authenticateApiKey>> {
    if (typeof apiKey !== 'string') throw PlatformError.unauthenticated();
    const signing: Record<string, string> = { [REQUEST_SIGNING_HEADERS.apiKey]: apiKey };
    for (const name of Object.values(REQUEST_SIGNING_HEADERS)) {
      const value = request.headers[name];
      if (typeof value === 'string') signing[name] = value;
    }
    const [path = '/', query = ''] = splitOnce(request.url, '?');
    // Auth refuses a key whose prefix names no environment (MALFORMED) before anything else.
    const keyEnvironment: Environment = environmentOfApiKey(apiKey) ?? 'sandbox';
    return this.bus.request(
      authenticateApiKey,
      {
        environment: resourceEnvironment ?? keyEnvironment,
        method: request.method,
        path,
        query,
        bodySha256: sha256Hex(rawBodyOf(request)),
        headers: signing as never,
      },
      {
        requestId: String(request.id),
        credential: await this.credentials.asService.authorization(),
        client: clientOf(request),
      },
    );
  }
}

function splitOnce(value: string, separator: string): [string, string] {
  const index = value.indexOf(separator);
  return index === -1 ? [value, ''] : [value.slice(0, index), value.slice(index + 1)];
}
