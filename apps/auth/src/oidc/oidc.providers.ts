import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit, type Provider } from '@nestjs/common';
import { tokensRevoked } from '@strongroom/contracts';
import {
  dataSourceOf,
  enqueueEvent,
  PepperedHasher,
  SERVICE_RESOURCES,
  type ServiceResources,
  VersionedSecretKeys,
  withoutTenant,
} from '@strongroom/platform';
import { publishedKeys } from '../signing-keys/signing-key-ring';
import { SigningKeyStore } from '../signing-keys/signing-key-store';
import { CLIENT_SECRET_HASH_DOMAIN, OidcProviderHost } from './oidc-provider-host';
import { OidcStore } from './oidc-store';
import { StructuredTokens } from './structured-tokens';

const OIDC_COOKIE_KEY_PATH = 'auth/oidc-cookie-key';
const CLEANUP_INTERVAL_MS = 60_000;

/** The provider host of this process, wired to the platform's database, secrets, keys and revocation list. */
export const oidcProviders: Provider[] = [
  {
    provide: OidcStore,
    inject: [SERVICE_RESOURCES],
    useFactory: (resources: ServiceResources) =>
      new OidcStore({ dataSource: dataSourceOf(resources), secrets: resources.secrets }),
  },
  {
    provide: OidcProviderHost,
    inject: [SERVICE_RESOURCES, SigningKeyStore, OidcStore],
    useFactory: (resources: ServiceResources, signingKeys: SigningKeyStore, store: OidcStore) => {
      const { config } = resources;
      const dataSource = dataSourceOf(resources);
      return new OidcProviderHost({
        issuer: config.PUBLIC_URL,
        audience: config.TOKEN_AUDIENCE,
        store,
        signingKeys: () => signingKeys.keys(),
        clientSecrets: new PepperedHasher(resources.secrets, { domain: CLIENT_SECRET_HASH_DOMAIN }),
        cookieKeys: new VersionedSecretKeys(resources.secrets, OIDC_COOKIE_KEY_PATH),
        structuredTokens: new StructuredTokens({
          issuer: config.PUBLIC_URL,
          audience: config.TOKEN_AUDIENCE,
          publicJwks: async () => {
            const now = new Date();
            return { keys: publishedKeys(await signingKeys.keys(now), now) };
          },
          isRevoked: (claims) => resources.credentials?.isRevoked(claims) ?? false,
        }),
        revokeAccessToken: (claims) =>
          withoutTenant(dataSource, (manager) =>
            enqueueEvent(
              manager,
              tokensRevoked,
              {
                scope: 'token',
                tokenId: claims.jti,
                revokedAt: new Date().toISOString(),
                expiresAt: new Date(claims.exp * 1000).toISOString(),
              },
              { tenantId: claims.tenant_id },
            ),
          ).then(() => undefined),
        logger: resources.logger,
      });
    },
  },
];

/** Expired codes, grants and sessions leave in small batches (DESIGN "Growth stays bounded"). */
@Injectable()
export class OidcStoreCleanup implements OnModuleInit, OnModuleDestroy {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: OidcStore,
    @Inject(SERVICE_RESOURCES) private readonly resources: ServiceResources,
  ) {}

  onModuleInit(): void {
    this.timer = setInterval(() => {
      this.store.deleteExpired().catch((error: unknown) => this.resources.logger.warn({ err: error }, 'oidc cleanup'));
    }, CLEANUP_INTERVAL_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }
}
