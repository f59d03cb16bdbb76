import { Controller } from '@nestjs/common';
import {
  type AuditEventInput,
  createRole,
  deleteRole,
  listRoles,
  type RequestOf,
  type ResponseOf,
  updateRole,
} from '@strongroom/contracts';
import { assertMayActOnTenant, type BusRequestContext, Handles } from '@strongroom/platform';
import { type AuditTrail, AuthAuditPublisher, auditTrailOf, authAuditEvent, refusalTenantOf } from '../auth-audit';
import { assertMayGrantPermissions } from '../users/role-grants';
import { CustomRolesRepository } from './custom-roles.repository';
import { customRoleDefinition, roleDefinitions } from './tenant-roles';

type RoleAction = 'auth.role.create' | 'auth.role.update' | 'auth.role.delete';

/**
 * A tenant's roles over the bus. Another tenant's roles answer NOT_FOUND; nobody defines, widens,
 * narrows or deletes a role carrying a permission they do not hold themselves (FORBIDDEN). A
 * change is audited in its transaction (the repository); a refusal is published.
 */
@Controller()
export class RolesHandler {
  constructor(
    private readonly roles: CustomRolesRepository,
    private readonly audit: AuthAuditPublisher,
  ) {}

  @Handles(listRoles)
  async list(input: RequestOf<typeof listRoles>, context: BusRequestContext): Promise<ResponseOf<typeof listRoles>> {
    assertMayActOnTenant(context.principal, input.tenantId);
    return { roles: roleDefinitions(await this.roles.list(input.tenantId)) };
  }

  /** CONFLICT on a taken name or past the tenant's bound; VALIDATION for a predefined role's name. */
  @Handles(createRole)
  async create(
    input: RequestOf<typeof createRole>,
    context: BusRequestContext,
  ): Promise<ResponseOf<typeof createRole>> {
    assertMayActOnTenant(context.principal, input.tenantId);
    return this.audited(context, 'auth.role.create', input.name, async (trail) => {
      assertMayGrantPermissions(context.principal!, input.permissions);
      const role = await this.roles.create({ ...input, actor: context.principal!.subject, trail }, new Date());
      return customRoleDefinition(role);
    });
  }

  /** If the role lost a permission, its holders' access tokens stop working within a second. */
  @Handles(updateRole)
  async update(
    input: RequestOf<typeof updateRole>,
    context: BusRequestContext,
  ): Promise<ResponseOf<typeof updateRole>> {
    assertMayActOnTenant(context.principal, input.tenantId);
    const principal = context.principal!;
    return this.audited(context, 'auth.role.update', input.name, async (trail) => {
      const { role, usersAffected, tokensRevokedAt } = await this.roles.update(
        { ...input, actor: principal.subject, trail },
        (current) => assertMayGrantPermissions(principal, [...current.permissions, ...input.permissions]),
        new Date(),
      );
      return { ...customRoleDefinition(role), usersAffected, tokensRevokedAt: tokensRevokedAt?.toISOString() ?? null };
    });
  }

  /** CONFLICT while a user or an open invitation holds the role. */
  @Handles(deleteRole)
  async delete(
    input: RequestOf<typeof deleteRole>,
    context: BusRequestContext,
  ): Promise<ResponseOf<typeof deleteRole>> {
    assertMayActOnTenant(context.principal, input.tenantId);
    const principal = context.principal!;
    return this.audited(context, 'auth.role.delete', input.name, async (trail) => {
      const now = new Date();
      await this.roles.delete(
        { ...input, actor: principal.subject, trail },
        (current) => assertMayGrantPermissions(principal, current.permissions),
        now,
      );
      return { name: input.name, deletedAt: now.toISOString() };
    });
  }

  private audited<T>(
    context: BusRequestContext,
    action: RoleAction,
    name: string,
    work: (trail: AuditTrail) => Promise<T>,
  ): Promise<T> {
    const trail = auditTrailOf(context);
    return this.audit.refusals(
      () => work(trail),
      (refusal): AuditEventInput[] => [
        authAuditEvent(trail, {
          tenantId: refusalTenantOf(context),
          action,
          resource: { type: 'role', id: name },
          ...refusal,
        }),
      ],
    );
  }
}
