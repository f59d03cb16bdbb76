import cors from '@fastify/cors';
import { HEADERS, REQUEST_SIGNING_HEADERS } from '@strongroom/contracts';
import { commaSeparatedList } from '@strongroom/platform';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { API_METHODS } from '../api/api-route-table';
import { IDEMPOTENCY_KEY_HEADER, IDEMPOTENT_REPLAYED_HEADER } from '../idempotency/idempotency-key';
import { rateLimitHeaders } from '../rate-limits/rate-limit-policy';

/** STYLE: a limit on everything; a longer list is a sign `*` was meant, which we refuse. */
export const CORS_ALLOWED_ORIGINS_MAX = 64;
/** How long a browser may cache a preflight answer (Chromium caps it at 7200 s anyway). */
export const CORS_PREFLIGHT_MAX_AGE_SECONDS = 600;

/** What a browser may send on a cross-origin call: credentials, bodies, idempotency, tracing, signing. */
export const CORS_ALLOWED_REQUEST_HEADERS: readonly string[] = [
  HEADERS.authorization,
  'content-type',
  IDEMPOTENCY_KEY_HEADER,
  HEADERS.requestId,
  HEADERS.traceparent,
  HEADERS.tracestate,
  ...Object.values(REQUEST_SIGNING_HEADERS),
];

/** The RateLimit fields the rate limiter sends (whichever draft it follows), by name. */
const RATE_LIMIT_HEADER_NAMES = Object.keys(
  rateLimitHeaders({ limit: 1, remaining: 1, resetSeconds: 1, windowSeconds: 1 }),
);

/** What a browser script may read from an answer (beyond the CORS-safelisted ones, Fetch §3.2.6). */
export const CORS_EXPOSED_RESPONSE_HEADERS: readonly string[] = [
  HEADERS.requestId,
  ...RATE_LIMIT_HEADER_NAMES,
  'retry-after',
  IDEMPOTENT_REPLAYED_HEADER,
  'www-authenticate',
];

/** The methods of the API and OAuth routes; nothing else is offered. */
export const CORS_ALLOWED_METHODS: readonly string[] = API_METHODS;

/** `https://app.example.com` exactly as a browser sends it in `Origin` (RFC 6454 §6.1): no path, no wildcard. */
const exactOrigin = z.string().refine((value) => {
  if (!/^https?:\/\//.test(value)) return false;
  try {
    return new URL(value).origin === value;
  } catch {
    return false;
  }
}, 'must be an exact origin such as https://app.example.com (scheme, host, optional port; no path, no trailing slash, no *)');

/**
 * `CORS_ALLOWED_ORIGINS`: comma-separated exact origins. Empty (the default) means no
 * cross-origin access at all: no CORS header is ever sent and a preflight finds no route.
 */
export const corsAllowedOriginsSchema = commaSeparatedList.pipe(z.array(exactOrigin).max(CORS_ALLOWED_ORIGINS_MAX));

export interface CorsOptions {
  allowedOrigins: readonly string[];
  /** `Access-Control-Allow-Credentials: true` (cookies); off unless the operator asks for it. */
  allowCredentials: boolean;
}

/**
 * Cross-origin access for the browser origins the operator names, and none otherwise. A preflight
 * is answered in the `onRequest` hook, before any route runs: it carries no credential (Fetch
 * §4.8), so it must never meet authentication. Requests from other origins, or with no `Origin`
 * (servers), get no CORS header; their preflights find no route (404).
 */
export function registerCors(fastify: FastifyInstance, options: CorsOptions): void {
  if (options.allowedOrigins.length === 0) return;
  const allowed = new Set(options.allowedOrigins);
  void fastify.register(cors, {
    // A function, not a list: @fastify/cors would otherwise still add its headers for refused origins.
    origin: (origin: string | undefined, callback: (error: Error | null, allow: boolean) => void) =>
      callback(null, origin !== undefined && allowed.has(origin)),
    credentials: options.allowCredentials,
    methods: [...CORS_ALLOWED_METHODS],
    allowedHeaders: [...CORS_ALLOWED_REQUEST_HEADERS],
    exposedHeaders: [...CORS_EXPOSED_RESPONSE_HEADERS],
    maxAge: CORS_PREFLIGHT_MAX_AGE_SECONDS,
    preflight: true,
    strictPreflight: true,
    optionsSuccessStatus: 204,
    hook: 'onRequest',
  });
}
