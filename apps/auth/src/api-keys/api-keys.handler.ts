import { Controller } from '@nestjs/common';
import {
  ANONYMOUS_ACTOR,
  type AuditEventInput,
  authenticateApiKey,
  createApiKey,
  type Environment,
  listApiKeys,
  PERMISSIONS,
  PLATFORM_AUDIT_TENANT_ID,
  REQUEST_SIGNING_HEADERS,
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
import {
  type AuditTrail,
  AuthAuditPublisher,
  auditTrailOf,
  authAuditEvent,
  type Refusal,
  refusalOf,
  refusalTenantOf,
} from '../auth-audit';
import { TenantPolicies } from '../tenant-policies/tenant-policies';
import { ApiKeyError, apiKeyPlatformError } from './api-key-errors';
import { parseApiKey } from './api-key-format';
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
    private readonly audit: AuthAuditPublisher,
  ) {}

  /** FORBIDDEN (PERMISSION_NOT_HELD) for a permission the creator lacks; the key and secret are shown once. */
  @Handles(createApiKey)
  async create(input: RequestOf<typeof createApiKey>, context: BusRequestContext): Promise<Issued> {
    const actor = actorOf(context, input.tenantId);
    const issued = await this.refusalsAudited(context, 'auth.api-key.create', 'new', input.environment, () =>
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
    const actor = actorOf(context, input.tenantId);
    const options = input.overlapSeconds === undefined ? {} : { overlapSeconds: input.overlapSeconds };
    const { issued, previous } = await this.refusalsAudited(
      context,
      'auth.api-key.rotate',
      input.keyId,
      undefined,
      () => this.services.forTenant(input.tenantId).rotate(actor, input.keyId, options),
    );
    return { issued: issuedWire(issued), previous: apiKeyWire(previous) };
  }

  @Handles(revokeApiKey)
  async revoke(
    input: RequestOf<typeof revokeApiKey>,
    context: BusRequestContext,
  ): Promise<ResponseOf<typeof revokeApiKey>> {
    const actor = actorOf(context, input.tenantId);
    return apiKeyWire(
      await this.refusalsAudited(context, 'auth.api-key.revoke', input.keyId, undefined, () =>
        this.services.forTenant(input.tenantId).revoke(actor, input.keyId),
      ),
    );
  }

  @Handles(listApiKeys)
  async list(
    input: RequestOf<typeof listApiKeys>,
    context: BusRequestContext,
  ): Promise<ResponseOf<typeof listApiKeys>> {
    const actor = actorOf(context, input.tenantId);
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
   * A success is not audited (the gateway exchanges per request: it would flood the trail); every
   * refusal is, as denied.
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
    let tenantId: string | undefined;
    try {
      const principal = await refusalsMapped(() =>
        this.services.verifier.verifyDigested({
          method: input.method,
          target: input.query === '' ? input.path : `${input.path}?${input.query}`,
          headers: input.headers,
          bodySha256: input.bodySha256,
          environment: input.environment,
        }),
      );
      tenantId = principal.tenantId;
      // A suspended tenant's keys stop working with its tokens.
      await this.tenants.assertActive(principal.tenantId);
      return await this.tokens.issue(principal);
    } catch (error) {
      this.audit.publish([apiKeyRefusalEvent(context, input, tenantId, refusalOf(error))]);
      throw error;
    }
  }

  /** Runs a key-management change; a refusal is audited (in the caller's chain) and answered as the platform error. */
  private refusalsAudited<T>(
    context: BusRequestContext,
    action: 'auth.api-key.create' | 'auth.api-key.rotate' | 'auth.api-key.revoke',
    keyId: string,
    environment: Environment | undefined,
    work: () => Promise<T>,
  ): Promise<T> {
    const trail = auditTrailOf(context);
    return this.audit.refusals(
      () => refusalsMapped(work),
      (refusal): AuditEventInput[] => [
        authAuditEvent(trail, {
          tenantId: refusalTenantOf(context),
          environment: environment ?? context.principal?.environment,
          action,
          resource: { type: 'api_key', id: keyId },
          ...refusal,
        }),
      ],
    );
  }
}

/**
 * A refused key. Nobody is proven, so the actor is anonymous and the key is named by the id it
 * presented (a public part of the key, never its secret). The record goes to the key's tenant's
 * chain once the signed request verified (a suspended tenant); otherwise to the platform's: the
 * key's tenant is not looked up for a refusal (it would cost a read per refused request, and a
 * flood of them is what is being refused).
 */
function apiKeyRefusalEvent(
  context: BusRequestContext,
  input: RequestOf<typeof authenticateApiKey>,
  tenantId: string | undefined,
  refusal: Refusal,
): AuditEventInput {
  const trail: AuditTrail = { actor: ANONYMOUS_ACTOR, origin: auditTrailOf(context).origin };
  return authAuditEvent(trail, {
    tenantId: tenantId ?? PLATFORM_AUDIT_TENANT_ID,
    environment: input.environment,
    action: 'auth.api-key.authenticate',
    resource: { type: 'api_key', id: presentedKeyIdOf(input) },
    // A refused key is denied; a database or signing-key failure is a failure of ours.
    outcome: refusal.outcome,
    reason: refusal.reason,
    // Not the path: it is whatever the caller sent, and may carry anything.
    details: { method: input.method },
  });
}

function presentedKeyIdOf(input: RequestOf<typeof authenticateApiKey>): string {
  const presented = input.headers[REQUEST_SIGNING_HEADERS.apiKey];
  if (typeof presented !== 'string') return 'none';
  try {
    return parseApiKey(presented, input.environment).keyId;
  } catch {
    return 'malformed';
  }
}

/**
 * The tenant rule, then who acts: a tenant principal grants at most what it holds; a platform
 * principal (the operator seeding a tenant) may grant any catalogue permission.
 */
function actorOf(context: BusRequestContext, tenantId: string): ApiKeyActor {
  const principal: Principal | undefined = context.principal;
  assertMayActOnTenant(principal, tenantId);
  const platform = isPlatformPrincipal(principal!);
  const held = platform ? Object.keys(PERMISSIONS) : [...principal!.permissions];
  return {
    tenantId,
    userId: principal!.subject,
    permissions: held,
    environment: platform ? null : principal!.environment,
    trail: auditTrailOf(context),
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
