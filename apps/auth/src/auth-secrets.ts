/**
 * Where auth keeps its keys in the secrets provider. Vault's per-service policy
 * (infra/vault/init.sh) lets a service read only `secret/data/<service>/*` and use only Transit
 * keys named `<service>-*`, so auth never shares a pepper or a KEK with another service.
 */
export const AUTH_PEPPER_PATH = 'auth/peppers';
export const AUTH_KEK_NAME = 'auth-kek';
