import { PLATFORM_VERSION } from '@strongroom/contracts';
import { mainOf } from '@strongroom/platform';
import { migrations } from '../migrations';
import { LedgerModule } from './ledger.module';

mainOf({ service: 'ledger', version: PLATFORM_VERSION, module: LedgerModule, migrations });
