import { Inject, Injectable } from '@nestjs/common';
import { isSecretsError, SERVICE_RESOURCES, type SecretsProvider, type ServiceResources } from '@strongroom/platform';
import { rotate, rotationDue, type SigningKey } from './signing-key-ring';

/** The key ring lives in the secrets provider (Vault KV in production), never in the database. */
export const SIGNING_KEYS_SECRET_PATH = 'auth/token-signing-keys';

/**
 * Loads the ring, rotating it when due (or creating the first key), with Vault's check-and-set
 * so two auth replicas rotating at once cannot both win.
 */
@Injectable()
export class SigningKeyStore {
  private readonly secrets: SecretsProvider;

  constructor(@Inject(SERVICE_RESOURCES) resources: ServiceResources) {
    this.secrets = resources.secrets;
  }

  async keys(now = new Date()): Promise<SigningKey[]> {
    const stored = await this.secrets.readSecret(SIGNING_KEYS_SECRET_PATH);
    const keys = stored ? (JSON.parse(stored.data.keyring ?? '[]') as SigningKey[]) : [];
    if (!rotationDue(keys, now)) return keys;
    const rotated = await rotate(keys, now);
    try {
      await this.secrets.writeSecret(
        SIGNING_KEYS_SECRET_PATH,
        { keyring: JSON.stringify(rotated) },
        { cas: stored?.version ?? 0 },
      );
      return rotated;
    } catch (error) {
      // Another replica rotated first: use its ring.
      if (isSecretsError(error) && error.code === 'CAS_MISMATCH') return this.keys(now);
      throw error;
    }
  }
}
