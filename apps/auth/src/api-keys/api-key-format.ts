import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { API_KEY_PREFIXES, type Environment } from '@strongroom/contracts';
import { ApiKeyError } from './api-key-errors';

/**
 * `sr_test_<keyId>_<secret><checksum>` (sandbox) and `sr_live_…` (production), after GitHub's
 * token format: a prefix secret scanners match, a public keyId to look the key up by, 43 base62
 * characters of secret (256 bits), and a CRC32 checksum that tells a typo or a random string from
 * a key without a database round trip. The checksum is not a MAC: anyone can compute it.
 */
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
export const API_KEY_ID_LENGTH = 12;
export const API_KEY_SECRET_LENGTH = 43;
const CHECKSUM_LENGTH = 6;
export const API_KEY_LENGTH =
  `${API_KEY_PREFIXES.sandbox}_`.length + API_KEY_ID_LENGTH + 1 + API_KEY_SECRET_LENGTH + CHECKSUM_LENGTH;

const API_KEY_PATTERN = /^sr_(test|live)_([0-9A-Za-z]{12})_([0-9A-Za-z]{43})([0-9A-Za-z]{6})$/;

export interface ParsedApiKey {
  environment: Environment;
  keyId: string;
  /**
   * What is hashed and stored: prefix, keyId and secret together, so a stored hash only verifies
   * for the environment and keyId it was issued with, whatever prefix a caller writes.
   */
  hashedMaterial: string;
}

export function formatApiKey(environment: Environment, keyId: string, secret: string): string {
  const body = `${API_KEY_PREFIXES[environment]}_${keyId}_${secret}`;
  const key = `${body}${checksumOf(body)}`;
  // Assert the positive space: whatever we format, we parse back.
  if (!API_KEY_PATTERN.test(key)) throw new ApiKeyError('INVALID_INPUT', { field: 'keyId or secret' });
  return key;
}

/**
 * Strict: exact length, alphabet and checksum, then the environment. Only the prefix's environment
 * is compared here (it is public), so a sandbox key on production is refused before any lookup.
 */
export function parseApiKey(presented: string, expectedEnvironment?: Environment): ParsedApiKey {
  // Bounded before the regex: a megabyte header never reaches it.
  const match = presented.length === API_KEY_LENGTH ? API_KEY_PATTERN.exec(presented) : null;
  if (match === null) throw new ApiKeyError('MALFORMED');
  const [, prefix, keyId, secret, checksum] = match as unknown as [string, string, string, string, string];
  const body = `sr_${prefix}_${keyId}_${secret}`;
  if (checksumOf(body) !== checksum) throw new ApiKeyError('CHECKSUM_MISMATCH');
  const environment: Environment = prefix === 'live' ? 'production' : 'sandbox';
  if (expectedEnvironment !== undefined && environment !== expectedEnvironment) {
    throw new ApiKeyError('WRONG_ENVIRONMENT', {
      keyEnvironment: environment,
      resourceEnvironment: expectedEnvironment,
    });
  }
  return { environment, keyId, hashedMaterial: body };
}

/** A new key: a fresh keyId and secret. The caller shows `apiKey` once and stores only its hash. */
export function generateApiKey(environment: Environment): { apiKey: string; parsed: ParsedApiKey } {
  const apiKey = formatApiKey(environment, randomBase62(API_KEY_ID_LENGTH), randomBase62(API_KEY_SECRET_LENGTH));
  return { apiKey, parsed: parseApiKey(apiKey, environment) };
}

/** The request-signing secret (contracts' SIGNING_SECRET_PATTERN), separate from the key's own secret. */
export function generateSigningSecret(): string {
  return `sr_sig_${randomBase62(API_KEY_SECRET_LENGTH)}`;
}

function checksumOf(body: string): string {
  return toBase62(crc32(body), CHECKSUM_LENGTH);
}

function toBase62(value: number, length: number): string {
  let out = '';
  let rest = value;
  for (let index = 0; index < length; index += 1) {
    out = ALPHABET[rest % 62] + out;
    rest = Math.floor(rest / 62);
  }
  return out;
}

/** Uniform base62: bytes ≥ 248 are rejected, since 256 is not a multiple of 62 (no modulo bias). */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte >= 248) continue;
      out += ALPHABET[byte % 62];
      if (out.length === length) break;
    }
  }
  return out;
}
