import path from 'node:path';
import { type BackendServiceName, REGIONS, type ServiceName } from '@strongroom/contracts';
import { z } from 'zod';
import { booleanFlag, optionalString, portNumber } from './load-config';

/** Default ports of each service's ops endpoint (/health/live, /health/ready, /metrics). */
export const DEFAULT_OPS_PORTS: Record<ServiceName, number> = {
  gateway: 9100,
  auth: 9101,
  tenants: 9102,
  ledger: 9103,
  kyc: 9104,
  consent: 9105,
  audit: 9106,
};

const postgresUrl = z
  .string()
  .url()
  .refine((value) => /^postgres(ql)?:\/\//.test(value), 'must be a postgres:// URL');

/** What every process on the bus reads from its environment. */
export function commonConfigSchema(service: ServiceName) {
  return z.object({
    NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    STRONGROOM_STATE_DIR: z.string().min(1).default('.strongroom'),
    NATS_URL: z
      .string()
      .regex(/^(tls|nats):\/\/[^\s]+$/, 'must look like tls://host:port')
      .default('tls://127.0.0.1:4223'),
    NATS_PKI_DIR: optionalString,
    BUS_TIMEOUT_MS: z.coerce.number().int().min(50).max(30_000).default(5_000),
    OPS_HOST: z.string().default('127.0.0.1'),
    OPS_PORT: portNumber.default(DEFAULT_OPS_PORTS[service]),
    OTEL_EXPORTER_OTLP_ENDPOINT: optionalString.pipe(z.string().url().optional()),
    VAULT_ADDR: optionalString.pipe(z.string().url().optional()),
    VAULT_TOKEN: optionalString,
    VAULT_ROLE_ID: optionalString,
    VAULT_SECRET_ID: optionalString,
    /** The gateway's public base URL: the OAuth2/OIDC issuer every access token names. */
    PUBLIC_URL: z
      .string()
      .url()
      .refine(
        (value) => /^https?:\/\/[^/?#]+(\/[^?#]*[^/?#])?$/.test(value),
        'must be an http(s) URL without a trailing slash',
      )
      .default('http://127.0.0.1:8080'),
    /** The audience of the platform's access tokens (RFC 8707 resource indicator). */
    TOKEN_AUDIENCE: z
      .string()
      .max(200)
      .refine(
        (value) => URL.canParse(value) && !value.includes('#'),
        'must be an absolute URI without a fragment (RFC 8707)',
      )
      .default('urn:strongroom:api'),
  });
}

/** A backend service also owns a database: a runtime URL, and a migration (owner) URL when it migrates itself. */
export function backendConfigSchema(service: BackendServiceName) {
  return commonConfigSchema(service).extend({
    DATABASE_RUNTIME_URL: postgresUrl,
    DATABASE_MIGRATION_URL: optionalString.pipe(postgresUrl.optional()),
    MIGRATE_ON_START: booleanFlag.default(true),
  });
}

/** A data-residency region (REGIONS in contracts); `default` is the service's own database. */
export type Region = (typeof REGIONS)[number];
/** The regions that may have a database of their own. */
export const ROUTABLE_REGIONS = REGIONS.filter((region) => region !== 'default') as Exclude<Region, 'default'>[];
export type RoutableRegion = (typeof ROUTABLE_REGIONS)[number];

/** Next to DATABASE_RUNTIME_URL / DATABASE_MIGRATION_URL: the same pair suffixed with the region (`_KE`). */
export function regionDatabaseVariables(region: RoutableRegion): { runtime: string; migration: string } {
  const suffix = region.toUpperCase();
  return { runtime: `DATABASE_RUNTIME_URL_${suffix}`, migration: `DATABASE_MIGRATION_URL_${suffix}` };
}

export interface RegionDatabaseUrls {
  runtimeUrl: string;
  /** The owner role of that region's database, when this service migrates it itself. */
  migrationUrl?: string;
}
export type RegionalDatabaseUrls = Partial<Record<RoutableRegion, RegionDatabaseUrls>>;

const REGION_DATABASE_VARIABLE = /^DATABASE_(RUNTIME|MIGRATION)_URL_(.+)$/;

/**
 * The per-region databases of a service that keeps tenant data in its tenant's region (DESIGN
 * "Data residency"). Read from the whole environment, so a variable naming no region (a typo
 * that would silently route a region's tenants to the default database) stops the process.
 */
export function regionalDatabasesConfigSchema() {
  return z.record(z.string(), z.string().optional()).transform((env, context) => {
    const urls: Partial<Record<RoutableRegion, Partial<RegionDatabaseUrls>>> = {};
    for (const [variable, value] of Object.entries(env)) {
      const match = REGION_DATABASE_VARIABLE.exec(variable);
      if (match === null || value === undefined || value.trim() === '') continue;
      const [, kind, suffix] = match;
      const region = ROUTABLE_REGIONS.find((candidate) => candidate.toUpperCase() === suffix);
      if (region === undefined) {
        const message =
          suffix === 'DEFAULT'
            ? `the default region's database is DATABASE_${kind}_URL`
            : `names no region; the regions are ${ROUTABLE_REGIONS.map((r) => r.toUpperCase()).join(', ')}`;
        context.addIssue({ code: 'custom', path: [variable], message });
        continue;
      }
      if (!postgresUrl.safeParse(value).success) {
        context.addIssue({ code: 'custom', path: [variable], message: 'must be a postgres:// URL' });
        continue;
      }
      urls[region] = { ...urls[region], [kind === 'RUNTIME' ? 'runtimeUrl' : 'migrationUrl']: value };
    }
    const regional: RegionalDatabaseUrls = {};
    for (const region of ROUTABLE_REGIONS) {
      const { runtimeUrl, migrationUrl } = urls[region] ?? {};
      if (runtimeUrl !== undefined)
        regional[region] = migrationUrl === undefined ? { runtimeUrl } : { runtimeUrl, migrationUrl };
      else if (migrationUrl !== undefined) {
        const variables = regionDatabaseVariables(region);
        context.addIssue({ code: 'custom', path: [variables.migration], message: `needs ${variables.runtime} too` });
      }
    }
    return regional;
  });
}

export type CommonConfig = z.infer<ReturnType<typeof commonConfigSchema>>;
export type BackendConfig = z.infer<ReturnType<typeof backendConfigSchema>>;

export function pkiDirOf(config: CommonConfig): string {
  return config.NATS_PKI_DIR ?? path.join(config.STRONGROOM_STATE_DIR, 'pki');
}
