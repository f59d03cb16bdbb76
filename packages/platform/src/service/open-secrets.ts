import { join } from 'node:path';
import type { ServiceName } from '@strongroom/contracts';
import type { Logger } from 'pino';
import type { CommonConfig } from '../config/service-config';
import { createSecretsProvider } from '../secrets/create-secrets-provider';
import type { SecretsProvider } from '../secrets/secrets-provider';

/**
 * The service's secrets: Vault (its own AppRole or token) when VAULT_ADDR is set, else local
 * encrypted files in a directory of its own (refused when NODE_ENV=production).
 */
export function openSecrets(service: ServiceName, config: CommonConfig, logger: Logger): SecretsProvider {
  return createSecretsProvider({
    vaultAddr: config.VAULT_ADDR,
    vaultToken: config.VAULT_TOKEN,
    vaultRoleId: config.VAULT_ROLE_ID,
    vaultSecretId: config.VAULT_SECRET_ID,
    nodeEnv: config.NODE_ENV,
    stateDir: join(config.STRONGROOM_STATE_DIR, 'secrets', service),
    logger,
  });
}
