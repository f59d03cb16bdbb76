import { Inject, Injectable } from '@nestjs/common';
import {
  canonicalJson,
  LEDGER_EXPORT_SIGNING_KEY,
  type LedgerExportManifest,
  type LedgerExportSigningKey,
} from '@strongroom/contracts';
import { PlatformError, SERVICE_RESOURCES, type ServiceResources, TransitSigningKey } from '@strongroom/platform';

/** A signed manifest: its exact bytes (manifest.json), the Transit signature and the key to check it with. */
export interface SignedManifest {
  bytes: Buffer;
  signature: string;
  signingKey: LedgerExportSigningKey;
}

/** Signs manifests with the platform key, never holding the private key (Vault Transit, or the local stand-in). */
@Injectable()
export class ExportSigner {
  private readonly key: TransitSigningKey;

  constructor(@Inject(SERVICE_RESOURCES) resources: Pick<ServiceResources, 'secrets'>) {
    this.key = new TransitSigningKey(resources.secrets, LEDGER_EXPORT_SIGNING_KEY);
  }

  async sign(manifest: LedgerExportManifest): Promise<SignedManifest> {
    const bytes = Buffer.from(canonicalJson(manifest), 'utf8');
    const { signature, version } = await this.key.sign(bytes);
    const signingKey = (await this.publicKeys()).find((key) => key.version === version);
    if (signingKey === undefined) throw PlatformError.internal('The export signing key version has no public key');
    return { bytes, signature, signingKey };
  }

  /** Every version of the signing key, oldest first: a signature of any version stays checkable. */
  async publicKeys(): Promise<LedgerExportSigningKey[]> {
    return (await this.key.publicKeys()).map((key) => ({
      name: LEDGER_EXPORT_SIGNING_KEY,
      version: key.version,
      algorithm: 'Ed25519' as const,
      publicKey: key.publicKey,
    }));
  }
}
