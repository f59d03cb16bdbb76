import { Controller, Inject } from '@nestjs/common';
import { createUser, getTenant, type RequestOf, type User } from '@strongroom/contracts';
import { type BusRequestContext, Handles, SERVICE_RESOURCES, type ServiceResources } from '@strongroom/platform';
import { hashPassword } from './password-hashing';
import { UsersRepository } from './users.repository';

@Controller()
export class UsersHandler {
  constructor(
    private readonly users: UsersRepository,
    @Inject(SERVICE_RESOURCES) private readonly resources: ServiceResources,
  ) {}

  /** NOT_FOUND when the tenant does not exist (asked of the tenants service), CONFLICT on a taken email. */
  @Handles(createUser)
  async create(input: RequestOf<typeof createUser>, context: BusRequestContext): Promise<User> {
    await this.resources.bus.request(
      getTenant,
      { tenantId: input.tenantId },
      { requestId: context.requestId, credential: context.credential },
    );
    const passwordHash = await hashPassword(input.password);
    return this.users.create({ tenantId: input.tenantId, email: input.email, passwordHash, roles: input.roles });
  }
}
