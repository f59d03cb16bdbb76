import { Controller } from '@nestjs/common';
import {
  authenticateApiKey,
  createApiKey,
  listApiKeys,
  PERMISSIONS,
  type RequestOf,
  RequestSigningError,
  type ResponseOf,
  revokeApiKey,
  rotateApiKey,
  serviceSubjectOf,
} from '@strongroom/contracts';
import {
  assertMayActOnTenant,
  type BusRequestContext,
  Handles,
  isPlatformPrincipal,
  type Principal,
} from '@strongroom/platform';
import { TenantPolicies } from '../tenant-policies/tenant-policies';
import { ApiKeyError, apiKeyPlatformError } from './api-key-errors';
import type { ApiKeyActor, IssuedApiKey } from './api-key-service';
import { ApiKeyServices } from './api-key-services';
import { ApiKeyTokenIssuer } from './api-key-token-issuer';
import { apiKeyWire } from './api-keys.repository';

type Issued = ResponseOf<typeof createApiKey>;

@Controller()
export class ApiKeysHandler {
  constructor(
    private readonly services: ApiKeyServices,
    private readonly tokens: ApiKeyTokenIssuer,
    private readonly tenants: TenantPolicies,
  ) {}

  /** FORBIDDEN (PERMISSION_NOT_HELD) for a permission the creator lacks; the key and secret are shown once. */
  @Handles(createApiKey)
  async create(input: RequestOf<typeof createApiKey>, context: BusRequestContext): Promise<Issued> {
    const actor = actorOf(context.principal, input.tenantId);
    const issued = await refusalsMapped(() =>
      this.services.forTenant(input.tenantId).create(actor, {
        environment: input.environment,
        name: input.name,
        permissions: input.permissions,
        expiresAt: input.expiresAt == null ? null : new Date(input.expiresAt),
        ...(input.rateLimitTier === undefined ? {} : { rateLimitTier: input.rateLimitTier }),
        ipAllowlistId: input.ipAllowlistId ?? null,
      }),
    );
    return issuedWire(issued);
  }

  /** NOT_FOUND for another tenant's key; CONFLICT (NOT_ROTATABLE) unless active and unexpired. */
  @Handles(rotateApiKey)
  async rotate(
    input: RequestOf<typeof rotateApiKey>,
    context: BusRequestContext,
  ): Promise<ResponseOf<typeof rotateApiKey>> {
    const actor = actorOf(context.principal, input.tenantId);
    const options = input.overlapSeconds === undefined ? {} : { overlapSeconds: input.overlapSeconds };
    const { issued, previous } = await refusalsMapped(() =>
      this.services.forTenant(input.tenantId).rotate(actor, input.keyId, options),
    );
    return { issued: issuedWire(issued), previous: apiKeyWire(previous) };
  }

  @Handles(revokeApiKey)
  async revoke(
    input: RequestOf<typeof revokeApiKey>,
    context: BusRequestContext,
  ): Promise<ResponseOf<typeof revokeApiKey>> {
    const actor = actorOf(context.principal, input.tenantId);
    return apiKeyWire(await refusalsMapped(() => this.services.forTenant(input.tenantId).revoke(actor, input.keyId)));
  }

  @Handles(listApiKeys)
  async list(
    input: RequestOf<typeof listApiKeys>,
    context: BusRequestContext,
  ): Promise<ResponseOf<typeof listApiKeys>> {
    const actor = actorOf(context.principal, input.tenantId);
    const page = {
      limit: input.limit,
      ...(input.environment === undefined ? {} : { environment: input.environment }),
      ...(input.afterKeyId === undefined ? {} : { afterKeyId: input.afterKeyId }),
    };
    const keys = await refusalsMapped(() => this.services.forTenant(input.tenantId).list(actor, page));
    return { keys: keys.map(apiKeyWire) };
  }

  /**
   * The gateway's exchange of a presented key and signed request for an access token. Only the
   * gateway's own token, answered only to the gateway's inbox: a token never reaches anyone else.
   */
  @Handles(authenticateApiKey)
  async authenticate(
    input: RequestOf<typeof authenticateApiKey>,
    context: BusRequestContext,
  ): Promise<ResponseOf<typeof authenticateApiKey>> {
    const gateway = serviceSubjectOf('gateway');
    if (context.principal?.subject !== gateway || context.replyIdentity !== 'gateway') {
      throw apiKeyPlatformError(new ApiKeyError('NOT_GATEWAY'));
    }
    const principal = await refusalsMapped(() =>
      this.services.verifier.verifyDigested({
        method: input.method,
        target: input.query === '' ? input.path : `${input.path}?${input.query}`,
        headers: input.headers,
        bodySha256: input.bodySha256,
        environment: input.environment,
      }),
    );
    // A suspended tenant's keys stop working with its tokens.
    await this.tenants.assertActive(principal.tenantId);
    return this.tokens.issue(principal);
  }
}

/**
 * The tenant rule, then who acts: a tenant principal grants at most what it holds; a platform
 * principal (the operator seeding a tenant) may grant any catalogue permission.
 */
function actorOf(principal: Principal | undefined, tenantId: string): ApiKeyActor {
  assertMayActOnTenant(principal, tenantId);
  const platform = isPlatformPrincipal(principal!);
  const held = platform ? Object.keys(PERMISSIONS) : [...principal!.permissions];
  return {
    tenantId,
    userId: principal!.subject,
    permissions: held,
    environment: platform ? null : principal!.environment,
  };
}

async function refusalsMapped<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof ApiKeyError || error instanceof RequestSigningError) throw apiKeyPlatformError(error);
    throw error;
  }
}

function issuedWire(issued: IssuedApiKey): Issued {
  return { apiKey: issued.apiKey, signingSecret: issued.signingSecret, key: apiKeyWire(issued.key) };
}
