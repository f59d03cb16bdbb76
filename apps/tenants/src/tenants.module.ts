import { Module } from '@nestjs/common';
import { healthControllerFor } from '@strongroom/platform';
import { TenantsHandler } from './tenants/tenants.handler';
import { TenantsRepository } from './tenants/tenants.repository';

/** The tenants service: the tenant registry (roles, environments and policies arrive with their issue). */
@Module({
  controllers: [healthControllerFor('tenants'), TenantsHandler],
  providers: [TenantsRepository],
})
export class TenantsModule {}
