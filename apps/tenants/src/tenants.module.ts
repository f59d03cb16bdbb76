import { Module } from '@nestjs/common';
import { healthControllerFor } from '@strongroom/platform';
import { EnvironmentsHandler } from './environments/environments.handler';
import { EnvironmentsRepository } from './environments/environments.repository';
import { TenantsHandler } from './tenants/tenants.handler';
import { TenantsRepository } from './tenants/tenants.repository';
import { AuditPublisher } from './tenants-audit';

/** The tenants service: the tenant registry and each tenant's environments (IP allowlist, rate plan). */
@Module({
  controllers: [healthControllerFor('tenants'), TenantsHandler, EnvironmentsHandler],
  providers: [TenantsRepository, EnvironmentsRepository, AuditPublisher],
})
export class TenantsModule {}
