import { z } from 'zod';
import { defineEvent, defineRequest } from './contract';
import { isPermission } from './permissions';
import { tenantIdSchema } from './tenants';
import { environmentSchema } from './tokens';

export const CLIENT_GRANT_TYPES = ['client_credentials', 'authorization_code', 'refresh_token'] as const;
/** `none` is a public client (a mobile app or SPA): authorization code with PKCE only. */
export const CLIENT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'] as const;

export const clientIdSchema = z.string().regex(/^sr_client_[A-Za-z0-9_-]{22}$/, 'not a client id');

const permissionName = z.string().refine(isPermission, 'not a permission of the catalogue');

/** RFC 8252 §7: https, or http on a loopback address for native apps; no fragments. */
const redirectUri = z
  .url()
  .max(2_048)
  .refine((uri) => {
    const url = new URL(uri);
    if (url.hash !== '') return false;
    if (url.protocol === 'https:') return true;
    return url.protocol === 'http:' && ['127.0.0.1', '[::1]', 'localhost'].includes(url.hostname);
  }, 'must be https (or http on a loopback address) without a fragment');

const publicJwkForClient = z.looseObject({ kty: z.enum(['EC', 'RSA', 'OKP']), kid: z.string().max(200).optional() });

export const oauthClientSchema = z.object({
  clientId: clientIdSchema,
  tenantId: tenantIdSchema,
  environment: environmentSchema,
  name: z.string(),
  grantTypes: z.array(z.enum(CLIENT_GRANT_TYPES)),
  tokenEndpointAuthMethod: z.enum(CLIENT_AUTH_METHODS),
  redirectUris: z.array(z.string()),
  permissions: z.array(z.string()),
  createdAt: z.iso.datetime(),
});
export type OAuthClient = z.infer<typeof oauthClientSchema>;

export const createClient = defineRequest({
  subject: 'auth.v1.clients.create',
  request: z
    .object({
      tenantId: tenantIdSchema,
      environment: environmentSchema,
      name: z.string().trim().min(1).max(200),
      grantTypes: z.array(z.enum(CLIENT_GRANT_TYPES)).min(1).max(CLIENT_GRANT_TYPES.length),
      tokenEndpointAuthMethod: z.enum(CLIENT_AUTH_METHODS).default('client_secret_basic'),
      redirectUris: z.array(redirectUri).max(10).default([]),
      /** What tokens of this client may carry: a subset of the creator's own permissions. */
      permissions: z.array(permissionName).max(200),
      /** Public keys for private_key_jwt (RFC 7523); required for it, refused otherwise. */
      jwks: z
        .object({ keys: z.array(publicJwkForClient).min(1).max(8) })
        .strict()
        .optional(),
    })
    .strict(),
  response: oauthClientSchema.extend({
    /** Shown once, never stored in clear (HMAC-SHA256 under a pepper). Absent for public and private_key_jwt clients. */
    clientSecret: z.string().optional(),
  }),
  permission: 'auth.clients.create',
  summary: 'Register an OAuth2 client of a tenant environment (its secret is shown once)',
});

export const clientCreated = defineEvent({
  subject: 'evt.auth.v1.clients.created',
  payload: oauthClientSchema,
  summary: 'An OAuth2 client was registered',
});
