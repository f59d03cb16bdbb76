import { Module } from '@nestjs/common';
import { SigningKeyStore } from '../signing-keys/signing-key-store';
import { ServiceTokenIssuer } from './service-token-issuer';
import { ServiceTokensHandler } from './service-tokens.handler';

/** `auth.v1.service-tokens.issue`: every bus identity's own short-lived access token. */
@Module({
  controllers: [ServiceTokensHandler],
  // SigningKeyStore holds no state (the ring lives in the secrets provider): its own instance here is the same ring.
  providers: [SigningKeyStore, ServiceTokenIssuer],
  exports: [ServiceTokenIssuer],
})
export class ServiceTokensModule {}
