import { z } from 'zod';
import { defineEvent, defineRequest } from './contract';
import { tenantIdSchema } from './tenants';

/** Seed 001 and 003 roles; tenants' custom roles arrive with the tenants issue. */
export const PREDEFINED_ROLES = [
  'super_admin',
  'partner_admin',
  'partner_user',
  'admin',
  'developer',
  'viewer',
] as const;
export const roleSchema = z.enum(PREDEFINED_ROLES);

/** Passwords: long enough to matter, bounded so hashing cost cannot be abused. */
export const PASSWORD_LENGTH_MIN = 12;
export const PASSWORD_LENGTH_MAX = 256;

export const userSchema = z.object({
  id: z.uuid(),
  tenantId: tenantIdSchema,
  email: z.string(),
  roles: z.array(roleSchema),
  createdAt: z.iso.datetime(),
});
export type User = z.infer<typeof userSchema>;

export const createUser = defineRequest({
  subject: 'auth.v1.users.create',
  request: z
    .object({
      tenantId: tenantIdSchema,
      email: z.email().max(320).toLowerCase(),
      password: z.string().min(PASSWORD_LENGTH_MIN).max(PASSWORD_LENGTH_MAX),
      roles: z.array(roleSchema).min(1).max(PREDEFINED_ROLES.length),
    })
    .strict(),
  response: userSchema,
  permission: 'auth.users.create',
  summary: 'Create a user in a tenant (the password is stored as an argon2id hash)',
});

export const userCreated = defineEvent({
  subject: 'evt.auth.v1.users.created',
  payload: userSchema,
  summary: 'A user was created',
});
