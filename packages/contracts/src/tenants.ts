import { z } from 'zod';
import { defineEvent, defineRequest } from './contract';

/** Data-residency regions (seed 001: in-country databases; seed 003: Saudi Arabia). */
export const REGIONS = ['default', 'zw', 'zm', 'ke', 'ng', 'za', 'bw', 'sa', 'eu'] as const;
export const regionSchema = z.enum(REGIONS);

export const tenantIdSchema = z.uuid();
/**
 * The platform's own tenant (the nil UUID, which tenantIdSchema accepts): service identities'
 * tokens name it. It owns no data; a principal of it may act on any tenant it holds the permission for.
 */
export const PLATFORM_TENANT_ID = '00000000-0000-0000-0000-000000000000';
export const tenantSchema = z.object({
  id: tenantIdSchema,
  slug: z.string(),
  name: z.string(),
  region: regionSchema,
  status: z.enum(['active', 'suspended']),
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

export const tenantCreated = defineEvent({
  subject: 'evt.tenants.v1.tenants.created',
  payload: tenantSchema,
  summary: 'A tenant was created',
});
