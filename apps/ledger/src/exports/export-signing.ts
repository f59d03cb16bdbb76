import { Inject, Injectable } from '@nestjs/common';
import {
  canonicalJson,
  LEDGER_EXPORT_SIGNING_KEY,
  type LedgerExportManifest,
  type LedgerExportSigningKey,
} from '@strongroom/contracts';
import {
  isSecretsError,
  PlatformError,
  SERVICE_RESOURCES,
  type ServiceResources,
  type TransitSecrets,
} from '@strongroom/platform';

/** A signed manifest: its exact bytes (manifest.json), the Transit signature and the key to check it with. */
export interface SignedManifest {
  bytes: Buffer;
  signature: string;
  signingKey: LedgerExportSigningKey;
}

/** Signs manifests with the platform key, never holding the private key (Vault Transit, or the local stand-in). */
@Injectable()
export class ExportSigner {
  private readonly transit: TransitSecrets;
  private ready: Promise<void> | undefined;

  constructor(@Inject(SERVICE_RESOURCES) resources: Pick<ServiceResources, 'secrets'>) {
    this.transit = resources.secrets;
  }

  async sign(manifest: LedgerExportManifest): Promise<SignedManifest> {
    await this.ensureKey();
    const bytes = Buffer.from(canonicalJson(manifest), 'utf8');
    const signature = await this.transit.sign(LEDGER_EXPORT_SIGNING_KEY, bytes);
    const version = Number(/^[a-z]+:v([0-9]+):/.exec(signature)?.[1]);
    const signingKey = (await this.publicKeys()).find((key) => key.version === version);
    if (signingKey === undefined) throw PlatformError.internal('The export signing key version has no public key');
    return { bytes, signature, signingKey };
  }

  /** Every version of the signing key, oldest first: a signature of any version stays checkable. */
  async publicKeys(): Promise<LedgerExportSigningKey[]> {
    await this.ensureKey();
    const keys = await this.transit.publicKeys(LEDGER_EXPORT_SIGNING_KEY);
    return keys
      .map((key) => ({
        name: LEDGER_EXPORT_SIGNING_KEY,
        version: key.version,
        algorithm: 'Ed25519' as const,
        publicKey: key.publicKey,
      }))
      .sort((a, b) => a.version - b.version);
  }

  /**
   * Creates the key on first use where the backend lets the ledger (the local provider); under
   * Vault the policy only lets it read the key, which the operator's init script created.
   */
  private ensureKey(): Promise<void> {
    this.ready ??= this.transit
      .keyInfo(LEDGER_EXPORT_SIGNING_KEY)
      .catch((error: unknown) => {
        if (isSecretsError(error) && error.code === 'NOT_FOUND')
          return this.transit.ensureKey(LEDGER_EXPORT_SIGNING_KEY, 'ed25519');
        throw error;
      })
      .then((info) => {
        if (info.type !== 'ed25519') throw PlatformError.internal(`${LEDGER_EXPORT_SIGNING_KEY} is not an Ed25519 key`);
      })
      .catch((error: unknown) => {
        this.ready = undefined;
        throw error;
      });
    return this.ready;
  }
}
