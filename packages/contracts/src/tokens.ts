import { z } from 'zod';
import { defineEvent, defineRequest } from './contract';
import { tenantIdSchema } from './tenants';

/** Access tokens are signed with asymmetric keys only (DESIGN, seed 003: RS256); never HS*, never `none`. */
export const ACCESS_TOKEN_ALGORITHMS = ['ES256', 'RS256', 'EdDSA'] as const;
/** Seed 001 and 003: 15 minutes by default, a tenant may choose up to 60. */
export const ACCESS_TOKEN_TTL_SECONDS_DEFAULT = 15 * 60;
export const ACCESS_TOKEN_TTL_SECONDS_MAX = 60 * 60;

export const environmentSchema = z.enum(['sandbox', 'production']);
export type Environment = z.infer<typeof environmentSchema>;

/** The claims every service relies on after verifying the signature (RFC 9068 shape plus ours). */
export const accessTokenClaimsSchema = z.object({
  iss: z.string(),
  sub: z.string().min(1),
  aud: z.union([z.string(), z.array(z.string())]),
  exp: z.number().int(),
  iat: z.number().int(),
  jti: z.string().min(1),
  tenant_id: tenantIdSchema,
  env: environmentSchema,
  client_id: z.string().optional(),
  /** Space-separated OAuth scope (RFC 8693 §4.2) and/or our permission list. */
  scope: z.string().optional(),
  permissions: z.array(z.string()).optional(),
});
export type AccessTokenClaims = z.infer<typeof accessTokenClaimsSchema>;

/** A JSON Web Key as published (RFC 7517); only public members ever cross the bus. */
export const publicJwkSchema = z
  .object({
    kty: z.enum(['EC', 'RSA', 'OKP']),
    kid: z.string().min(1),
    alg: z.enum(ACCESS_TOKEN_ALGORITHMS),
    use: z.literal('sig'),
    crv: z.string().optional(),
    x: z.string().optional(),
    y: z.string().optional(),
    n: z.string().optional(),
    e: z.string().optional(),
  })
  .strict();
export const jwksSchema = z.object({ keys: z.array(publicJwkSchema).max(16) });
export type PublicJwk = z.infer<typeof publicJwkSchema>;
export type PublicJwks = z.infer<typeof jwksSchema>;

export const getJwks = defineRequest({
  subject: 'auth.v1.jwks.get',
  request: z.object({}).strict(),
  response: jwksSchema,
  permission: 'auth.jwks.read',
  // Public: verifiers need these keys before they can verify anything, their own token included.
  authentication: 'none',
  summary: 'The public keys access tokens are signed with (current, next and still-valid previous)',
});

/**
 * One revocation: a single token, or every token of a subject, client or tenant issued before
 * `revokedAt`. `expiresAt` is when no token it covers can still be valid, so a denylist may
 * forget it then (DESIGN: the stream keeps revocations as long as the longest token lives).
 */
export const tokensRevoked = defineEvent({
  subject: 'evt.auth.v1.tokens.revoked',
  payload: z.discriminatedUnion('scope', [
    z.object({
      scope: z.literal('token'),
      tokenId: z.string().min(1),
      revokedAt: z.iso.datetime(),
      expiresAt: z.iso.datetime(),
    }),
    z.object({
      scope: z.literal('subject'),
      subject: z.string().min(1),
      revokedAt: z.iso.datetime(),
      expiresAt: z.iso.datetime(),
    }),
    z.object({
      scope: z.literal('client'),
      clientId: z.string().min(1),
      revokedAt: z.iso.datetime(),
      expiresAt: z.iso.datetime(),
    }),
    z.object({
      scope: z.literal('tenant'),
      tenantId: tenantIdSchema,
      revokedAt: z.iso.datetime(),
      expiresAt: z.iso.datetime(),
    }),
  ]),
  summary: 'Access tokens were revoked',
});
export type TokenRevocation = z.infer<typeof tokensRevoked.payload>;

/** One administrative revocation: every token of a user, of a client, or of the whole tenant. */
export const tokenRevocationTargetSchema = z.discriminatedUnion('scope', [
  z.object({ scope: z.literal('user'), userId: z.uuid() }).strict(),
  z.object({ scope: z.literal('client'), clientId: z.string().max(64) }).strict(),
  z.object({ scope: z.literal('tenant') }).strict(),
]);
export type TokenRevocationTarget = z.infer<typeof tokenRevocationTargetSchema>;
export const TOKEN_REVOCATIONS_PER_CALL_MAX = 100;

export const revokeTokens = defineRequest({
  subject: 'auth.v1.tokens.revoke',
  request: z
    .object({
      tenantId: tenantIdSchema,
      /** Bulk (seed 003 "bulk revocation for compromised credentials"): all or nothing. */
      targets: z.array(tokenRevocationTargetSchema).min(1).max(TOKEN_REVOCATIONS_PER_CALL_MAX),
    })
    .strict(),
  response: z.object({
    revokedAt: z.iso.datetime(),
    /** Refresh tokens, codes and grants deleted with the access tokens. */
    grantsRevoked: z.number().int().nonnegative(),
  }),
  permission: 'auth.tokens.revoke',
  summary: 'Revoke every token of users, clients or the whole tenant; every service refuses them within a second',
});

/** Issue 4: token issuance (and refresh) is audited; never the token itself. */
export const tokenIssued = defineEvent({
  subject: 'evt.auth.v1.tokens.issued',
  payload: z.object({
    tenantId: tenantIdSchema,
    clientId: z.string().max(200),
    /** The user, or the client itself for client credentials. */
    subject: z.string().max(200),
    grantType: z.enum(['client_credentials', 'authorization_code', 'refresh_token']),
    /** The access token's `jti`, to match a later revocation. */
    tokenId: z.string().max(200),
    expiresAt: z.iso.datetime(),
    occurredAt: z.iso.datetime(),
  }),
  summary: 'An access token was issued at the token endpoint',
});
