import { PLATFORM_VERSION } from '@strongroom/contracts';
import { mainOf } from '@strongroom/platform';
import { migrations } from '../migrations';
import { KycModule } from './kyc.module';

mainOf({ service: 'kyc', version: PLATFORM_VERSION, module: KycModule, migrations });
