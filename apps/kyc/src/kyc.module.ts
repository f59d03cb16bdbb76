import { Module } from '@nestjs/common';
import { healthControllerFor } from '@strongroom/platform';

/** The kyc service. Its domain aggregates arrive with their issues; today it answers health checks. */
@Module({
  controllers: [healthControllerFor('kyc')],
})
export class KycModule {}
