/** A KV secret: string fields only, so a value can never be a nested structure we forget to redact. */
export type SecretData = Record<string, string>;

export interface SecretVersion {
  data: SecretData;
  version: number;
}

export interface SecretVersionMetadata {
  version: number;
  createdTime: string;
  /** Empty while the version is live (Vault KV v2 semantics). */
  deletionTime: string;
  destroyed: boolean;
}

export interface WriteSecretOptions {
  /**
   * Check-and-set (Vault KV v2): write only if the current version equals `cas`; `0` means
   * "only if the secret does not exist yet". A mismatch throws SecretsError CAS_MISMATCH.
   */
  cas?: number;
}

/** Versioned key/value secrets, Vault KV v2 semantics. */
export interface KvSecrets {
  /** The latest (or the given) version, or null when the path (or that version) does not exist. */
  readSecret(path: string, options?: { version?: number }): Promise<SecretVersion | null>;
  writeSecret(path: string, data: SecretData, options?: WriteSecretOptions): Promise<{ version: number }>;
  /** Every version's metadata, oldest first; empty when the path does not exist. */
  secretVersions(path: string): Promise<SecretVersionMetadata[]>;
}

export type TransitKeyType = 'aes256-gcm96' | 'ed25519';

export interface TransitKeyInfo {
  name: string;
  type: TransitKeyType;
  latestVersion: number;
}

export interface TransitPublicKey {
  version: number;
  /** The raw 32-byte Ed25519 public key, base64 (as Vault's `GET transit/keys/:name` returns it). */
  publicKey: string;
  createdTime: string;
}

export interface TransitCipherOptions {
  /**
   * Bytes the ciphertext is bound to (AES-GCM associated data; Vault's `associated_data`,
   * Vault >= 1.13): decrypting or rewrapping needs the same bytes. Not a key-derivation context.
   */
  context?: Buffer;
}

/**
 * Key wrapping and signing, Vault Transit semantics. Ciphertexts and signatures carry the key
 * version (`vault:v3:...`, `local:v3:...`) so rotation never strands data.
 */
export interface TransitSecrets {
  /** Creates the key when missing; refuses (INVALID) when it exists with another type. */
  ensureKey(name: string, type: TransitKeyType): Promise<TransitKeyInfo>;
  keyInfo(name: string): Promise<TransitKeyInfo>;
  rotateKey(name: string): Promise<TransitKeyInfo>;
  encrypt(name: string, plaintext: Buffer, options?: TransitCipherOptions): Promise<string>;
  /** Throws SecretsError INVALID when the ciphertext was altered or the context differs. */
  decrypt(name: string, ciphertext: string, options?: TransitCipherOptions): Promise<Buffer>;
  /** The same plaintext, encrypted under the key's latest version, without it leaving the backend. */
  rewrap(name: string, ciphertext: string, options?: TransitCipherOptions): Promise<string>;
  sign(name: string, data: Buffer): Promise<string>;
  /** False for a wrong, altered or malformed signature; throws only when the backend fails. */
  verify(name: string, data: Buffer, signature: string): Promise<boolean>;
  /** Ed25519 public keys by version, so third parties can verify signatures offline. */
  publicKeys(name: string): Promise<TransitPublicKey[]>;
}

export interface SecretsProvider extends KvSecrets, TransitSecrets {
  readonly kind: 'vault' | 'local';
}
