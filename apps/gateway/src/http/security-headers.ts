import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import helmet, { type HelmetOptions } from 'helmet';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A route's own security headers, merged over the gateway's. */
    securityHeaders?: HelmetOptions;
  }
}

/** Seed 003: HSTS with a one-year max-age. */
export const HSTS_MAX_AGE_SECONDS = 365 * 24 * 60 * 60;

/**
 * Security headers on every response, options stated rather than inherited: the API serves
 * JSON only, so nothing may be framed, sniffed, or load any resource.
 */
export const SECURITY_HEADERS = {
  contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
  strictTransportSecurity: { maxAge: HSTS_MAX_AGE_SECONDS, includeSubDomains: true, preload: false },
  frameguard: { action: 'deny' },
  noSniff: true,
  referrerPolicy: { policy: 'no-referrer' },
  crossOriginResourcePolicy: { policy: 'same-origin' },
  crossOriginOpenerPolicy: { policy: 'same-origin' },
  xPoweredBy: false,
} satisfies HelmetOptions;

/**
 * The one HTML page (/docs, the API reference) may run and style itself from its own origin and
 * call the API there; nothing inline (no 'unsafe-inline', no 'unsafe-eval'), nothing from
 * another origin. `data:` images: Swagger UI's stylesheet draws its icons as data-URI SVGs.
 */
export const API_REFERENCE_SECURITY_HEADERS = {
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      defaultSrc: ["'none'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'"],
      imgSrc: ["'self'", 'data:'],
      connectSrc: ["'self'"],
      baseUri: ["'none'"],
      formAction: ["'none'"],
      frameAncestors: ["'none'"],
    },
  },
} satisfies HelmetOptions;

/**
 * The headers helmet writes for `options`, worked out once: helmet is run against a response
 * that only records them (it builds its middleware, and the CSP string, per call — on every
 * request that would be about 2 % of the gateway's CPU).
 */
export function securityHeadersOf(options: HelmetOptions): ReadonlyArray<readonly [string, string]> {
  const headers = new Map<string, string>();
  const response = {
    setHeader: (name: string, value: string | number | readonly string[]) =>
      headers.set(name.toLowerCase(), String(value)),
    removeHeader: (name: string) => headers.delete(name.toLowerCase()),
  } as unknown as ServerResponse;
  let failure: unknown;
  helmet(options)({} as IncomingMessage, response, (error?: unknown) => {
    failure = error;
  });
  if (failure !== undefined) throw failure;
  return [...headers];
}

/**
 * Security headers on every response (the gateway's, or a route's own from its config
 * `securityHeaders`, merged over them), set before the route runs so errors carry them too.
 */
export function registerSecurityHeaders(fastify: FastifyInstance): void {
  const global = securityHeadersOf(SECURITY_HEADERS);
  const perRoute = new WeakMap<HelmetOptions, ReadonlyArray<readonly [string, string]>>();
  fastify.addHook('onRequest', (request, reply, done) => {
    const own = request.routeOptions.config?.securityHeaders;
    let headers = global;
    if (own !== undefined) {
      headers = perRoute.get(own) ?? securityHeadersOf({ ...SECURITY_HEADERS, ...own } as HelmetOptions);
      perRoute.set(own, headers);
    }
    for (const [name, value] of headers) reply.header(name, value);
    done();
  });
}
