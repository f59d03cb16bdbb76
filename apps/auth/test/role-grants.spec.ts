import { PLATFORM_TENANT_ID, ROLE_PERMISSIONS } from '@strongroom/contracts';
import { PlatformError, type Principal } from '@strongroom/platform';
import { assertMayGrantRoles } from '../src/users/role-grants';

const principal = (permissions: string[], tenantId = '5b1d8a0e-2f43-4c6a-9d1e-0a1b2c3d4e5f'): Principal => ({
  subject: 'someone',
  tenantId,
  environment: 'production',
  clientId: undefined,
  tokenId: 'jti',
  issuedAt: new Date(),
  expiresAt: new Date(Date.now() + 60_000),
  permissions: new Set(permissions),
});

describe('granting roles', () => {
  it('lets a caller grant roles whose permissions it holds', () => {
    expect(() => assertMayGrantRoles(principal([...ROLE_PERMISSIONS.viewer]), ['viewer'])).not.toThrow();
  });

  it('refuses a role carrying a permission the caller lacks, naming it', () => {
    try {
      assertMayGrantRoles(principal([...ROLE_PERMISSIONS.viewer]), ['viewer', 'developer']);
      throw new Error('granted');
    } catch (error) {
      expect(error).toBeInstanceOf(PlatformError);
      expect((error as PlatformError).code).toBe('FORBIDDEN');
      expect((error as PlatformError).details?.permissions).toContain('auth.api-keys.create');
    }
  });

  it('lets the platform grant any role', () => {
    expect(() => assertMayGrantRoles(principal([], PLATFORM_TENANT_ID), ['super_admin'])).not.toThrow();
  });
});
