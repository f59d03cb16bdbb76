import type { Logger } from 'pino';
import { LocalSecretsProvider } from './local-secrets-provider';
import { SecretsError } from './secrets-error';
import type { SecretsProvider } from './secrets-provider';
import { VaultSecretsProvider } from './vault-secrets-provider';

export interface SecretsProviderConfig {
  /** VAULT_ADDR: when set, Vault is used; otherwise the local development provider. */
  vaultAddr?: string;
  vaultToken?: string;
  vaultRoleId?: string;
  vaultSecretId?: string;
  kvMount?: string;
  transitMount?: string;
  vaultRequestTimeoutMs?: number;
  nodeEnv: string | undefined;
  /** Local provider only. */
  stateDir?: string;
  logger: Logger;
}

/** DESIGN "Secrets and keys": Vault when VAULT_ADDR is set, else local (refused in production). */
export function createSecretsProvider(config: SecretsProviderConfig): SecretsProvider {
  if (config.vaultAddr === undefined || config.vaultAddr === '') {
    return new LocalSecretsProvider({ stateDir: config.stateDir, logger: config.logger, nodeEnv: config.nodeEnv });
  }
  const hasRoleId = config.vaultRoleId !== undefined && config.vaultRoleId !== '';
  const hasSecretId = config.vaultSecretId !== undefined && config.vaultSecretId !== '';
  if (hasRoleId !== hasSecretId) {
    throw SecretsError.invalid('An AppRole login needs both VAULT_ROLE_ID and VAULT_SECRET_ID');
  }
  const token = config.vaultToken === '' ? undefined : config.vaultToken;
  return new VaultSecretsProvider({
    addr: config.vaultAddr,
    // An AppRole, when configured, wins over a token: it is the production path.
    ...(hasRoleId ? { appRole: { roleId: config.vaultRoleId!, secretId: config.vaultSecretId! } } : { token }),
    kvMount: config.kvMount,
    transitMount: config.transitMount,
    requestTimeoutMs: config.vaultRequestTimeoutMs,
  });
}
