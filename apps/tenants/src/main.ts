import { PLATFORM_VERSION } from '@strongroom/contracts';
import { mainOf } from '@strongroom/platform';
import { migrations } from '../migrations';
import { TenantsModule } from './tenants.module';

mainOf({ service: 'tenants', version: PLATFORM_VERSION, module: TenantsModule, migrations });
