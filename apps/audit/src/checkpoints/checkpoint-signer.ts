import { Inject, Injectable } from '@nestjs/common';
import {
  AUDIT_CHECKPOINT_FORMAT,
  AUDIT_CHECKPOINT_SIGNING_KEY,
  type AuditCheckpoint,
  type AuditCheckpointStatement,
  type AuditSigningKey,
  canonicalJson,
} from '@strongroom/contracts';
import {
  isSecretsError,
  PlatformError,
  SERVICE_RESOURCES,
  type ServiceResources,
  type TransitSecrets,
} from '@strongroom/platform';

/** What a checkpoint states: this tenant's chain had this head at this seq. */
export interface CheckpointSubject {
  tenantId: string;
  seq: number;
  headHash: string;
}

/**
 * Signs checkpoint statements with the platform's Ed25519 key (Vault Transit, or the local
 * stand-in), never holding the private key. The signed bytes are canonicalJson(statement), so a
 * third party holding the statement, the signature and the public key checks it offline.
 */
@Injectable()
export class CheckpointSigner {
  private readonly transit: TransitSecrets;
  private ready: Promise<void> | undefined;

  constructor(@Inject(SERVICE_RESOURCES) resources: Pick<ServiceResources, 'secrets'>) {
    this.transit = resources.secrets;
  }

  async sign(subject: CheckpointSubject, createdAt: Date): Promise<AuditCheckpoint> {
    await this.ensureKey();
    const statement: AuditCheckpointStatement = {
      format: AUDIT_CHECKPOINT_FORMAT,
      tenantId: subject.tenantId,
      seq: subject.seq,
      headHash: subject.headHash,
      createdAt: createdAt.toISOString(),
    };
    const signature = await this.transit.sign(AUDIT_CHECKPOINT_SIGNING_KEY, Buffer.from(canonicalJson(statement)));
    const keyVersion = Number(/^[a-z]+:v([0-9]+):/.exec(signature)?.[1]);
    if (!Number.isSafeInteger(keyVersion) || keyVersion < 1) {
      throw PlatformError.internal('The checkpoint signature names no key version');
    }
    return { statement, signature, keyVersion };
  }

  /** Every version of the signing key, oldest first: a checkpoint of any version stays checkable. */
  async publicKeys(): Promise<AuditSigningKey[]> {
    await this.ensureKey();
    const keys = await this.transit.publicKeys(AUDIT_CHECKPOINT_SIGNING_KEY);
    return keys
      .map(
        (key): AuditSigningKey => ({
          name: AUDIT_CHECKPOINT_SIGNING_KEY,
          version: key.version,
          algorithm: 'Ed25519',
          publicKey: key.publicKey,
        }),
      )
      .sort((a, b) => a.version - b.version);
  }

  /**
   * Creates the key on first use where the backend lets the service (the local provider); under
   * Vault the policy only lets it sign with and read the key, which infra/vault/init.sh created.
   */
  private ensureKey(): Promise<void> {
    this.ready ??= this.transit
      .keyInfo(AUDIT_CHECKPOINT_SIGNING_KEY)
      .catch((error: unknown) => {
        if (isSecretsError(error) && error.code === 'NOT_FOUND')
          return this.transit.ensureKey(AUDIT_CHECKPOINT_SIGNING_KEY, 'ed25519');
        throw error;
      })
      .then((info) => {
        if (info.type !== 'ed25519')
          throw PlatformError.internal(`${AUDIT_CHECKPOINT_SIGNING_KEY} is not an Ed25519 key`);
      })
      .catch((error: unknown) => {
        this.ready = undefined;
        throw error;
      });
    return this.ready;
  }
}
