import { PLATFORM_TENANT_ID, ROLE_PERMISSIONS } from '@strongroom/contracts';
import { PlatformError, type Principal } from '@strongroom/platform';
import {
  assertRolesExist,
  type CustomRole,
  customRoleNamesOf,
  permissionsLost,
  resolveRoles,
  roleDefinitions,
} from '../src/roles/tenant-roles';
import { issuanceDelayMs } from '../src/roles/user-access';
import { assertMayGrantPermissions, assertMayGrantRoles } from '../src/users/role-grants';

const at = new Date('2025-01-01T00:00:00Z');
const custom = (name: string, permissions: string[]): CustomRole => ({
  name,
  description: null,
  permissions,
  createdAt: at,
  updatedAt: at,
});
const auditor = custom('auditor', ['audit.records.read', 'audit.records.export']);

const principal = (permissions: readonly string[], tenantId = '5b1d8a0e-2f43-4c6a-9d1e-0a1b2c3d4e5f'): Principal => ({
  subject: 'someone',
  tenantId,
  environment: 'production',
  clientId: undefined,
  tokenId: 'jti',
  issuedAt: new Date(),
  expiresAt: new Date(Date.now() + 60_000),
  permissions: new Set(permissions),
});

function forbiddenPermissionsOf(call: () => void): unknown {
  try {
    call();
  } catch (error) {
    expect(error).toBeInstanceOf(PlatformError);
    expect((error as PlatformError).code).toBe('FORBIDDEN');
    return (error as PlatformError).details?.permissions;
  }
  throw new Error('not refused');
}

describe('resolving a tenant’s roles', () => {
  it('unites the permissions of predefined and custom roles', () => {
    const { permissions, unknown } = resolveRoles(['farmer', 'auditor'], [auditor]);
    expect(unknown).toEqual([]);
    expect([...permissions].sort()).toEqual(
      [...ROLE_PERMISSIONS.farmer, 'audit.records.read', 'audit.records.export'].sort(),
    );
  });

  it('names every role that is neither predefined nor the tenant’s, and grants nothing for it', () => {
    const { permissions, unknown } = resolveRoles(['viewer', 'auditor', 'ghost'], []);
    expect(unknown).toEqual(['auditor', 'ghost']);
    expect([...permissions].sort()).toEqual([...ROLE_PERMISSIONS.viewer].sort());
    expect(() => assertRolesExist(['viewer', 'ghost'], [])).toThrow(PlatformError);
    expect(() => assertRolesExist(['viewer', 'auditor'], [auditor])).not.toThrow();
  });

  it('ignores a stored permission the catalogue does not know and prototype names', () => {
    const { permissions, unknown } = resolveRoles(['legacy', 'constructor'], [custom('legacy', ['ledger.gone'])]);
    expect([...permissions]).toEqual([]);
    expect(unknown).toEqual(['constructor']);
  });

  it('looks up only the custom names, once each', () => {
    expect(customRoleNamesOf(['admin', 'auditor', 'auditor', 'teller'])).toEqual(['auditor', 'teller']);
  });

  it('lists predefined roles first, then custom ones by name, each with its permissions', () => {
    const definitions = roleDefinitions([custom('teller', ['ledger.transfers.create']), auditor]);
    expect(definitions.filter((role) => role.kind === 'custom').map((role) => role.name)).toEqual([
      'auditor',
      'teller',
    ]);
    expect(definitions.find((role) => role.name === 'dealer')).toEqual({
      name: 'dealer',
      kind: 'predefined',
      description: null,
      permissions: [...ROLE_PERMISSIONS.dealer],
    });
  });

  it('says which permissions a change loses (a narrowing), and none for a widening', () => {
    expect(permissionsLost(['a', 'b', 'c'], new Set(['b']))).toEqual(['a', 'c']);
    expect(permissionsLost(['a'], new Set(['a', 'b']))).toEqual([]);
  });
});

describe('granting custom roles', () => {
  it('lets a caller grant a custom role whose permissions it holds', () => {
    const caller = principal(ROLE_PERMISSIONS.admin);
    expect(() => assertMayGrantRoles(caller, ['auditor'], [auditor])).not.toThrow();
  });

  it('refuses a custom role carrying a permission the caller lacks, naming only that one', () => {
    const caller = principal(['audit.records.read']);
    expect(forbiddenPermissionsOf(() => assertMayGrantRoles(caller, ['auditor'], [auditor]))).toEqual([
      'audit.records.export',
    ]);
  });

  it('refuses to define a role beyond the caller’s permissions; the platform may define any', () => {
    const admin = principal(ROLE_PERMISSIONS.admin);
    expect(forbiddenPermissionsOf(() => assertMayGrantPermissions(admin, ['tenants.tenants.create']))).toEqual([
      'tenants.tenants.create',
    ]);
    expect(() =>
      assertMayGrantPermissions(principal([], PLATFORM_TENANT_ID), ['tenants.tenants.create']),
    ).not.toThrow();
  });

  it('never lets a tenant admin grant super_admin', () => {
    expect(
      forbiddenPermissionsOf(() => assertMayGrantRoles(principal(ROLE_PERMISSIONS.admin), ['super_admin'])),
    ).toEqual(expect.arrayContaining(['tenants.tenants.create', 'tenants.tenants.list']));
  });
});

describe('token issuance right after a narrowing (iat is in whole seconds)', () => {
  const changedAt = new Date('2025-01-01T00:00:10.300Z');

  it('waits for the next whole second when the change happened in this one', () => {
    expect(issuanceDelayMs(changedAt, Date.parse('2025-01-01T00:00:10.350Z'))).toBe(651);
    expect(issuanceDelayMs(changedAt, Date.parse('2025-01-01T00:00:10.999Z'))).toBe(2);
  });

  it('does not wait once the second is over, or for a user never narrowed', () => {
    expect(issuanceDelayMs(changedAt, Date.parse('2025-01-01T00:00:11.000Z'))).toBe(1);
    expect(issuanceDelayMs(changedAt, Date.parse('2025-01-01T00:00:11.002Z'))).toBe(0);
    expect(issuanceDelayMs(null, Date.now())).toBe(0);
  });

  it('never waits more than a second, even for a change stamped ahead by another clock', () => {
    expect(issuanceDelayMs(new Date('2025-01-01T00:00:30Z'), Date.parse('2025-01-01T00:00:10Z'))).toBe(1_000);
  });

  it('makes the token’s iat land after the revocation moment (RevocationList refuses iat*1000 <= revokedAt)', () => {
    const nowMs = Date.parse('2025-01-01T00:00:10.400Z');
    const iatSeconds = Math.floor((nowMs + issuanceDelayMs(changedAt, nowMs)) / 1000);
    expect(iatSeconds * 1000).toBeGreaterThan(changedAt.getTime());
  });
});
