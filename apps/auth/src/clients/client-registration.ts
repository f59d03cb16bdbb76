import { randomBytes } from 'node:crypto';
import type { createClient, OAuthClient, RequestOf } from '@strongroom/contracts';
import { PlatformError } from '@strongroom/platform';
import type { StrongroomClientMetadata } from '../oidc/oidc-configuration';

export type ClientRequest = RequestOf<typeof createClient>;

export interface ClientRegistration {
  client: Omit<OAuthClient, 'createdAt'>;
  /** Given to the caller once; only its hash is stored. */
  clientSecret: string | undefined;
  /** What oidc-provider reads, `client_secret` still in clear: hash it before storing. */
  metadata: StrongroomClientMetadata;
}

/** 16 random bytes: `sr_client_` + 22 base64url characters. */
export function newClientId(): string {
  return `sr_client_${randomBytes(16).toString('base64url')}`;
}

/** 32 random bytes (256 bits): a secret that only needs a keyed hash, never a slow one. */
export function newClientSecret(): string {
  return `sr_secret_${randomBytes(32).toString('base64url')}`;
}

/**
 * The rules of a client registration, before anything is stored: which grants go together, who
 * holds a secret, and that a client never gets a permission its creator does not hold.
 */
export function registerClient(request: ClientRequest, creatorPermissions: ReadonlySet<string>): ClientRegistration {
  const violations = registrationViolations(request, creatorPermissions);
  if (violations.length > 0) throw PlatformError.validation('The client registration is not valid', { violations });
  const grants = new Set(request.grantTypes);
  const confidentialWithSecret = ['client_secret_basic', 'client_secret_post'].includes(
    request.tokenEndpointAuthMethod,
  );
  const clientId = newClientId();
  const clientSecret = confidentialWithSecret ? newClientSecret() : undefined;
  const interactive = grants.has('authorization_code');
  const scope = [...request.permissions, ...(interactive ? ['openid', 'offline_access'] : [])].join(' ');
  const metadata: StrongroomClientMetadata = {
    client_id: clientId,
    client_name: request.name,
    grant_types: [...grants],
    response_types: interactive ? ['code'] : [],
    redirect_uris: request.redirectUris,
    token_endpoint_auth_method: request.tokenEndpointAuthMethod,
    scope,
    tenant_id: request.tenantId,
    environment: request.environment,
    permissions: request.permissions as StrongroomClientMetadata['permissions'],
    ...(clientSecret !== undefined ? { client_secret: clientSecret } : {}),
    ...(request.jwks !== undefined ? { jwks: request.jwks as StrongroomClientMetadata['jwks'] } : {}),
  };
  return {
    clientSecret,
    metadata,
    client: {
      clientId,
      tenantId: request.tenantId,
      environment: request.environment,
      name: request.name,
      grantTypes: [...grants],
      tokenEndpointAuthMethod: request.tokenEndpointAuthMethod,
      redirectUris: request.redirectUris,
      permissions: request.permissions,
    },
  };
}

export function registrationViolations(request: ClientRequest, creatorPermissions: ReadonlySet<string>): string[] {
  const grants = new Set(request.grantTypes);
  const violations: string[] = [];
  const method = request.tokenEndpointAuthMethod;
  if (grants.has('authorization_code') && request.redirectUris.length === 0)
    violations.push('authorization_code needs at least one redirect URI');
  if (!grants.has('authorization_code') && request.redirectUris.length > 0)
    violations.push('redirect URIs are only for the authorization_code grant');
  // RFC 6749 §4.4.3: a client-credentials client re-authenticates instead of refreshing.
  if (grants.has('refresh_token') && !grants.has('authorization_code'))
    violations.push('refresh_token goes with authorization_code only');
  if (method === 'none' && grants.has('client_credentials'))
    violations.push('a public client (method none) cannot use client_credentials');
  if (method === 'private_key_jwt' && request.jwks === undefined)
    violations.push('private_key_jwt needs the client public keys (jwks)');
  if (method !== 'private_key_jwt' && request.jwks !== undefined)
    violations.push('jwks are only for private_key_jwt clients');
  const beyondCreator = request.permissions.filter((permission) => !creatorPermissions.has(permission));
  if (beyondCreator.length > 0)
    violations.push(`the creator does not hold every permission it grants: ${beyondCreator.sort().join(', ')}`);
  return violations;
}
