import { Controller, Inject } from '@nestjs/common';
import { createUser, getTenant, type RequestOf, type User } from '@strongroom/contracts';
import {
  assertMayActOnTenant,
  type BusRequestContext,
  Handles,
  PlatformError,
  SERVICE_RESOURCES,
  type ServiceResources,
} from '@strongroom/platform';
import { hashPassword } from '../passwords/password-hashing';
import { checkPasswordPolicy } from '../passwords/password-policy';
import { UsersRepository } from './users.repository';

@Controller()
export class UsersHandler {
  constructor(
    private readonly users: UsersRepository,
    @Inject(SERVICE_RESOURCES) private readonly resources: ServiceResources,
  ) {}

  /**
   * VALIDATION naming every password rule broken (common password, email in it, length), NOT_FOUND
   * when the tenant does not exist (asked of the tenants service) or is not the caller's,
   * CONFLICT on a taken email.
   */
  @Handles(createUser)
  async create(input: RequestOf<typeof createUser>, context: BusRequestContext): Promise<User> {
    assertMayActOnTenant(context.principal, input.tenantId);
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
    return this.users.create({ tenantId: input.tenantId, email: input.email, passwordHash, roles: input.roles });
  }
}
