import { PLATFORM_VERSION } from '@strongroom/contracts';
import { mainOf } from '@strongroom/platform';
import { migrations } from '../migrations';
import { ConsentModule } from './consent.module';

mainOf({ service: 'consent', version: PLATFORM_VERSION, module: ConsentModule, migrations });
