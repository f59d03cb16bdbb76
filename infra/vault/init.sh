#!/bin/sh
# One-shot set-up of the development Vault (docker-compose service `vault-init`):
#   - KV v2 at secret/ and Transit at transit/
#   - per service: Transit keys named <service>-*, a least-privilege policy, an AppRole
# Idempotent: safe to re-run against the same Vault.
#
# Least privilege: a service reads only secret/data/<service>/* and may only use Transit keys whose
# name starts with "<service>-" (never create, rotate, export or delete them: that is an operator's job).
#
# DEVELOPMENT ONLY: role_id/secret_id are fixed values from the environment so compose can hand
# them to the containers. In production secret_ids are issued per instance (response-wrapped, short
# TTL) or replaced by the Kubernetes auth method; never reuse these values.
set -eu

: "${VAULT_ADDR:?}" "${VAULT_TOKEN:?}"
SERVICES="gateway auth tenants ledger kyc consent audit"
DEV_SECRET_ID_PREFIX="${STRONGROOM_VAULT_DEV_SECRET_ID_PREFIX:-strongroom-dev-secret}"

log() { echo "vault-init: $*"; }

mounted() { vault secrets list -format=json | grep -q "\"$1/\""; }

# ---- engines. Dev mode already mounts KV v2 at secret/; a real server does not.
if ! mounted secret; then vault secrets enable -path=secret -version=2 kv; fi
if ! mounted transit; then vault secrets enable -path=transit transit; fi
if ! vault auth list -format=json | grep -q '"approle/"'; then vault auth enable approle; fi

# ---- Transit keys. Creating an existing key is a no-op in Vault, so re-runs are safe.
create_key() { # name type
  # Never exportable: private material stays inside Vault, services only call the key.
  vault write "transit/keys/$1" type="$2" exportable=false allow_plaintext_backup=false >/dev/null
  log "transit key $1 ($2)"
}
for service in $SERVICES; do
  # Envelope encryption (datakey), field encryption and HMAC tokenization of the service's data.
  create_key "${service}-data" aes256-gcm96
done
# Access and ID tokens (JWS ES256), published in the JWKS from transit/keys/auth-token-signing.
create_key auth-token-signing ecdsa-p256
# Signed audit checkpoints over the hash chain (issue 7); the audit service may sign with it and read its
# public keys (its policy's audit-* paths), never create, rotate or export it.
create_key audit-checkpoint-signing ed25519
# Signed ledger export manifests (seed 001: quarterly audit exports); the ledger may sign, never create.
create_key ledger-export-signing ed25519

# ---- policies and AppRoles
policy_of() { # service
  cat <<HCL
# Policy of the $1 service: its own secrets, read-only; its own Transit keys, use only.
path "secret/data/$1/*" {
  capabilities = ["read"]
}
path "transit/encrypt/$1-*" {
  capabilities = ["update"]
}
path "transit/decrypt/$1-*" {
  capabilities = ["update"]
}
path "transit/rewrap/$1-*" {
  capabilities = ["update"]
}
path "transit/datakey/plaintext/$1-*" {
  capabilities = ["update"]
}
path "transit/datakey/wrapped/$1-*" {
  capabilities = ["update"]
}
path "transit/hmac/$1-*" {
  capabilities = ["update"]
}
path "transit/sign/$1-*" {
  capabilities = ["update"]
}
path "transit/verify/$1-*" {
  capabilities = ["update"]
}
# Public keys and version numbers (JWKS, rewrap decisions); never the private material.
path "transit/keys/$1-*" {
  capabilities = ["read"]
}
HCL
}

for service in $SERVICES; do
  policy_of "$service" | vault policy write "strongroom-$service" - >/dev/null
  vault write "auth/approle/role/$service" \
    token_policies="strongroom-$service" \
    token_type=service \
    token_ttl=1h \
    token_max_ttl=24h \
    secret_id_ttl=0 \
    secret_id_num_uses=0 \
    bind_secret_id=true >/dev/null
  vault write "auth/approle/role/$service/role-id" role_id="strongroom-$service" >/dev/null
  secret_id="${DEV_SECRET_ID_PREFIX}-${service}"
  # A custom secret_id cannot be registered twice: drop the previous one first on a re-run.
  vault write "auth/approle/role/$service/secret-id/destroy" secret_id="$secret_id" >/dev/null 2>&1 || true
  vault write "auth/approle/role/$service/custom-secret-id" secret_id="$secret_id" >/dev/null
  # Marks the service's secret path as provisioned; services add their own secrets under it.
  vault kv put -mount=secret "$service/provisioning" created_by=vault-init >/dev/null
  log "policy strongroom-$service, approle $service (role_id strongroom-$service)"
done

log "done"
