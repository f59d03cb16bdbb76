import { z } from 'zod';
import { defineEvent, defineRequest } from './contract';
import { isPermission } from './permissions';
import { RATE_PLAN_NAMES, ratePlanSchema } from './rate-plans';
import {
  API_KEY_ID_PATTERN,
  CONTENT_SHA256_PATTERN,
  REQUEST_SIGNING_HEADERS,
  REQUEST_TARGET_LENGTH_MAX,
} from './request-signing';
import { tenantIdSchema } from './tenants';
import { environmentSchema } from './tokens';

/**
 * API keys (issue 4, seeds 002/003): per tenant and environment, a permission subset, optional
 * expiry, a rate-limit tier and IP-allowlist reference the gateway enforces, shown once, stored
 * as a peppered HMAC; request signing with a separate signing secret, encrypted at rest.
 */

/** A key's public prefix names its environment (`sr_test_…`, `sr_live_…`); secret scanners match it. */
export const API_KEY_PREFIXES = { sandbox: 'sr_test', production: 'sr_live' } as const satisfies Record<
  z.infer<typeof environmentSchema>,
  string
>;

/** The environment a presented key's prefix names, or undefined when it names none. */
export function environmentOfApiKey(presented: string): z.infer<typeof environmentSchema> | undefined {
  if (presented.startsWith(`${API_KEY_PREFIXES.production}_`)) return 'production';
  if (presented.startsWith(`${API_KEY_PREFIXES.sandbox}_`)) return 'sandbox';
  return undefined;
}

/** The gateway maps a tier to its limits (RATE_PLANS); the key only names it. */
export const API_KEY_RATE_LIMIT_TIERS = RATE_PLAN_NAMES;
export const apiKeyRateLimitTierSchema = ratePlanSchema;

/** Lifetime of the internal access token an API key is exchanged for (as a service token's). */
export const API_KEY_ACCESS_TOKEN_TTL_SECONDS = 5 * 60;

/** The `sub` (and `client_id`) of the access token a key is exchanged for; revoking the key revokes it. */
export function apiKeySubjectOf(keyId: string): `api_key:${string}` {
  return `api_key:${keyId}`;
}

/**
 * Why `auth.v1.api-keys.authenticate` refused: `details.reason` of the error, stable for SDKs,
 * next to REQUEST_SIGNING_FAILURES (STALE_TIMESTAMP, REPLAYED_NONCE, BAD_SIGNATURE,
 * BODY_DIGEST_MISMATCH, MISSING_HEADER, MALFORMED_HEADER, MALFORMED_TARGET).
 */
export const API_KEY_AUTHENTICATION_FAILURES = {
  MALFORMED: { code: 'UNAUTHENTICATED', message: 'The API key is malformed' },
  CHECKSUM_MISMATCH: { code: 'UNAUTHENTICATED', message: 'The API key checksum does not match (a typo?)' },
  WRONG_ENVIRONMENT: { code: 'UNAUTHENTICATED', message: 'The API key belongs to another environment' },
  // One answer for unknown key, wrong secret, revoked key and a rotated key past its overlap: no oracle.
  INVALID_API_KEY: { code: 'UNAUTHENTICATED', message: 'The API key is not valid' },
  // Only said to a caller that proved it holds the secret.
  EXPIRED: { code: 'UNAUTHENTICATED', message: 'The API key has expired' },
  // The caller is not the gateway: only the gateway exchanges keys for tokens.
  NOT_GATEWAY: { code: 'FORBIDDEN', message: 'Only the gateway may authenticate API keys' },
} as const;
export type ApiKeyAuthenticationFailure = keyof typeof API_KEY_AUTHENTICATION_FAILURES;

const keyIdSchema = z.string().regex(API_KEY_ID_PATTERN, 'not an API key id');
const permissionName = z.string().refine(isPermission, 'not a permission of the catalogue');

/** A key as the API shows it: never the key, its hash, the signing secret or its ciphertext. */
export const apiKeySchema = z
  .object({
    keyId: keyIdSchema,
    tenantId: tenantIdSchema,
    environment: environmentSchema,
    name: z.string(),
    permissions: z.array(z.string()),
    expiresAt: z.iso.datetime().nullable(),
    rateLimitTier: apiKeyRateLimitTierSchema,
    ipAllowlistId: z.string().nullable(),
    status: z.enum(['active', 'rotating', 'revoked']),
    /** With status `rotating`: the key keeps working strictly before this instant. */
    overlapEndsAt: z.iso.datetime().nullable(),
    replacedByKeyId: keyIdSchema.nullable(),
    createdBy: z.string(),
    createdAt: z.iso.datetime(),
    lastUsedAt: z.iso.datetime().nullable(),
    revokedAt: z.iso.datetime().nullable(),
  })
  .strict();
export type ApiKey = z.infer<typeof apiKeySchema>;

/** Returned once, at creation or rotation: the only time the key and signing secret exist in clear. */
export const issuedApiKeySchema = z
  .object({
    /** `sr_test_…` (sandbox) or `sr_live_…` (production), sent as `X-API-Key`. */
    apiKey: z.string(),
    /** `sr_sig_…`: the HMAC key of signed requests (signRequest). */
    signingSecret: z.string(),
    key: apiKeySchema,
  })
  .strict();

const keyReference = z.object({ tenantId: tenantIdSchema, keyId: keyIdSchema }).strict();

export const createApiKey = defineRequest({
  subject: 'auth.v1.api-keys.create',
  request: z
    .object({
      tenantId: tenantIdSchema,
      environment: environmentSchema,
      name: z.string().max(100),
      /** A subset of the creator's own permissions (immich's rule): FORBIDDEN otherwise. */
      permissions: z.array(permissionName).min(1).max(64),
      expiresAt: z.iso.datetime().nullable().optional(),
      rateLimitTier: apiKeyRateLimitTierSchema.optional(),
      ipAllowlistId: z.string().max(64).nullable().optional(),
    })
    .strict(),
  response: issuedApiKeySchema,
  permission: 'auth.api-keys.create',
  summary: 'Create an API key of a tenant environment (the key and its signing secret are shown once)',
});

export const rotateApiKey = defineRequest({
  subject: 'auth.v1.api-keys.rotate',
  request: keyReference.extend({
    /** How long the old key keeps working: 0..7 days, 24 h by default, never past its own expiry. */
    overlapSeconds: z.number().int().min(0).optional(),
  }),
  response: z.object({ issued: issuedApiKeySchema, previous: apiKeySchema }).strict(),
  permission: 'auth.api-keys.rotate',
  summary: 'Replace an API key with a new one of the same grants; the old one works until the overlap ends',
});

export const revokeApiKey = defineRequest({
  subject: 'auth.v1.api-keys.revoke',
  request: keyReference,
  response: apiKeySchema,
  permission: 'auth.api-keys.revoke',
  summary: 'Revoke an API key at once (idempotent); tokens it was exchanged for are revoked with it',
});

export const API_KEYS_PAGE_SIZE_MAX = 100;

export const listApiKeys = defineRequest({
  subject: 'auth.v1.api-keys.list',
  request: z
    .object({
      tenantId: tenantIdSchema,
      environment: environmentSchema.optional(),
      limit: z.number().int().min(1).max(API_KEYS_PAGE_SIZE_MAX).default(50),
      /** The last keyId of the previous page (keys are listed by keyId). */
      afterKeyId: keyIdSchema.optional(),
    })
    .strict(),
  response: z.object({ keys: z.array(apiKeySchema).max(API_KEYS_PAGE_SIZE_MAX) }).strict(),
  permission: 'auth.api-keys.read',
  summary: "A page of a tenant's API keys, newest state, without any secret",
});

const hex64 = z.string().regex(CONTENT_SHA256_PATTERN, 'lower-case hex SHA-256');
// Bounded, not validated: the domain names a malformed header precisely (MALFORMED_HEADER).
const headerValue = z.string().max(512);

/**
 * The gateway's API-key path. It sends what it received, never the body: the signing headers as
 * sent (a missing one absent; its own X-API-Key always), the raw path and query, and the SHA-256
 * it computed over the exact body bytes. Auth checks the key (format, checksum, environment,
 * hash, revocation, expiry), the timestamp (±300 s), the body digest, the signature and the
 * nonce (single use), then answers a short-lived access token for the key.
 */
export const authenticateApiKey = defineRequest({
  subject: 'auth.v1.api-keys.authenticate',
  request: z
    .object({
      /** The environment of the resource the route addresses: a key of the other one is refused. */
      environment: environmentSchema,
      /** As on the request line, upper-case. */
      method: z.string().min(1).max(16),
      /** Raw path as sent (percent-encoding untouched), starting with `/`. */
      path: z.string().min(1).max(REQUEST_TARGET_LENGTH_MAX),
      /** Raw query as sent, without `?`; empty when there is none. */
      query: z.string().max(REQUEST_TARGET_LENGTH_MAX).default(''),
      /** SHA-256 (lower-case hex) of the body bytes the gateway received (of nothing for no body). */
      bodySha256: hex64,
      headers: z
        .object({
          [REQUEST_SIGNING_HEADERS.apiKey]: headerValue,
          [REQUEST_SIGNING_HEADERS.timestamp]: headerValue.optional(),
          [REQUEST_SIGNING_HEADERS.nonce]: headerValue.optional(),
          [REQUEST_SIGNING_HEADERS.contentSha256]: headerValue.optional(),
          [REQUEST_SIGNING_HEADERS.signature]: headerValue.optional(),
        })
        .strict(),
    })
    .strict(),
  response: z
    .object({
      /** JWT (RFC 9068, `typ` at+jwt) for `sub` api_key:<keyId>: forward it as `Bearer <accessToken>`. */
      accessToken: z.string().min(1).max(8_192),
      tokenType: z.literal('Bearer'),
      expiresInSeconds: z.number().int().positive().max(API_KEY_ACCESS_TOKEN_TTL_SECONDS),
      keyId: keyIdSchema,
      tenantId: tenantIdSchema,
      environment: environmentSchema,
      permissions: z.array(z.string()),
      rateLimitTier: apiKeyRateLimitTierSchema,
      /** A tenant IP allowlist the gateway enforces for this key; null for none. */
      ipAllowlistId: z.string().nullable(),
    })
    .strict(),
  permission: 'auth.api-keys.authenticate',
  summary: 'Exchange a presented API key and signed request for a short-lived internal access token',
});

const actorSchema = z.string().min(1);

export const apiKeyCreated = defineEvent({
  subject: 'evt.auth.v1.api-keys.created',
  payload: z.object({ key: apiKeySchema, actor: actorSchema }).strict(),
  summary: 'An API key was created (no key material)',
});

export const apiKeyRotated = defineEvent({
  subject: 'evt.auth.v1.api-keys.rotated',
  payload: z.object({ previous: apiKeySchema, next: apiKeySchema, actor: actorSchema }).strict(),
  summary: 'An API key was rotated: `previous` works until its overlap ends (no key material)',
});

export const apiKeyRevoked = defineEvent({
  subject: 'evt.auth.v1.api-keys.revoked',
  payload: z.object({ key: apiKeySchema, actor: actorSchema }).strict(),
  summary: 'An API key was revoked (no key material)',
});
