import { PlatformError } from '../errors/platform-error';
import { isSecretsError } from './secrets-error';
import type { TransitSecrets } from './secrets-provider';

/** One version of a signing key's public half: base64 of the raw 32-byte Ed25519 key (Transit's form). */
export interface SigningKeyVersion {
  version: number;
  publicKey: string;
}

/**
 * A platform Ed25519 signing key in Transit (ledger export manifests, audit checkpoints): the
 * service signs with it and publishes its public halves, never holding the private key. Created
 * on first use where the backend lets the service (the local provider); under Vault the policy
 * only lets it sign with and read the key, which infra/vault/init.sh created. A backend that is
 * away answers UNAVAILABLE (typed), not an internal error.
 */
export class TransitSigningKey {
  private ready: Promise<void> | undefined;

  constructor(
    private readonly transit: TransitSecrets,
    readonly name: string,
  ) {}

  /** Transit's signature (`vault:v<n>:…` or `local:v<n>:…`) and the key version that made it. */
  async sign(bytes: Buffer): Promise<{ signature: string; version: number }> {
    await this.ensureKey();
    const signature = await this.transit.sign(this.name, bytes).catch(unavailable(this.name));
    const version = Number(/^[a-z]+:v([0-9]+):/.exec(signature)?.[1]);
    if (!Number.isSafeInteger(version) || version < 1) {
      throw PlatformError.internal(`A ${this.name} signature names no key version`);
    }
    return { signature, version };
  }

  /** Every version, oldest first: a signature of any version stays checkable. */
  async publicKeys(): Promise<SigningKeyVersion[]> {
    await this.ensureKey();
    const keys = await this.transit.publicKeys(this.name).catch(unavailable(this.name));
    return keys
      .map((key) => ({ version: key.version, publicKey: key.publicKey }))
      .sort((a, b) => a.version - b.version);
  }

  private ensureKey(): Promise<void> {
    this.ready ??= this.transit
      .keyInfo(this.name)
      .catch((error: unknown) => {
        if (isSecretsError(error) && error.code === 'NOT_FOUND') return this.transit.ensureKey(this.name, 'ed25519');
        throw error;
      })
      .then((info) => {
        if (info.type !== 'ed25519') throw PlatformError.internal(`${this.name} is not an Ed25519 key`);
      })
      .catch((error: unknown) => {
        this.ready = undefined;
        return unavailable(this.name)(error);
      });
    return this.ready;
  }
}

function unavailable(name: string) {
  return (error: unknown): never => {
    if (error instanceof PlatformError) throw error;
    if (isSecretsError(error)) throw PlatformError.unavailable(`The signing key ${name} cannot be used now`);
    throw error;
  };
}
