import { Module } from '@nestjs/common';
import { healthControllerFor } from '@strongroom/platform';
import { ApiKeyServices } from './api-keys/api-key-services';
import { ApiKeyTokenIssuer } from './api-keys/api-key-token-issuer';
import { ApiKeysHandler } from './api-keys/api-keys.handler';
import { AuthAuditPublisher } from './auth-audit';
import { CardsHandler } from './cards/cards.handler';
import { cardsProviders } from './cards/cards.providers';
import { ClientsHandler } from './clients/clients.handler';
import { ClientsRepository } from './clients/clients.repository';
import { MembershipsHandler } from './memberships/memberships.handler';
import { MembershipsRepository } from './memberships/memberships.repository';
import { OidcStoreCleanup, oidcProviders } from './oidc/oidc.providers';
import { OidcExchangeHandler } from './oidc/oidc-exchange.handler';
import { TokenRevocationsHandler } from './revocations/token-revocations.handler';
import { TokenRevocationsRepository } from './revocations/token-revocations.repository';
import { CustomRolesRepository } from './roles/custom-roles.repository';
import { RolesHandler } from './roles/roles.handler';
import { ServiceTokensModule } from './service-tokens/service-tokens.module';
import { JwksHandler } from './signing-keys/jwks.handler';
import { SigningKeyStore } from './signing-keys/signing-key-store';
import { TenantPolicies } from './tenant-policies/tenant-policies';
import { TenantSuspensions } from './tenant-policies/tenant-suspensions';
import { UsersHandler } from './users/users.handler';
import { UsersRepository } from './users/users.repository';

/** The auth service: OAuth2/OIDC (oidc-provider), clients, users, roles and memberships, API keys, token-signing keys. */
@Module({
  imports: [ServiceTokensModule],
  controllers: [
    healthControllerFor('auth'),
    UsersHandler,
    JwksHandler,
    OidcExchangeHandler,
    ClientsHandler,
    ApiKeysHandler,
    CardsHandler,
    TokenRevocationsHandler,
    RolesHandler,
    MembershipsHandler,
  ],
  providers: [
    AuthAuditPublisher,
    UsersRepository,
    SigningKeyStore,
    ClientsRepository,
    OidcStoreCleanup,
    ...oidcProviders,
    ApiKeyServices,
    ApiKeyTokenIssuer,
    ...cardsProviders,
    TokenRevocationsRepository,
    TenantPolicies,
    TenantSuspensions,
    CustomRolesRepository,
    MembershipsRepository,
  ],
})
export class AuthModule {}
