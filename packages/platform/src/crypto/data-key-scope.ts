import { CryptoError } from './crypto-error';

export interface DataKeyOwner {
  tenantId: string;
  /** Seed 003: "PII encrypted with customer-specific keys": set it for a customer's PII. */
  customerId?: string;
}

export interface EnvelopeContext extends DataKeyOwner {
  /** What the data is (`kyc.document`, `token:card_number`): a ciphertext only decrypts for its purpose. */
  purpose: string;
}

// No `/`, `:` or NUL: scope strings and associated data stay unambiguous.
const IDENTIFIER = /^[A-Za-z0-9._-]{1,128}$/;
const PURPOSE = /^[A-Za-z0-9._:-]{1,128}$/;

/** `tenant:<id>` or `tenant:<id>/customer:<id>`: the unit that owns one chain of data keys. */
export function dataKeyScope(owner: DataKeyOwner): string {
  if (!IDENTIFIER.test(owner.tenantId)) throw CryptoError.invalidInput('tenantId is not a valid identifier');
  if (owner.customerId === undefined) return `tenant:${owner.tenantId}`;
  if (!IDENTIFIER.test(owner.customerId)) throw CryptoError.invalidInput('customerId is not a valid identifier');
  return `tenant:${owner.tenantId}/customer:${owner.customerId}`;
}

export function assertPurpose(purpose: string): void {
  if (!PURPOSE.test(purpose)) throw CryptoError.invalidInput('purpose is not a valid identifier', { purpose });
}
