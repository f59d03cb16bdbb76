import { z } from 'zod';
import { defineEvent, defineRequest } from './contract';
import { ratePlanSchema } from './rate-plans';
import { tenantIdSchema } from './tenants';
import { environmentSchema } from './tokens';

/** Bounds an allowlist (STYLE: a limit on everything); a network needing more should aggregate its ranges. */
export const IP_ALLOWLIST_ENTRIES_MAX = 100;

/**
 * An IPv4 or IPv6 network in CIDR notation with no host bits set (`10.0.0.0/8`, `2001:db8::/32`); a
 * single address is written /32 or /128.
 */
export const cidrSchema = z.union([z.cidrv4(), z.cidrv6()]);

/**
 * A tenant's sandbox or production environment (seed 003: "configure allowed CIDR ranges per
 * environment"): an empty allowlist lets every address in; otherwise the gateway refuses any
 * request whose client address is in none of the ranges, whatever credential it carries.
 */
export const tenantEnvironmentSchema = z.object({
  tenantId: tenantIdSchema,
  environment: environmentSchema,
  ipAllowlist: z.array(z.string()),
  /** The environment's own plan (never above the tenant's); null: the tenant's plan. */
  ratePlan: ratePlanSchema.nullable(),
  /** The plan the gateway applies: `ratePlan` or else the tenant's. */
  effectiveRatePlan: ratePlanSchema,
  updatedAt: z.iso.datetime(),
});
export type TenantEnvironment = z.infer<typeof tenantEnvironmentSchema>;

export const getTenantEnvironment = defineRequest({
  subject: 'tenants.v1.environments.get',
  request: z.object({ tenantId: tenantIdSchema, environment: environmentSchema }).strict(),
  response: tenantEnvironmentSchema,
  permission: 'tenants.environments.read',
  summary: "Read a tenant environment's IP allowlist and rate plan",
});

export const listTenantEnvironments = defineRequest({
  subject: 'tenants.v1.environments.list',
  request: z.object({ tenantId: tenantIdSchema }).strict(),
  response: z.object({ environments: z.array(tenantEnvironmentSchema) }),
  permission: 'tenants.environments.read',
  summary: "List a tenant's environments (sandbox and production)",
});

export const updateTenantEnvironment = defineRequest({
  subject: 'tenants.v1.environments.update',
  request: z
    .object({
      tenantId: tenantIdSchema,
      environment: environmentSchema,
      /** Replaces the allowlist; [] removes the restriction. */
      ipAllowlist: z.array(cidrSchema).max(IP_ALLOWLIST_ENTRIES_MAX).optional(),
      /** Never above the tenant's plan (FORBIDDEN, reason ABOVE_TENANT_PLAN); null: use the tenant's plan. */
      ratePlan: ratePlanSchema.nullable().optional(),
    })
    .strict(),
  response: tenantEnvironmentSchema,
  permission: 'tenants.environments.update',
  summary: "Change a tenant environment's IP allowlist or rate plan (takes effect at the gateway within a second)",
});

export const tenantEnvironmentUpdated = defineEvent({
  subject: 'evt.tenants.v1.environments.updated',
  payload: tenantEnvironmentSchema,
  summary: "A tenant environment's IP allowlist or rate plan changed",
});
