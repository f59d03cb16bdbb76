import { randomUUID } from 'node:crypto';
import {
  type AccessTokenClaims,
  type BusIdentity,
  PLATFORM_TENANT_ID,
  SERVICE_TOKEN_PERMISSIONS,
  SERVICE_TOKEN_TTL_SECONDS,
  serviceSubjectOf,
} from '@strongroom/contracts';

export interface ServiceTokenAudience {
  /** PUBLIC_URL: the issuer every verifier expects. */
  issuer: string;
  /** TOKEN_AUDIENCE */
  audience: string;
}

/**
 * The claims of a bus identity's own token: a platform-tenant principal holding exactly the
 * permissions SERVICE_TOKEN_PERMISSIONS grants that identity, for SERVICE_TOKEN_TTL_SECONDS.
 */
export function serviceTokenClaims(
  identity: BusIdentity,
  now: Date,
  audience: ServiceTokenAudience,
): AccessTokenClaims {
  const issuedAt = Math.floor(now.getTime() / 1000);
  const subject = serviceSubjectOf(identity);
  return {
    iss: audience.issuer,
    aud: audience.audience,
    sub: subject,
    client_id: subject,
    tenant_id: PLATFORM_TENANT_ID,
    env: 'production',
    jti: randomUUID(),
    iat: issuedAt,
    exp: issuedAt + SERVICE_TOKEN_TTL_SECONDS,
    permissions: [...SERVICE_TOKEN_PERMISSIONS[identity]],
  };
}
