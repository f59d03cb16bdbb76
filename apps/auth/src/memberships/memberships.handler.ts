import { Controller } from '@nestjs/common';
import { listMemberships, type RequestOf, type ResponseOf, setUserRoles } from '@strongroom/contracts';
import { assertMayActOnTenant, type BusRequestContext, Handles } from '@strongroom/platform';
import { AuthAuditPublisher, auditTrailOf, authAuditEvent, refusalTenantOf } from '../auth-audit';
import { assertRolesExist } from '../roles/tenant-roles';
import { assertMayGrantRoles } from '../users/role-grants';
import { MembershipsRepository } from './memberships.repository';

/** Users' roles in their tenant over the bus; another tenant's users answer NOT_FOUND. */
@Controller()
export class MembershipsHandler {
  constructor(
    private readonly memberships: MembershipsRepository,
    private readonly audit: AuthAuditPublisher,
  ) {}

  @Handles(listMemberships)
  async list(
    input: RequestOf<typeof listMemberships>,
    context: BusRequestContext,
  ): Promise<ResponseOf<typeof listMemberships>> {
    assertMayActOnTenant(context.principal, input.tenantId);
    return this.memberships.list(input.tenantId, { limit: input.limit, after: input.after });
  }

  /**
   * VALIDATION naming unknown roles; FORBIDDEN when the user's current or new roles carry a
   * permission the caller lacks (nobody changes the roles of someone holding more than they do).
   */
  @Handles(setUserRoles)
  async set(
    input: RequestOf<typeof setUserRoles>,
    context: BusRequestContext,
  ): Promise<ResponseOf<typeof setUserRoles>> {
    assertMayActOnTenant(context.principal, input.tenantId);
    const principal = context.principal!;
    const trail = auditTrailOf(context);
    // A change is audited with it; a refusal (unknown user or role, roles above the caller's) is published.
    const { membership, usersAffected, tokensRevokedAt } = await this.audit.refusals(
      () =>
        this.memberships.setRoles(
          { tenantId: input.tenantId, userId: input.userId, roles: input.roles, actor: principal.subject, trail },
          (before, customRoles) => {
            assertRolesExist(input.roles, customRoles);
            assertMayGrantRoles(principal, [...before, ...input.roles], customRoles);
          },
          new Date(),
        ),
      (refusal) => [
        authAuditEvent(trail, {
          tenantId: refusalTenantOf(context),
          action: 'auth.membership.change',
          resource: { type: 'user', id: input.userId },
          details: { roles: [...input.roles] },
          ...refusal,
        }),
      ],
    );
    return { ...membership, usersAffected, tokensRevokedAt: tokensRevokedAt?.toISOString() ?? null };
  }
}
