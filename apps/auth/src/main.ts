import { PLATFORM_VERSION } from '@strongroom/contracts';
import { mainOf } from '@strongroom/platform';
import { migrations } from '../migrations';
import { AuthModule } from './auth.module';

mainOf({ service: 'auth', version: PLATFORM_VERSION, module: AuthModule, migrations });
