import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import {
  type AccessTokenClaims,
  API_KEY_ACCESS_TOKEN_TTL_SECONDS,
  apiKeySubjectOf,
  type authenticateApiKey,
  type ResponseOf,
} from '@strongroom/contracts';
import { PlatformError, SERVICE_RESOURCES, type ServiceResources } from '@strongroom/platform';
import { importJWK, SignJWT } from 'jose';
import type { ServiceTokenAudience } from '../service-tokens/service-token-claims';
import { currentKey } from '../signing-keys/signing-key-ring';
import { SigningKeyStore } from '../signing-keys/signing-key-store';
import type { ApiKeyPrincipal } from './api-key-service';

/**
 * The claims of the internal token a verified key is exchanged for: the key's tenant,
 * environment and permissions, `sub` and `client_id` api_key:<keyId> (revoking the key revokes
 * that subject), for API_KEY_ACCESS_TOKEN_TTL_SECONDS: the gateway exchanges per request.
 */
export function apiKeyTokenClaims(
  principal: ApiKeyPrincipal,
  now: Date,
  audience: ServiceTokenAudience,
): AccessTokenClaims {
  const issuedAt = Math.floor(now.getTime() / 1000);
  const subject = apiKeySubjectOf(principal.keyId);
  return {
    iss: audience.issuer,
    aud: audience.audience,
    sub: subject,
    client_id: subject,
    tenant_id: principal.tenantId,
    env: principal.environment,
    jti: randomUUID(),
    iat: issuedAt,
    exp: issuedAt + API_KEY_ACCESS_TOKEN_TTL_SECONDS,
    permissions: [...principal.permissions],
  };
}

/** Signs them with auth's current token-signing key, as ServiceTokenIssuer does. */
@Injectable()
export class ApiKeyTokenIssuer {
  constructor(
    private readonly keys: SigningKeyStore,
    @Inject(SERVICE_RESOURCES) private readonly resources: ServiceResources,
  ) {}

  async issue(principal: ApiKeyPrincipal, now = new Date()): Promise<ResponseOf<typeof authenticateApiKey>> {
    const key = currentKey(await this.keys.keys(now), now);
    if (key === undefined) throw PlatformError.unavailable('No token-signing key is active yet');
    const { PUBLIC_URL, TOKEN_AUDIENCE } = this.resources.config;
    const claims = apiKeyTokenClaims(principal, now, { issuer: PUBLIC_URL, audience: TOKEN_AUDIENCE });
    // RFC 9068 §2.1: a JWT access token says so in its `typ` header.
    const accessToken = await new SignJWT(claims)
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt' })
      .sign(await importJWK(key.privateJwk, key.alg));
    return {
      accessToken,
      tokenType: 'Bearer',
      expiresInSeconds: API_KEY_ACCESS_TOKEN_TTL_SECONDS,
      keyId: principal.keyId,
      tenantId: principal.tenantId,
      environment: principal.environment,
      permissions: [...principal.permissions],
      rateLimitTier: principal.rateLimitTier,
      ipAllowlistId: principal.ipAllowlistId,
    };
  }
}
