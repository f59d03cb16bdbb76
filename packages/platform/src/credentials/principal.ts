import type { AccessTokenClaims, Environment } from '@strongroom/contracts';

/** Who is calling, as established by a verified access token. */
export interface Principal {
  readonly subject: string;
  readonly tenantId: string;
  readonly environment: Environment;
  readonly clientId: string | undefined;
  readonly tokenId: string;
  readonly issuedAt: Date;
  readonly expiresAt: Date;
  /** The `permissions` claim; the space-separated `scope` only for a token without one. */
  readonly permissions: ReadonlySet<string>;
}

export function principalOf(claims: AccessTokenClaims): Principal {
  // Our tokens state their permissions; `scope` counts only for a token without that claim, so a
  // wider `scope` (an OAuth grant, an old token) never adds to what `permissions` allows.
  const permissions =
    claims.permissions !== undefined
      ? new Set(claims.permissions)
      : new Set((claims.scope ?? '').split(' ').filter((scope) => scope !== ''));
  return {
    subject: claims.sub,
    tenantId: claims.tenant_id,
    environment: claims.env,
    clientId: claims.client_id,
    tokenId: claims.jti,
    issuedAt: new Date(claims.iat * 1000),
    expiresAt: new Date(claims.exp * 1000),
    permissions,
  };
}
