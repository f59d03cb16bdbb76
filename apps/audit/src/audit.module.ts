import { Module } from '@nestjs/common';
import { healthControllerFor } from '@strongroom/platform';

/** The audit service. Its domain aggregates arrive with their issues; today it answers health checks. */
@Module({
  controllers: [healthControllerFor('audit')],
})
export class AuditModule {}
