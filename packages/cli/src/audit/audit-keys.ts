import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { AUDIT_CHECKPOINT_SIGNING_KEY, type AuditSigningKey, auditSigningKeySchema } from '@strongroom/contracts';
import { createLogger, createSecretsProvider, isSecretsError } from '@strongroom/platform';
import { CliError } from '../commands/cli-command';

/**
 * The public keys a verifier trusts for checkpoint signatures: pinned by the operator (a key they
 * hold apart from the trail), never the keys an export ships or the audit service answers with
 * alone. Either key material without a version (base64 of the raw Ed25519 key, as Vault Transit
 * shows it: trusted whatever version a signature names) or versioned keys (the JSON of
 * GET /v1/audit/signing-keys, an array of its keys, or one of them).
 */
export type PinnedAuditKeys = { material: string } | { keys: AuditSigningKey[] };

/** A pinned-key file lists a few key versions: a few kilobytes. */
const PINNED_KEYS_FILE_BYTES_MAX = 1024 * 1024;
/** Key versions a file may list: a key rotated monthly for eight years is under 100. */
export const AUDIT_SIGNING_KEYS_MAX = 100;
const RAW_ED25519_BASE64 = /^[A-Za-z0-9+/]{43}=$/;

/** `--key`: base64 of the raw public key, or a file holding it or the signing-keys JSON. */
export async function pinnedAuditKeysOf(value: string): Promise<PinnedAuditKeys> {
  if (RAW_ED25519_BASE64.test(value)) return { material: value };
  const refused = new CliError(
    'CLI_USAGE',
    `--key ${value} is neither base64 of an Ed25519 public key nor a file holding one (or the JSON of GET /v1/audit/signing-keys)`,
  );
  let text: string;
  try {
    if ((await stat(value)).size > PINNED_KEYS_FILE_BYTES_MAX) throw refused;
    text = (await readFile(value, 'utf8')).trim();
  } catch {
    throw refused;
  }
  if (RAW_ED25519_BASE64.test(text)) return { material: text };
  let content: unknown;
  try {
    content = JSON.parse(text);
  } catch {
    throw refused;
  }
  // `{keys: [...]}` (the signing-keys answer), an array of keys (`'keys' in []` holds: Array.prototype.keys), or one key.
  const listed =
    typeof content === 'object' && content !== null && !Array.isArray(content) && 'keys' in content
      ? (content as { keys: unknown }).keys
      : content;
  const candidates = Array.isArray(listed) ? listed : [listed];
  const keys = candidates.map((key) => auditSigningKeySchema.safeParse(key));
  if (keys.length === 0 || keys.length > AUDIT_SIGNING_KEYS_MAX || keys.some((key) => !key.success)) throw refused;
  return { keys: keys.map((key) => key.data as AuditSigningKey) };
}

/** The keys to check signatures of these key versions with. */
export function signingKeysFor(pinned: PinnedAuditKeys, versions: Iterable<number>): AuditSigningKey[] {
  if ('keys' in pinned) return pinned.keys;
  return [...new Set(versions)].map(
    (version): AuditSigningKey => ({
      name: AUDIT_CHECKPOINT_SIGNING_KEY,
      version,
      algorithm: 'Ed25519' as const,
      publicKey: pinned.material,
    }),
  );
}

/**
 * The checkpoint signing key's public versions from the platform's secrets provider, as the
 * operator reaches it: Vault Transit when VAULT_ADDR is set (the operator's token or AppRole),
 * else the local development stand-in of the audit service (`<state dir>/secrets/audit`).
 * Undefined when there is no such key (nothing was signed yet), with the reason.
 */
export async function auditSigningKeysFromSecrets(
  env: NodeJS.ProcessEnv,
): Promise<{ keys: AuditSigningKey[] } | { missing: string }> {
  const stateDir = join(env.STRONGROOM_STATE_DIR ?? '.strongroom', 'secrets', 'audit');
  const vault = env.VAULT_ADDR !== undefined && env.VAULT_ADDR !== '';
  // The local provider creates its files on first use: reading a directory that is not there would litter.
  if (!vault && !existsSync(stateDir)) {
    return { missing: `no VAULT_ADDR, and no local secrets of the audit service at ${stateDir}` };
  }
  const secrets = createSecretsProvider({
    vaultAddr: env.VAULT_ADDR,
    vaultToken: env.VAULT_TOKEN,
    vaultRoleId: env.VAULT_ROLE_ID,
    vaultSecretId: env.VAULT_SECRET_ID,
    nodeEnv: env.NODE_ENV,
    stateDir,
    logger: createLogger({ service: 'strongroom-cli', level: 'warn', destination: process.stderr }),
  });
  try {
    const versions = await secrets.publicKeys(AUDIT_CHECKPOINT_SIGNING_KEY);
    return {
      keys: versions
        .map(
          (key): AuditSigningKey => ({
            name: AUDIT_CHECKPOINT_SIGNING_KEY,
            version: key.version,
            algorithm: 'Ed25519' as const,
            publicKey: key.publicKey,
          }),
        )
        .sort((a, b) => a.version - b.version),
    };
  } catch (error) {
    if (isSecretsError(error) && error.code === 'NOT_FOUND')
      return { missing: `the secrets provider holds no ${AUDIT_CHECKPOINT_SIGNING_KEY} key` };
    throw error;
  }
}
