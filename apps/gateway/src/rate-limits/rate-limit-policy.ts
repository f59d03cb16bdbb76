import { createHash } from 'node:crypto';
import {
  DEFAULT_RATE_PLAN,
  lowerRatePlan,
  OIDC_ROUTES,
  RATE_PLANS,
  type RatePlanName,
  SIGN_IN_ATTEMPTS_PER_MINUTE,
} from '@strongroom/contracts';
import type { CallerCredential } from '../api/api-credentials';

/** A budget: `points` requests per `durationSeconds`, counted under one key in the shared store. */
export interface Budget {
  /** Names the counters in the store (`<name>:<key>`) and in logs. */
  name: string;
  points: number;
  durationSeconds: number;
}

/** What a request is counted against, and under which key. */
export interface RateLimitChoice {
  budget: Budget;
  key: string;
  /** Set for a budget of an OAuth client: its failed authentications are given back (see refundable). */
  refundableOnUnauthenticated?: boolean;
}

export function planBudget(scope: 'api' | 'oauth-client', plan: RatePlanName): Budget {
  return { name: `${scope}-${plan}`, points: RATE_PLANS[plan].requestsPerSecond, durationSeconds: 1 };
}

/**
 * The caller's plan: its environment's (never above the tenant's), else the platform default; an
 * API key's tier may lower it, never raise it (a key cannot buy a basic tenant the premium budget).
 */
export function ratePlanOf(caller: CallerCredential): RatePlanName {
  const environmentPlan = caller.environmentRatePlan ?? DEFAULT_RATE_PLAN;
  return caller.apiKey === undefined ? environmentPlan : lowerRatePlan(caller.apiKey.rateLimitTier, environmentPlan);
}

/** An API call counts against its credential (API key, else OAuth client, else subject) within its tenant. */
export function apiRateLimitOf(caller: CallerCredential): RateLimitChoice {
  return {
    budget: planBudget('api', ratePlanOf(caller)),
    key: boundedKey(`${caller.principal.tenantId}:${credentialKeyOf(caller)}`),
  };
}

/** The credential within its tenant: the API key, else the OAuth client, else the token's subject. */
export function credentialKeyOf(caller: CallerCredential): string {
  if (caller.apiKey !== undefined) return `key:${caller.apiKey.keyId}`;
  const { principal } = caller;
  return principal.clientId !== undefined ? `client:${principal.clientId}` : `sub:${principal.subject}`;
}

export interface EdgeRequest {
  method: string;
  /** Path and query as received. */
  url: string;
  /** The client address (Fastify's request.ip: X-Forwarded-For only from TRUSTED_PROXIES). */
  ip: string;
  authorization: string | undefined;
  /** The parsed body: the raw string for form posts (the OIDC forwarding's parser). */
  body: unknown;
}

export interface EdgeBudgets {
  publicPerSecond: number;
}

/** Endpoints where an OAuth client authenticates (RFC 6749 §2.3): counted per client by plan. */
const CLIENT_AUTHENTICATED_PATHS: ReadonlySet<string> = new Set([
  OIDC_ROUTES.token,
  OIDC_ROUTES.introspection,
  OIDC_ROUTES.revocation,
  OIDC_ROUTES.pushedAuthorizationRequest,
]);
/** Pages where a person submits a password (sign-in, invitation acceptance). */
const CREDENTIAL_FORM_PREFIXES = [`${OIDC_ROUTES.interaction}/`, `${OIDC_ROUTES.invitations}/`];

/**
 * The budget of every request that is not an API route (those count per credential once
 * authenticated): credential-submitting POSTs 5 a minute per address; client-authenticated OAuth
 * endpoints per client by the default plan (the client's tenant is not known before auth answers);
 * everything else (discovery, JWKS, OpenAPI, docs, OAuth GETs, health, unknown paths) per address.
 */
export function edgeRateLimitOf(request: EdgeRequest, budgets: EdgeBudgets): RateLimitChoice {
  const path = pathOf(request.url);
  const byAddress = { budget: publicBudget(budgets), key: request.ip };
  if (request.method !== 'POST') return byAddress;
  if (CREDENTIAL_FORM_PREFIXES.some((prefix) => path.startsWith(prefix)))
    return { budget: signInBudget(), key: request.ip };
  if (CLIENT_AUTHENTICATED_PATHS.has(path)) {
    const clientId = oauthClientIdOf(request.authorization, request.body);
    if (clientId === undefined) return byAddress;
    return {
      budget: planBudget('oauth-client', DEFAULT_RATE_PLAN),
      key: boundedKey(`client:${clientId}`),
      refundableOnUnauthenticated: true,
    };
  }
  return byAddress;
}

export function publicBudget(budgets: EdgeBudgets): Budget {
  return { name: 'public', points: budgets.publicPerSecond, durationSeconds: 1 };
}

export function signInBudget(): Budget {
  return { name: 'sign-in', points: SIGN_IN_ATTEMPTS_PER_MINUTE, durationSeconds: 60 };
}

const CLIENT_ID_LENGTH_MAX = 128;

/**
 * The client an OAuth request names, without verifying anything (auth does): HTTP Basic
 * (RFC 6749 §2.3.1, the id form-urlencoded before base64) or the `client_id` form field
 * (client_secret_post, public clients, and private_key_jwt which SHOULD send it too).
 */
export function oauthClientIdOf(authorization: string | undefined, body: unknown): string | undefined {
  if (authorization !== undefined && authorization.slice(0, 6).toLowerCase() === 'basic ') {
    const decoded = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) return plausibleClientId(safeDecodeUriComponent(decoded.slice(0, colon)));
  }
  if (typeof body === 'string' && body.includes('client_id=')) {
    return plausibleClientId(new URLSearchParams(body).get('client_id') ?? undefined);
  }
  return undefined;
}

function plausibleClientId(value: string | undefined): string | undefined {
  if (value === undefined || value.length === 0 || value.length > CLIENT_ID_LENGTH_MAX) return undefined;
  // Printable ASCII only: it becomes part of a store key and of logs.
  return /^[\x21-\x7e]+$/.test(value) ? value : undefined;
}

function safeDecodeUriComponent(value: string): string | undefined {
  try {
    return decodeURIComponent(value.replaceAll('+', ' '));
  } catch {
    return undefined;
  }
}

function pathOf(url: string): string {
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

/** The store's key column is varchar(255), with the budget name in front: a longer key is hashed. */
const KEY_LENGTH_MAX = 200;
function boundedKey(key: string): string {
  return key.length <= KEY_LENGTH_MAX ? key : `sha256:${createHash('sha256').update(key).digest('base64url')}`;
}

/** Where a request stands in its budget after it was counted. */
export interface RateLimitState {
  limit: number;
  remaining: number;
  /** Seconds until the window resets (at least 1). */
  resetSeconds: number;
  windowSeconds: number;
}

/**
 * draft-ietf-httpapi-ratelimit-headers-06 (RateLimit-Limit, -Remaining, -Reset in delta-seconds,
 * RateLimit-Policy `<limit>;w=<window>`): the separate integer fields most clients and proxies
 * already read. Sent on every response a budget applied to, the 429 included.
 */
export function rateLimitHeaders(state: RateLimitState): Record<string, string> {
  return {
    'ratelimit-limit': String(state.limit),
    'ratelimit-remaining': String(state.remaining),
    'ratelimit-reset': String(state.resetSeconds),
    'ratelimit-policy': `${state.limit};w=${state.windowSeconds}`,
  };
}
