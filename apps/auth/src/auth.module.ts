import { Module } from '@nestjs/common';
import { healthControllerFor } from '@strongroom/platform';
import { JwksHandler } from './signing-keys/jwks.handler';
import { SigningKeyStore } from './signing-keys/signing-key-store';
import { UsersHandler } from './users/users.handler';
import { UsersRepository } from './users/users.repository';

/** The auth service: users with argon2id passwords today; OAuth2/OIDC, MFA and keys arrive with their issue. */
@Module({
  controllers: [healthControllerFor('auth'), UsersHandler, JwksHandler],
  providers: [UsersRepository, SigningKeyStore],
})
export class AuthModule {}
