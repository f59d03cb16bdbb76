import { createHmac } from 'node:crypto';
import type { KvSecrets } from '../secrets/secrets-provider';
import { isCardNumber, normaliseCardNumber } from './card-number';
import { CryptoError } from './crypto-error';
import type { DataKeyOwner } from './data-key-scope';
import { dataKeyScope } from './data-key-scope';
import type { EnvelopeEncryption } from './envelope-encryption';
import { VersionedSecretKeys } from './versioned-secret-keys';

export const TOKENIZATION_KEY_PATH_DEFAULT = 'platform/tokenization';
export const TOKEN_KINDS = ['card_number', 'national_id'] as const;
export type TokenKind = (typeof TOKEN_KINDS)[number];

// Versions looked up when searching by value: tokens made before this many key rotations are not found.
const LOOKUP_VERSIONS_MAX = 5;
const NATIONAL_ID = /^[A-Z0-9]{4,32}$/;
const TOKEN = /^tk1\.(card_number|national_id)\.([1-9][0-9]{0,8})\.([A-Za-z0-9_-]{43})$/;

export interface TokenizedValue {
  /** Deterministic for (tenant, kind, value): the lookup key, e.g. a unique index. */
  token: string;
  /** The normalised value, envelope-encrypted under the owner's data key. */
  ciphertext: string;
  /** Kept in clear for display (`•••• 4242`). */
  last4: string;
}

export interface TokenizeInput extends DataKeyOwner {
  kind: TokenKind;
  value: string;
}

/**
 * Tokenization of PII (DESIGN "Secrets and keys"; seed 003: card numbers and national IDs,
 * "PII encrypted with customer-specific keys"): an HMAC token for lookups, domain-separated by
 * kind and tenant so the same number gives unrelated tokens elsewhere; the value itself
 * envelope-encrypted; last4 for display.
 */
export class Tokenizer {
  private readonly keys: VersionedSecretKeys;

  constructor(
    secrets: KvSecrets,
    private readonly envelope: EnvelopeEncryption,
    options: { path?: string; cacheTtlSeconds?: number } = {},
  ) {
    this.keys = new VersionedSecretKeys(secrets, options.path ?? TOKENIZATION_KEY_PATH_DEFAULT, options);
  }

  async tokenize(input: TokenizeInput): Promise<TokenizedValue> {
    const normalised = normaliseTokenValue(input.kind, input.value);
    const { version, key } = await this.keys.currentKey();
    return {
      token: tokenOf(key, version, input, normalised),
      ciphertext: await this.envelope.encrypt({ ...owner(input), purpose: `token:${input.kind}` }, normalised),
      last4: normalised.slice(-4),
    };
  }

  /** Tokens of the value under the current and recent key versions, newest first, for `WHERE token IN (...)`. */
  async lookupTokens(input: TokenizeInput): Promise<string[]> {
    const normalised = normaliseTokenValue(input.kind, input.value);
    const { version: current } = await this.keys.currentKey();
    const tokens: string[] = [];
    for (let version = current; version >= 1 && version > current - LOOKUP_VERSIONS_MAX; version -= 1) {
      const key = await this.keys.keyVersion(version);
      if (key !== null) tokens.push(tokenOf(key, version, input, normalised));
    }
    return tokens;
  }

  async detokenize(input: DataKeyOwner & { kind: TokenKind; ciphertext: string }): Promise<string> {
    const plaintext = await this.envelope.decrypt(
      { ...owner(input), purpose: `token:${input.kind}` },
      input.ciphertext,
    );
    return plaintext.toString('utf8');
  }

  rotateKey(): Promise<{ version: number }> {
    return this.keys.rotate().then(({ version }) => ({ version }));
  }
}

/** Card numbers: spaces and dashes dropped, 12-19 digits, Luhn-valid. National IDs: separators dropped, upper-cased. */
export function normaliseTokenValue(kind: TokenKind, value: string): string {
  if (kind === 'card_number') {
    const digits = normaliseCardNumber(value);
    if (!isCardNumber(digits)) throw CryptoError.invalidInput('Not a valid card number', { kind });
    return digits;
  }
  const id = value
    .normalize('NFKC')
    .replace(/[\s.\-/]/g, '')
    .toUpperCase();
  if (!NATIONAL_ID.test(id)) throw CryptoError.invalidInput('Not a valid national id', { kind });
  return id;
}

export function parseToken(token: string): { kind: TokenKind; keyVersion: number } | null {
  const match = TOKEN.exec(token);
  return match === null ? null : { kind: match[1] as TokenKind, keyVersion: Number(match[2]) };
}

function tokenOf(key: Buffer, version: number, input: TokenizeInput, normalised: string): string {
  // Domain separation: format, kind and tenant, NUL-separated, precede the value.
  const scope = dataKeyScope({ tenantId: input.tenantId });
  const mac = createHmac('sha256', key).update(`tk1\0${input.kind}\0${scope}\0`).update(normalised).digest();
  return `tk1.${input.kind}.${version}.${mac.toString('base64url')}`;
}

function owner(input: DataKeyOwner): DataKeyOwner {
  return input.customerId === undefined
    ? { tenantId: input.tenantId }
    : { tenantId: input.tenantId, customerId: input.customerId };
}
