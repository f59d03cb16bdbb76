import { Module } from '@nestjs/common';
import { healthControllerFor, RegionalDatabases, regionalDatabasesProvider } from '@strongroom/platform';
import { migrations } from '../migrations';

/**
 * The consent service. Its domain aggregates arrive with their issues; today it answers health checks
 * and opens its tenants' regional databases (data residency: docs/residency.md), which its
 * repositories reach through `RegionalDatabases.withTenant`.
 */
@Module({
  controllers: [healthControllerFor('consent')],
  providers: [regionalDatabasesProvider({ service: 'consent', migrations })],
  exports: [RegionalDatabases],
})
export class ConsentModule {}
