import {
  createRole,
  customRoleNameSchema,
  inviteUser,
  PERMISSIONS,
  PLATFORM_PERMISSIONS,
  PREDEFINED_ROLES,
  permissionsOfRoles,
  ROLE_PERMISSIONS,
  SERVICE_IDENTITY_PERMISSIONS,
  setUserRoles,
} from '../src';

const tenantId = '5b1d8a0e-2f43-4c6a-9d1e-0a1b2c3d4e5f';
const SERVICE_ONLY = SERVICE_IDENTITY_PERMISSIONS;
const PLATFORM_ONLY = PLATFORM_PERMISSIONS;

describe('predefined roles', () => {
  it('are seed 001’s and seed 003’s roles, each holding only catalogue permissions', () => {
    expect([...PREDEFINED_ROLES].sort()).toEqual(
      ['admin', 'dealer', 'developer', 'farmer', 'partner_admin', 'partner_user', 'super_admin', 'viewer'].sort(),
    );
    for (const role of PREDEFINED_ROLES)
      for (const permission of ROLE_PERMISSIONS[role]) expect(Object.keys(PERMISSIONS)).toContain(permission);
  });

  it('give no role a service-only permission, and platform permissions to super_admin alone', () => {
    for (const role of PREDEFINED_ROLES) {
      for (const permission of SERVICE_ONLY) expect(ROLE_PERMISSIONS[role]).not.toContain(permission);
      if (role !== 'super_admin')
        for (const permission of PLATFORM_ONLY) expect(ROLE_PERMISSIONS[role]).not.toContain(permission);
    }
    expect(ROLE_PERMISSIONS.super_admin).toEqual(expect.arrayContaining(PLATFORM_ONLY));
  });

  it('let a farmer read its allocations and change its card PIN, nothing more (seed 001)', () => {
    expect([...ROLE_PERMISSIONS.farmer].sort()).toEqual(
      ['auth.cards.change-pin', 'ledger.accounts.read', 'ledger.transfers.read'].sort(),
    );
  });

  it('let a dealer verify a card PIN and post the redemption, never register or unlock cards (seed 001)', () => {
    expect([...ROLE_PERMISSIONS.dealer].sort()).toEqual(
      ['auth.cards.verify-pin', 'ledger.accounts.read', 'ledger.transfers.create', 'ledger.transfers.read'].sort(),
    );
  });

  it('let tenant admins administer users, roles, environments and read the audit trail; viewers only read', () => {
    for (const role of ['admin', 'partner_admin'] as const)
      expect(ROLE_PERMISSIONS[role]).toEqual(
        expect.arrayContaining([
          'auth.users.read',
          'auth.memberships.update',
          'auth.roles.read',
          'auth.roles.manage',
          'tenants.environments.read',
          'tenants.environments.update',
          'audit.records.read',
          'kyc.cases.decide',
        ]),
      );
    expect(ROLE_PERMISSIONS.viewer.every((permission) => permission.endsWith('.read'))).toBe(true);
    expect(ROLE_PERMISSIONS.viewer).not.toContain('auth.users.read');
    expect(ROLE_PERMISSIONS.developer).not.toContain('auth.memberships.update');
  });

  it('resolves nothing for a name that is no predefined role (custom ones are auth’s to resolve)', () => {
    expect([...permissionsOfRoles(['auditor', 'constructor', 'toString'])]).toEqual([]);
  });
});

describe('custom role contracts', () => {
  it('refuses a predefined role’s name and malformed names', () => {
    for (const name of ['admin', 'super_admin', 'Auditor', 'a', 'has space', 'x'.repeat(41), '9lives'])
      expect(customRoleNameSchema.safeParse(name).success).toBe(false);
    for (const name of ['auditor', 'loan_officer', 'kyc_reviewer_2'])
      expect(customRoleNameSchema.safeParse(name).success).toBe(true);
  });

  it('takes only catalogue permissions, each once, at least one', () => {
    const valid = { tenantId, name: 'auditor', permissions: ['audit.records.read'] };
    expect(createRole.request.safeParse(valid).success).toBe(true);
    expect(createRole.request.safeParse({ ...valid, permissions: [] }).success).toBe(false);
    expect(createRole.request.safeParse({ ...valid, permissions: ['audit.records.delete'] }).success).toBe(false);
    expect(
      createRole.request.safeParse({ ...valid, permissions: ['audit.records.read', 'audit.records.read'] }).success,
    ).toBe(false);
    expect(createRole.request.safeParse({ ...valid, extra: true }).success).toBe(false);
  });

  it('lets users and invitations name custom roles, a bounded number of distinct ones', () => {
    const userId = '0f8e7a3c-1d2b-4c5d-8e9f-a0b1c2d3e4f5';
    expect(setUserRoles.request.safeParse({ tenantId, userId, roles: ['viewer', 'auditor'] }).success).toBe(true);
    expect(setUserRoles.request.safeParse({ tenantId, userId, roles: [] }).success).toBe(false);
    expect(setUserRoles.request.safeParse({ tenantId, userId, roles: ['viewer', 'viewer'] }).success).toBe(false);
    const many = Array.from({ length: 17 }, (_, i) => `role_${i}`);
    expect(setUserRoles.request.safeParse({ tenantId, userId, roles: many }).success).toBe(false);
    expect(inviteUser.request.safeParse({ tenantId, email: 'a@b.test', roles: ['auditor'] }).success).toBe(true);
  });
});
