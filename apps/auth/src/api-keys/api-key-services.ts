import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { dataSourceOf, SERVICE_RESOURCES, type ServiceResources } from '@strongroom/platform';
import type { DataSource } from 'typeorm';
import { apiKeySecretHasher, signingSecretEncryption } from './api-key-crypto';
import { PgNonceStore } from './api-key-nonces.repository';
import type { ApiKeySecretHasher, SigningSecretEncryption } from './api-key-record';
import { ApiKeyService } from './api-key-service';
import { PgApiKeyRepository } from './api-keys.repository';
import { SignedRequestVerifier } from './signed-request-verification';

const NONCE_CLEANUP_INTERVAL_MS = 60_000;

/**
 * The API-key domain wired to this process's database and secrets: a service per tenant for key
 * management (its repository confined to that tenant by RLS), and one signed-request verifier
 * for authentication, which starts from a keyId alone. Expired nonces are swept once a minute.
 */
@Injectable()
export class ApiKeyServices implements OnModuleInit, OnModuleDestroy {
  readonly verifier: SignedRequestVerifier;
  private readonly dataSource: DataSource;
  private readonly hasher: ApiKeySecretHasher;
  private readonly encryption: SigningSecretEncryption;
  private readonly nonces: PgNonceStore;
  private timer: NodeJS.Timeout | undefined;

  constructor(@Inject(SERVICE_RESOURCES) private readonly resources: ServiceResources) {
    this.dataSource = dataSourceOf(resources);
    this.hasher = apiKeySecretHasher(resources.secrets);
    this.encryption = signingSecretEncryption(resources.secrets, this.dataSource);
    this.nonces = new PgNonceStore(this.dataSource);
    const authentication = new ApiKeyService({
      repository: PgApiKeyRepository.forAuthentication(this.dataSource),
      hasher: this.hasher,
      encryption: this.encryption,
    });
    this.verifier = new SignedRequestVerifier({ keys: authentication, nonces: this.nonces });
  }

  forTenant(tenantId: string): ApiKeyService {
    return new ApiKeyService({
      repository: PgApiKeyRepository.forTenant(this.dataSource, tenantId),
      hasher: this.hasher,
      encryption: this.encryption,
    });
  }

  onModuleInit(): void {
    this.timer = setInterval(() => {
      this.nonces
        .deleteExpired()
        .catch((error: unknown) => this.resources.logger.warn({ err: error }, 'api key nonce cleanup'));
    }, NONCE_CLEANUP_INTERVAL_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }
}
