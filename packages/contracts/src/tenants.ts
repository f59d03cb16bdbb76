import { z } from 'zod';
import { defineEvent, defineRequest } from './contract';
import { DEFAULT_RATE_PLAN, ratePlanSchema } from './rate-plans';

/** Data-residency regions (seed 001: in-country databases; seed 003: Saudi Arabia). */
export const REGIONS = ['default', 'zw', 'zm', 'ke', 'ng', 'za', 'bw', 'sa', 'eu'] as const;
export const regionSchema = z.enum(REGIONS);

export const tenantIdSchema = z.uuid();
/**
 * The platform's own tenant (the nil UUID, which tenantIdSchema accepts): service identities'
 * tokens name it. It owns no data; a principal of it may act on any tenant it holds the permission for.
 */
export const PLATFORM_TENANT_ID = '00000000-0000-0000-0000-000000000000';
/** Seed 003: access tokens live 15–60 minutes; seed 001: refresh 7 days by default; seed 003: never over 90 days. */
export const ACCESS_TOKEN_TTL_SECONDS_RANGE = { min: 15 * 60, max: 60 * 60 } as const;
export const REFRESH_TOKEN_TTL_SECONDS_RANGE = { min: 3_600, max: 90 * 86_400 } as const;
/** KYC records: 5 years by default (FATF Recommendation 11's floor), a tenant's law may ask for up to 10. */
export const KYC_RETENTION_DAYS_RANGE = { min: 365, max: 3_653, default: 1_826 } as const;
/** Seed 003: audit logs are kept 7 years; a tenant may keep them longer, never shorter. */
export const AUDIT_RETENTION_DAYS_RANGE = { min: 2_557, max: 3_653, default: 2_557 } as const;

const settingsFields = {
  accessTokenTtlSeconds: z
    .number()
    .int()
    .min(ACCESS_TOKEN_TTL_SECONDS_RANGE.min)
    .max(ACCESS_TOKEN_TTL_SECONDS_RANGE.max),
  refreshTokenTtlSeconds: z
    .number()
    .int()
    .min(REFRESH_TOKEN_TTL_SECONDS_RANGE.min)
    .max(REFRESH_TOKEN_TTL_SECONDS_RANGE.max),
  kycRetentionDays: z.number().int().min(KYC_RETENTION_DAYS_RANGE.min).max(KYC_RETENTION_DAYS_RANGE.max),
  auditRetentionDays: z.number().int().min(AUDIT_RETENTION_DAYS_RANGE.min).max(AUDIT_RETENTION_DAYS_RANGE.max),
  /** The tenant's commercial plan (platform only); its environments may use a lower one. */
  ratePlan: ratePlanSchema,
};
/** A change to some settings; the others keep their values. */
export const tenantSettingsPatchSchema = z.object(settingsFields).partial().strict();
export type TenantSettingsPatch = z.infer<typeof tenantSettingsPatchSchema>;
export const tenantSettingsSchema = z
  .object({
    accessTokenTtlSeconds: settingsFields.accessTokenTtlSeconds.default(15 * 60),
    refreshTokenTtlSeconds: settingsFields.refreshTokenTtlSeconds.default(7 * 86_400),
    kycRetentionDays: settingsFields.kycRetentionDays.default(KYC_RETENTION_DAYS_RANGE.default),
    auditRetentionDays: settingsFields.auditRetentionDays.default(AUDIT_RETENTION_DAYS_RANGE.default),
    ratePlan: settingsFields.ratePlan.default(DEFAULT_RATE_PLAN),
  })
  .strict();
export type TenantSettings = z.infer<typeof tenantSettingsSchema>;

export const tenantSchema = z.object({
  id: tenantIdSchema,
  slug: z.string(),
  name: z.string(),
  region: regionSchema,
  status: z.enum(['active', 'suspended']),
  settings: tenantSettingsSchema,
  createdAt: z.iso.datetime(),
});
export type Tenant = z.infer<typeof tenantSchema>;

export const createTenant = defineRequest({
  subject: 'tenants.v1.tenants.create',
  request: z
    .object({
      slug: z
        .string()
        .regex(/^[a-z0-9](?:[a-z0-9-]{1,38}[a-z0-9])$/, 'lower-case letters, digits and dashes, 3–40 characters'),
      name: z.string().trim().min(1).max(200),
      region: regionSchema.default('default'),
      settings: tenantSettingsSchema.optional(),
    })
    .strict(),
  response: tenantSchema,
  permission: 'tenants.tenants.create',
  summary: 'Create a tenant',
});

export const getTenant = defineRequest({
  subject: 'tenants.v1.tenants.get',
  request: z.object({ tenantId: tenantIdSchema }).strict(),
  response: tenantSchema,
  permission: 'tenants.tenants.read',
  summary: 'Read a tenant',
});

export const TENANT_PAGE_SIZE_MAX = 100;

/** Platform only: every tenant, oldest first, a page at a time. */
export const listTenants = defineRequest({
  subject: 'tenants.v1.tenants.list',
  request: z
    .object({
      limit: z.number().int().min(1).max(TENANT_PAGE_SIZE_MAX).default(50),
      /** The `nextCursor` of the previous page. */
      cursor: tenantIdSchema.optional(),
      status: z.enum(['active', 'suspended']).optional(),
      region: regionSchema.optional(),
    })
    .strict(),
  response: z.object({ tenants: z.array(tenantSchema), nextCursor: z.string().nullable() }),
  permission: 'tenants.tenants.list',
  summary: 'List tenants (platform only), oldest first, cursor-paged',
});

export const tenantCreated = defineEvent({
  subject: 'evt.tenants.v1.tenants.created',
  payload: tenantSchema,
  summary: 'A tenant was created',
});

/** Platform only (super_admin): a suspended tenant's tokens and keys stop working everywhere within a second. */
export const suspendTenant = defineRequest({
  subject: 'tenants.v1.tenants.suspend',
  request: z.object({ tenantId: tenantIdSchema }).strict(),
  response: tenantSchema,
  permission: 'tenants.tenants.suspend',
  summary: 'Suspend a tenant: every token and key of it stops working (idempotent)',
});

export const reactivateTenant = defineRequest({
  subject: 'tenants.v1.tenants.reactivate',
  request: z.object({ tenantId: tenantIdSchema }).strict(),
  response: tenantSchema,
  permission: 'tenants.tenants.suspend',
  summary: 'Reactivate a suspended tenant (tokens revoked while it was suspended stay revoked)',
});

export const updateTenantSettings = defineRequest({
  subject: 'tenants.v1.tenants.update-settings',
  request: z.object({ tenantId: tenantIdSchema, settings: tenantSettingsPatchSchema }).strict(),
  response: tenantSchema,
  permission: 'tenants.settings.update',
  summary: "Change some of a tenant's settings (token lifetimes, retention, rate plan) within the seeds' bounds",
});

export const tenantSuspended = defineEvent({
  subject: 'evt.tenants.v1.tenants.suspended',
  payload: tenantSchema,
  summary: 'A tenant was suspended',
});

export const tenantReactivated = defineEvent({
  subject: 'evt.tenants.v1.tenants.reactivated',
  payload: tenantSchema,
  summary: 'A tenant was reactivated',
});

export const tenantSettingsUpdated = defineEvent({
  subject: 'evt.tenants.v1.tenants.settings-updated',
  payload: tenantSchema,
  summary: "A tenant's settings changed",
});
