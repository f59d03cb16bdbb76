import { PLATFORM_VERSION } from '@strongroom/contracts';
import { mainOf } from '@strongroom/platform';
import { migrations } from '../migrations';
import { AuthModule } from './auth.module';
import { localCredentialSources } from './service-tokens/local-credential-sources';

mainOf({
  service: 'auth',
  version: PLATFORM_VERSION,
  module: AuthModule,
  migrations,
  credentialSources: localCredentialSources,
});
