import helmet, { type FastifyHelmetOptions } from '@fastify/helmet';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A route's own security headers, merged over the gateway's (read by @fastify/helmet on each request). */
    helmet?: Omit<FastifyHelmetOptions, 'global'>;
  }
}

/** Seed 003: HSTS with a one-year max-age. */
export const HSTS_MAX_AGE_SECONDS = 365 * 24 * 60 * 60;

/**
 * Security headers on every response, options stated rather than inherited: the API serves
 * JSON only, so nothing may be framed, sniffed, or load any resource.
 */
export const SECURITY_HEADERS = {
  global: true,
  contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
  strictTransportSecurity: { maxAge: HSTS_MAX_AGE_SECONDS, includeSubDomains: true, preload: false },
  frameguard: { action: 'deny' },
  noSniff: true,
  referrerPolicy: { policy: 'no-referrer' },
  crossOriginResourcePolicy: { policy: 'same-origin' },
  crossOriginOpenerPolicy: { policy: 'same-origin' },
  xPoweredBy: false,
} satisfies FastifyHelmetOptions;

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
} satisfies Omit<FastifyHelmetOptions, 'global'>;

export async function applySecurityHeaders(app: NestFastifyApplication): Promise<void> {
  await app.register(helmet, SECURITY_HEADERS);
}
