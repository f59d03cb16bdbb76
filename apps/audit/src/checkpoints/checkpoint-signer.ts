import { Inject, Injectable } from '@nestjs/common';
import {
  AUDIT_CHECKPOINT_FORMAT,
  AUDIT_CHECKPOINT_SIGNING_KEY,
  type AuditCheckpoint,
  type AuditCheckpointStatement,
  type AuditSigningKey,
  canonicalJson,
} from '@strongroom/contracts';
import { SERVICE_RESOURCES, type ServiceResources, TransitSigningKey } from '@strongroom/platform';

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
  private readonly key: TransitSigningKey;

  constructor(@Inject(SERVICE_RESOURCES) resources: Pick<ServiceResources, 'secrets'>) {
    this.key = new TransitSigningKey(resources.secrets, AUDIT_CHECKPOINT_SIGNING_KEY);
  }

  async sign(subject: CheckpointSubject, createdAt: Date): Promise<AuditCheckpoint> {
    const statement: AuditCheckpointStatement = {
      format: AUDIT_CHECKPOINT_FORMAT,
      tenantId: subject.tenantId,
      seq: subject.seq,
      headHash: subject.headHash,
      createdAt: createdAt.toISOString(),
    };
    const { signature, version } = await this.key.sign(Buffer.from(canonicalJson(statement)));
    return { statement, signature, keyVersion: version };
  }

  /** Every version of the signing key, oldest first: a checkpoint of any version stays checkable. */
  async publicKeys(): Promise<AuditSigningKey[]> {
    return (await this.key.publicKeys()).map((key) => ({
      name: AUDIT_CHECKPOINT_SIGNING_KEY,
      version: key.version,
      algorithm: 'Ed25519' as const,
      publicKey: key.publicKey,
    }));
  }
}
