import { PLATFORM_VERSION } from '@strongroom/contracts';
import { mainOf } from '@strongroom/platform';
import { migrations } from '../migrations';
import { AuditModule } from './audit.module';

mainOf({ service: 'audit', version: PLATFORM_VERSION, module: AuditModule, migrations });
