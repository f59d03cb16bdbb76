import { Controller, Inject } from '@nestjs/common';
import { createUser, getTenant, inviteUser, type RequestOf, type ResponseOf, type User } from '@strongroom/contracts';
import {
  assertMayActOnTenant,
  type BusRequestContext,
  dataSourceOf,
  Handles,
  PlatformError,
  SERVICE_RESOURCES,
  type ServiceResources,
} from '@strongroom/platform';
import { AuthAuditPublisher, auditTrailOf, authAuditEvent, refusalTenantOf } from '../auth-audit';
import { hashPassword } from '../passwords/password-hashing';
import { checkPasswordPolicy } from '../passwords/password-policy';
import { CustomRolesRepository } from '../roles/custom-roles.repository';
import { assertRolesExist, customRoleNamesOf } from '../roles/tenant-roles';
import { INVITATION_PATH_PREFIX } from './invitation-page';
import { InvitationsRepository } from './invitations.repository';
import { assertMayGrantRoles } from './role-grants';
import { UsersRepository } from './users.repository';

@Controller()
export class UsersHandler {
  private readonly invitations: InvitationsRepository;

  constructor(
    private readonly users: UsersRepository,
    private readonly customRoles: CustomRolesRepository,
    private readonly audit: AuthAuditPublisher,
    @Inject(SERVICE_RESOURCES) private readonly resources: ServiceResources,
  ) {
    this.invitations = new InvitationsRepository(dataSourceOf(resources), resources.secrets);
  }

  /**
   * VALIDATION naming every password rule broken (common password, email in it, length), NOT_FOUND
   * when the tenant does not exist (asked of the tenants service) or is not the caller's,
   * CONFLICT on a taken email, VALIDATION naming a role that is no role of the tenant.
   */
  @Handles(createUser)
  async create(input: RequestOf<typeof createUser>, context: BusRequestContext): Promise<User> {
    assertMayActOnTenant(context.principal, input.tenantId);
    const trail = auditTrailOf(context);
    return this.audit.refusals(
      () => this.createUser(input, context, trail),
      (refusal) => [
        authAuditEvent(trail, {
          tenantId: refusalTenantOf(context),
          action: 'auth.user.create',
          resource: { type: 'user', id: 'new' },
          details: { roles: [...input.roles] },
          ...refusal,
        }),
      ],
    );
  }

  private async createUser(
    input: RequestOf<typeof createUser>,
    context: BusRequestContext,
    trail: ReturnType<typeof auditTrailOf>,
  ): Promise<User> {
    await this.assertMayGiveRoles(input.tenantId, input.roles, context);
    const policy = checkPasswordPolicy(input.password, { email: input.email });
    if (!policy.ok)
      throw PlatformError.validation('The password breaks the password policy', { violations: policy.violations });
    // On the caller's behalf, with the caller's credential: auth lends it none of its own rights.
    await this.resources.bus.request(
      getTenant,
      { tenantId: input.tenantId },
      { requestId: context.requestId, credential: context.credential },
    );
    const passwordHash = await hashPassword(input.password);
    return this.users.create({ tenantId: input.tenantId, email: input.email, passwordHash, roles: input.roles }, trail);
  }

  /** The one-time link is returned once; the user picks a password there (argon2id, policy checked). */
  @Handles(inviteUser)
  async invite(
    input: RequestOf<typeof inviteUser>,
    context: BusRequestContext,
  ): Promise<ResponseOf<typeof inviteUser>> {
    assertMayActOnTenant(context.principal, input.tenantId);
    const trail = auditTrailOf(context);
    const invitation = await this.audit.refusals(
      async () => {
        await this.assertMayGiveRoles(input.tenantId, input.roles, context);
        await this.resources.bus.request(
          getTenant,
          { tenantId: input.tenantId },
          { requestId: context.requestId, credential: context.credential },
        );
        return this.invitations.create(
          { tenantId: input.tenantId, email: input.email, roles: input.roles, invitedBy: context.principal!.subject },
          new Date(),
          trail,
        );
      },
      (refusal) => [
        authAuditEvent(trail, {
          tenantId: refusalTenantOf(context),
          action: 'auth.user.invite',
          resource: { type: 'invitation', id: 'new' },
          details: { roles: [...input.roles] },
          ...refusal,
        }),
      ],
    );
    return {
      invitationId: invitation.id,
      tenantId: input.tenantId,
      email: input.email,
      roles: input.roles,
      expiresAt: invitation.expiresAt.toISOString(),
      acceptUrl: `${this.resources.config.PUBLIC_URL}${INVITATION_PATH_PREFIX}${invitation.token}`,
    };
  }

  /**
   * Every role is predefined or one of the tenant's custom roles, and within the caller's own
   * permissions. A custom role deleted between this check and the insert leaves a name that
   * grants nothing (token issuance resolves names afresh).
   */
  private async assertMayGiveRoles(tenantId: string, roles: readonly string[], context: BusRequestContext) {
    const customRoles = await this.customRoles.named(tenantId, customRoleNamesOf(roles));
    assertRolesExist(roles, customRoles);
    assertMayGrantRoles(context.principal!, roles, customRoles);
  }
}
