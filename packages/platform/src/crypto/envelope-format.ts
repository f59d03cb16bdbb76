import { CryptoError } from './crypto-error';

export const ENVELOPE_FORMAT = 'sr1';
export const IV_BYTES = 12;
export const TAG_BYTES = 16;

export interface EnvelopeParts {
  dataKeyId: string;
  iv: Buffer;
  tag: Buffer;
  body: Buffer;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const B64URL = /^[A-Za-z0-9_-]*$/;

/** `sr1.<dataKeyId>.<iv>.<tag>.<ciphertext>`, binary parts base64url (RFC 4648 §5), no padding. */
export function formatEnvelope(parts: EnvelopeParts): string {
  return [ENVELOPE_FORMAT, parts.dataKeyId, b64(parts.iv), b64(parts.tag), b64(parts.body)].join('.');
}

export function parseEnvelope(ciphertext: string): EnvelopeParts {
  const fields = ciphertext.split('.');
  if (fields.length !== 5 || fields[0] !== ENVELOPE_FORMAT) throw CryptoError.malformed('ciphertext');
  const [, dataKeyId, iv, tag, body] = fields as [string, string, string, string, string];
  if (!UUID.test(dataKeyId) || ![iv, tag, body].every((f) => B64URL.test(f))) throw CryptoError.malformed('ciphertext');
  const parts = { dataKeyId, iv: unb64(iv), tag: unb64(tag), body: unb64(body) };
  // Canonical encodings only, so a ciphertext has one spelling (no silently ignored trailing bits).
  if (
    parts.iv.length !== IV_BYTES ||
    parts.tag.length !== TAG_BYTES ||
    b64(parts.body) !== body ||
    b64(parts.iv) !== iv ||
    b64(parts.tag) !== tag
  ) {
    throw CryptoError.malformed('ciphertext');
  }
  return parts;
}

function b64(bytes: Buffer): string {
  return bytes.toString('base64url');
}

function unb64(text: string): Buffer {
  return Buffer.from(text, 'base64url');
}
