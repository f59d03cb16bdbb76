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
  /** Permissions from the `permissions` claim and the space-separated `scope`. */
  readonly permissions: ReadonlySet<string>;
}

export function principalOf(claims: AccessTokenClaims): Principal {
  const permissions = new Set(claims.permissions ?? []);
  for (const scope of (claims.scope ?? '').split(' ')) if (scope !== '') permissions.add(scope);
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
