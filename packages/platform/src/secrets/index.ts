export { createSecretsProvider, type SecretsProviderConfig } from './create-secrets-provider';
export {
  KV_VERSIONS_MAX,
  LOCAL_SECRETS_DIR_DEFAULT,
  LocalSecretsProvider,
  type LocalSecretsProviderOptions,
} from './local-secrets-provider';
export { isSecretsError, SecretsError, type SecretsErrorCode } from './secrets-error';
export type {
  KvSecrets,
  SecretData,
  SecretsProvider,
  SecretVersion,
  SecretVersionMetadata,
  TransitCipherOptions,
  TransitKeyInfo,
  TransitKeyType,
  TransitPublicKey,
  TransitSecrets,
  WriteSecretOptions,
} from './secrets-provider';
export { verifyWithPublicKeys } from './transit-format';
export { type SigningKeyVersion, TransitSigningKey } from './transit-signing-key';
export {
  VAULT_REQUEST_TIMEOUT_MS_DEFAULT,
  VaultSecretsProvider,
  type VaultSecretsProviderOptions,
} from './vault-secrets-provider';
