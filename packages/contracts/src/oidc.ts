import { z } from 'zod';
import { defineRequest } from './contract';

/**
 * Seed 001: "Auth endpoints are rate-limited at 5 attempts per minute". Auth counts sign-in
 * attempts per account and per address; the gateway counts credential-submitting posts per address.
 */
export const SIGN_IN_ATTEMPTS_PER_MINUTE = 5;

/**
 * The OAuth2/OIDC endpoints clients reach through the gateway. The gateway owns no protocol
 * logic: it forwards each HTTP exchange on these paths to the auth service, where
 * oidc-provider (OpenID-certified) answers it.
 */
export const OIDC_ROUTES = {
  discovery: '/.well-known/openid-configuration',
  authorizationServerMetadata: '/.well-known/oauth-authorization-server',
  jwks: '/jwks',
  authorization: '/oauth/authorize',
  token: '/oauth/token',
  introspection: '/oauth/introspect',
  revocation: '/oauth/revoke',
  userinfo: '/oauth/userinfo',
  pushedAuthorizationRequest: '/oauth/par',
  endSession: '/oauth/logout',
  interaction: '/oauth/interaction',
  /** Invitation links: the invited user chooses a password there. */
  invitations: '/oauth/invitations',
} as const;

/** Requests to these paths (and below `/oauth/`) are OIDC exchanges. */
export function isOidcPath(path: string): boolean {
  return (
    path === OIDC_ROUTES.discovery ||
    path === OIDC_ROUTES.authorizationServerMetadata ||
    path === OIDC_ROUTES.jwks ||
    path.startsWith('/oauth/')
  );
}

/** Request headers that mean something to the protocol; nothing else crosses. */
export const OIDC_REQUEST_HEADERS = [
  'accept',
  'authorization',
  'content-type',
  'cookie',
  'dpop',
  'origin',
  'user-agent',
] as const;
/** Response headers the gateway passes back to the client. */
export const OIDC_RESPONSE_HEADERS = [
  'cache-control',
  'content-type',
  'dpop-nonce',
  'location',
  'pragma',
  'retry-after',
  'set-cookie',
  'www-authenticate',
] as const;

/** Form posts to the token endpoint are small; a private_key_jwt assertion is the largest part. */
export const OIDC_BODY_BYTES_MAX = 64 * 1024;

const headerValue = z.string().max(8_192);

export const exchangeOidcHttp = defineRequest({
  subject: 'auth.v1.oidc.exchange',
  request: z
    .object({
      method: z.enum(['GET', 'POST', 'HEAD', 'OPTIONS', 'DELETE']),
      /** Path and query as the client sent them. */
      url: z
        .string()
        .max(8_192)
        .refine((url) => url.startsWith('/') && !url.startsWith('//'), 'must be an absolute path'),
      headers: z.partialRecord(z.enum(OIDC_REQUEST_HEADERS), headerValue),
      body: z.string().max(OIDC_BODY_BYTES_MAX).optional(),
      /** The client's address as the gateway established it (for throttling and audit). */
      remoteAddress: z.string().max(64),
    })
    .strict(),
  response: z.object({
    status: z.number().int().min(100).max(599),
    headers: z.partialRecord(z.enum(OIDC_RESPONSE_HEADERS), z.union([headerValue, z.array(headerValue).max(16)])),
    body: z.string(),
  }),
  permission: 'auth.oidc.exchange',
  // The OAuth endpoints authenticate the client themselves (RFC 6749 §2.3); only the gateway may publish this.
  authentication: 'none',
  summary: 'One HTTP exchange with the OAuth2/OIDC endpoints (forwarded by the gateway)',
});
