import { Module } from '@nestjs/common';
import { healthControllerFor } from '@strongroom/platform';

/** The tenants service. Its domain aggregates arrive with their issues; today it answers health checks. */
@Module({
  controllers: [healthControllerFor('tenants')],
})
export class TenantsModule {}
