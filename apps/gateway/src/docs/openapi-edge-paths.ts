import { BACKEND_SERVICES, OIDC_ROUTES } from '@strongroom/contracts';
import { API_REFERENCE_PATH } from './api-reference';

/**
 * The gateway's own endpoints in its OpenAPI document, beside the API routes: health, the
 * document itself, the API reference and the OAuth2/OIDC endpoints (answered by the auth service's
 * oidc-provider; their full metadata is the discovery document). Public: no API credential.
 */

const PLATFORM_TAG = 'platform';
const OAUTH_TAG = 'oauth';

export const EDGE_TAGS = [
  { name: PLATFORM_TAG, description: 'Health, this document and the API reference' },
  {
    name: OAUTH_TAG,
    description: 'OAuth2/OIDC (authorization code + PKCE S256, client credentials, refresh, RFC 7662, RFC 7009)',
    externalDocs: { description: 'Discovery metadata', url: OIDC_ROUTES.discovery },
  },
];

const json = (schema: object, description: string) => ({ description, content: { 'application/json': { schema } } });
const object = { type: 'object' };
/** OAuth errors are RFC 6749 §5.2 JSON, not problem+json: clients' OAuth libraries expect them. */
const oauthError = json(
  {
    type: 'object',
    required: ['error'],
    properties: { error: { type: 'string' }, error_description: { type: 'string' } },
  },
  'OAuth2 error (RFC 6749 §5.2)',
);
const form = (properties: Record<string, object>, required: string[]) => ({
  required: true,
  content: { 'application/x-www-form-urlencoded': { schema: { type: 'object', required, properties } } },
});
const clientAuthenticated = [{ clientSecretBasic: [] }];
const string = { type: 'string' };
/** The gateway counts these too (per client address, or per OAuth client): the same problem+json 429. */
const rateLimited = { $ref: '#/components/responses/RATE_LIMITED' };

const healthSchema = {
  type: 'object',
  required: ['status', 'services'],
  properties: {
    status: { type: 'string', enum: ['up', 'down'] },
    services: {
      type: 'object',
      propertyNames: { enum: [...BACKEND_SERVICES] },
      additionalProperties: {
        type: 'object',
        required: ['status'],
        properties: {
          status: { type: 'string', enum: ['up', 'down'] },
          version: string,
          checks: { type: 'object', additionalProperties: string },
          error: string,
        },
      },
    },
  },
};

export const EDGE_PATHS: Record<string, Record<string, unknown>> = {
  '/health': {
    get: {
      operationId: 'platform.health',
      summary: 'The state of every service, asked over the bus',
      tags: [PLATFORM_TAG],
      security: [],
      responses: {
        429: rateLimited,
        200: json(healthSchema, 'Every service is up'),
        503: json(healthSchema, 'At least one service is down or did not answer'),
      },
    },
  },
  '/openapi.json': {
    get: {
      operationId: 'platform.openapi',
      summary: 'This OpenAPI 3.1 document',
      tags: [PLATFORM_TAG],
      security: [],
      responses: {
        429: rateLimited,
        200: json(object, 'The document'),
      },
    },
  },
  [API_REFERENCE_PATH]: {
    get: {
      operationId: 'platform.docs',
      summary: 'The interactive API reference (Swagger UI over this document)',
      tags: [PLATFORM_TAG],
      security: [],
      responses: {
        429: rateLimited,
        200: { description: 'An HTML page', content: { 'text/html': { schema: string } } },
      },
    },
  },
  [OIDC_ROUTES.discovery]: {
    get: {
      operationId: 'oauth.discovery',
      summary: 'OpenID Connect Discovery 1.0 metadata: every endpoint, grant and algorithm',
      tags: [OAUTH_TAG],
      security: [],
      responses: {
        429: rateLimited,
        200: json(object, 'Provider metadata'),
      },
    },
  },
  [OIDC_ROUTES.jwks]: {
    get: {
      operationId: 'oauth.jwks',
      summary: 'The public keys that sign access and ID tokens (RFC 7517)',
      tags: [OAUTH_TAG],
      security: [],
      responses: {
        429: rateLimited,
        200: json({ type: 'object', required: ['keys'] }, 'JSON Web Key Set'),
      },
    },
  },
  [OIDC_ROUTES.authorization]: {
    get: {
      operationId: 'oauth.authorize',
      summary: 'Authorization endpoint: authorization code with PKCE (S256) only (RFC 6749 §4.1, RFC 7636)',
      tags: [OAUTH_TAG],
      security: [],
      responses: {
        429: rateLimited,
        303: { description: 'To the sign-in page, or back to the client with a code or an error' },
      },
    },
  },
  [OIDC_ROUTES.token]: {
    post: {
      operationId: 'oauth.token',
      summary: 'Token endpoint: client credentials, authorization code, refresh token (rotated once per use)',
      tags: [OAUTH_TAG],
      security: clientAuthenticated,
      requestBody: form(
        {
          grant_type: { type: 'string', enum: ['client_credentials', 'authorization_code', 'refresh_token'] },
          scope: { type: 'string', description: 'Space-separated permissions; omitted: all the client holds' },
          code: string,
          redirect_uri: string,
          code_verifier: string,
          refresh_token: string,
        },
        ['grant_type'],
      ),
      responses: {
        429: rateLimited,
        200: json(
          {
            type: 'object',
            required: ['access_token', 'token_type', 'expires_in'],
            properties: {
              access_token: string,
              token_type: string,
              expires_in: { type: 'integer' },
              scope: string,
              refresh_token: string,
              id_token: string,
            },
          },
          'Tokens (RFC 6749 §5.1)',
        ),
        400: oauthError,
        401: oauthError,
      },
    },
  },
  [OIDC_ROUTES.introspection]: {
    post: {
      operationId: 'oauth.introspect',
      summary: "Token introspection (RFC 7662): whether a token is active, and its claims for the token's own client",
      tags: [OAUTH_TAG],
      security: clientAuthenticated,
      requestBody: form({ token: string, token_type_hint: string }, ['token']),
      responses: {
        429: rateLimited,
        200: json({ type: 'object', required: ['active'] }, 'Introspection answer'),
        401: oauthError,
      },
    },
  },
  [OIDC_ROUTES.revocation]: {
    post: {
      operationId: 'oauth.revoke',
      summary: 'Token revocation (RFC 7009): 200 even for an unknown token (§2.2)',
      tags: [OAUTH_TAG],
      security: clientAuthenticated,
      requestBody: form({ token: string, token_type_hint: string }, ['token']),
      responses: {
        429: rateLimited,
        200: { description: 'Revoked (or never valid)' },
        401: oauthError,
      },
    },
  },
};
