import type { Permission } from '@strongroom/contracts';
import { withTenant } from '@strongroom/platform';
import type { DataSource } from 'typeorm';
import { customRolesNamed } from './custom-roles.repository';
import { customRoleNamesOf, resolveRoles } from './tenant-roles';

/** What a user's tokens may carry: its roles, their permissions, and when its access last narrowed. */
export interface UserAccess {
  roles: string[];
  permissions: ReadonlySet<Permission>;
  accessChangedAt: Date | null;
}

/** Token issuance's view of a user, always inside the user's tenant (RLS). */
export class UserAccessReader {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * The user's access, or undefined when it is gone. The user's row is read FOR SHARE: a role
   * change in progress is waited for, and one that starts after this read takes its revocation
   * moment after it (access-revocation.ts), so it covers any token whose `iat` preceded the read.
   */
  async accessOf(tenantId: string, userId: string): Promise<UserAccess | undefined> {
    return withTenant(this.dataSource, tenantId, async (manager) => {
      const rows: Array<{ roles: string[]; access_changed_at: Date | null }> = await manager.query(
        'SELECT roles, access_changed_at FROM users WHERE id = $1 FOR SHARE',
        [userId],
      );
      const user = rows[0];
      if (user === undefined) return undefined;
      // A second statement: it sees whatever role change committed while the first one waited.
      const customRoles = await customRolesNamed(manager, customRoleNamesOf(user.roles), 'none');
      const { permissions } = resolveRoles(user.roles, customRoles);
      return { roles: user.roles, permissions, accessChangedAt: user.access_changed_at };
    });
  }
}

/**
 * How long a token issuance waits so that its `iat` (whole seconds, RFC 7519) falls after the
 * user's last narrowing: a revocation refuses tokens issued at or before its moment, so a token
 * stamped with that very second would be born revoked. At most a second, and only right after a
 * change; 1 ms of margin because a timer may fire a millisecond early.
 */
export function issuanceDelayMs(accessChangedAt: Date | null, nowMs: number): number {
  if (accessChangedAt === null) return 0;
  const firstCleanSecondMs = (Math.floor(accessChangedAt.getTime() / 1000) + 1) * 1000;
  return Math.min(1_000, Math.max(0, firstCleanSecondMs - nowMs + 1));
}

export async function waitOutAccessChange(accessChangedAt: Date | null): Promise<void> {
  const delayMs = issuanceDelayMs(accessChangedAt, Date.now());
  if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
}
