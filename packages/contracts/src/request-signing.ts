import { createHash, createHmac, randomBytes } from 'node:crypto';

/**
 * Signed API requests (seed 003: "HMAC-SHA256 signed requests with rotating API keys"). The one
 * definition of the canonical request, shared by the SDK (signRequest), the gateway and the auth
 * service, so a client signs exactly what the server verifies. node:crypto only.
 */

/** Header names, lower-case as Node and HTTP/2 deliver them (RFC 9110 §5.1: case-insensitive). */
export const REQUEST_SIGNING_HEADERS = {
  apiKey: 'x-api-key',
  timestamp: 'x-strongroom-timestamp',
  nonce: 'x-strongroom-nonce',
  contentSha256: 'x-strongroom-content-sha256',
  signature: 'x-strongroom-signature',
} as const;
export type RequestSigningHeader = (typeof REQUEST_SIGNING_HEADERS)[keyof typeof REQUEST_SIGNING_HEADERS];

/** First line of every canonical request: a signature for another scheme or version never verifies. */
export const REQUEST_SIGNATURE_SCHEME = 'SR1-HMAC-SHA256';
/** Seed 003 / issue 4: a timestamp more than 300 s from the server's clock is refused. */
export const REQUEST_TIMESTAMP_SKEW_SECONDS_MAX = 300;
export const REQUEST_NONCE_BYTES_MIN = 16;
export const REQUEST_TARGET_LENGTH_MAX = 8192;
export const REQUEST_QUERY_PARAMETERS_MAX = 256;

/** Public part of an API key (`sr_live_<keyId>_…`); the canonical request names it. */
export const API_KEY_ID_PATTERN = /^[0-9A-Za-z]{12}$/;
/** A key's signing secret, shown once at creation: a prefix so secret scanners recognise it. */
export const SIGNING_SECRET_PATTERN = /^sr_sig_[0-9A-Za-z]{43}$/;
// Unsigned decimal seconds without leading zeros: one spelling per instant.
export const REQUEST_TIMESTAMP_PATTERN = /^(0|[1-9][0-9]{0,11})$/;
// 22 base64url characters carry 16 bytes; 128 bounds what the nonce store keeps.
export const REQUEST_NONCE_PATTERN = /^[A-Za-z0-9_-]{22,128}$/;
export const CONTENT_SHA256_PATTERN = /^[0-9a-f]{64}$/;
export const REQUEST_SIGNATURE_PATTERN = /^[0-9a-f]{64}$/;

/** Why a signed request was refused: the `reason` of the problem+json, stable for SDKs. */
export const REQUEST_SIGNING_FAILURES = {
  MISSING_HEADER: 'A request-signing header is missing',
  MALFORMED_HEADER: 'A request-signing header is malformed',
  MALFORMED_TARGET: 'The request path or query is not valid percent-encoding (RFC 3986)',
  STALE_TIMESTAMP: `The request timestamp is more than ${REQUEST_TIMESTAMP_SKEW_SECONDS_MAX} s from the server clock`,
  REPLAYED_NONCE: 'The request nonce was already used with this key',
  BODY_DIGEST_MISMATCH: 'The body does not match its SHA-256 digest header',
  BAD_SIGNATURE: 'The request signature does not verify',
} as const;
export type RequestSigningFailure = keyof typeof REQUEST_SIGNING_FAILURES;

/** Messages are fixed per code and details name headers, never values: nothing secret leaks. */
export class RequestSigningError extends Error {
  override readonly name = 'RequestSigningError';

  constructor(
    readonly code: RequestSigningFailure,
    readonly details: { header?: RequestSigningHeader } = {},
  ) {
    super(REQUEST_SIGNING_FAILURES[code]);
  }
}

export interface CanonicalRequestInput {
  /** Upper-case token, as on the request line (RFC 9110 §9.1: methods are case-sensitive). */
  method: string;
  /** The request target as sent (origin-form, RFC 9112 §3.2.1): path and optional `?query`. */
  target: string;
  timestamp: string;
  nonce: string;
  contentSha256: string;
  keyId: string;
}

/**
 * Canonical request, one element per line: scheme, method, path, query, timestamp, nonce,
 * body digest, keyId. Every element is validated or percent-encoded so none holds a newline:
 * the lines cannot be shifted into one another.
 */
export function canonicalRequest(input: CanonicalRequestInput): string {
  if (!/^[A-Z]{1,16}$/.test(input.method)) throw new RequestSigningError('MALFORMED_TARGET');
  requirePattern(input.timestamp, REQUEST_TIMESTAMP_PATTERN, REQUEST_SIGNING_HEADERS.timestamp);
  requirePattern(input.nonce, REQUEST_NONCE_PATTERN, REQUEST_SIGNING_HEADERS.nonce);
  requirePattern(input.contentSha256, CONTENT_SHA256_PATTERN, REQUEST_SIGNING_HEADERS.contentSha256);
  requirePattern(input.keyId, API_KEY_ID_PATTERN, REQUEST_SIGNING_HEADERS.apiKey);
  const { path, query } = splitRequestTarget(input.target);
  return [
    REQUEST_SIGNATURE_SCHEME,
    input.method,
    canonicalPath(path),
    canonicalQuery(query),
    input.timestamp,
    input.nonce,
    input.contentSha256,
    input.keyId,
  ].join('\n');
}

/** Origin-form only; a fragment is never sent, so one in the target is malformed. */
export function splitRequestTarget(target: string): { path: string; query: string } {
  if (target.length > REQUEST_TARGET_LENGTH_MAX || !target.startsWith('/') || target.includes('#')) {
    throw new RequestSigningError('MALFORMED_TARGET');
  }
  const mark = target.indexOf('?');
  return mark === -1 ? { path: target, query: '' } : { path: target.slice(0, mark), query: target.slice(mark + 1) };
}

/**
 * Each segment percent-decoded to bytes and re-encoded (RFC 3986 §2.3: only unreserved characters
 * stay literal, §2.1: upper-case hex), so `/a~b`, `/a%7eb` and `/a%7Eb` are one path. `%2F` stays
 * apart from `/`, and dot segments are refused: routers and proxies disagree about both.
 */
export function canonicalPath(path: string): string {
  if (!path.startsWith('/')) throw new RequestSigningError('MALFORMED_TARGET');
  return path
    .split('/')
    .map((segment) => {
      const bytes = percentDecode(segment, false);
      const decoded = bytes.toString('latin1');
      if (decoded === '.' || decoded === '..') throw new RequestSigningError('MALFORMED_TARGET');
      return percentEncode(bytes);
    })
    .join('/');
}

/**
 * `name=value` pairs, decoded as application/x-www-form-urlencoded (`+` is a space, as the
 * gateway's parser and URLSearchParams read it: otherwise `+` and `%2B` would sign alike yet
 * mean different values), re-encoded per RFC 3986 and sorted by name. The sort is stable: the
 * order of repeated names (`id=2&id=1`) is meaning, so it stays signed.
 */
export function canonicalQuery(query: string): string {
  const pairs = query.split('&').filter((pair) => pair !== '');
  if (pairs.length > REQUEST_QUERY_PARAMETERS_MAX) throw new RequestSigningError('MALFORMED_TARGET');
  return pairs
    .map((pair) => {
      const equals = pair.indexOf('=');
      const name = equals === -1 ? pair : pair.slice(0, equals);
      const value = equals === -1 ? '' : pair.slice(equals + 1);
      return { name: percentEncode(percentDecode(name, true)), value: percentEncode(percentDecode(value, true)) };
    })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map(({ name, value }) => `${name}=${value}`)
    .join('&');
}

export function sha256Hex(body: Buffer | Uint8Array | string): string {
  return createHash('sha256').update(body).digest('hex');
}

/** HMAC-SHA256 keyed by the signing secret's UTF-8 bytes, lower-case hex (as `openssl dgst -hmac`). */
export function requestSignature(signingSecret: string, canonical: string): string {
  return createHmac('sha256', signingSecret).update(canonical, 'utf8').digest('hex');
}

export interface SignRequestInput {
  method: string;
  /** Absolute URL or origin-form target (`/v1/x?y=1`); the fragment is dropped, as fetch does. */
  url: string | URL;
  /** The exact bytes sent; a string is sent as UTF-8. */
  body?: Buffer | Uint8Array | string;
  keyId: string;
  signingSecret: string;
  now?: Date;
  /** For tests only: a fresh random nonce is the default and the safe choice. */
  nonce?: string;
}

export type SignedRequestHeaders = Record<Exclude<RequestSigningHeader, typeof REQUEST_SIGNING_HEADERS.apiKey>, string>;

/** The request-signing headers for one request; the caller adds `x-api-key` itself. */
export function signRequest(input: SignRequestInput): SignedRequestHeaders {
  if (!SIGNING_SECRET_PATTERN.test(input.signingSecret)) throw new RequestSigningError('MALFORMED_HEADER');
  const url = new URL(input.url, 'http://signing.invalid');
  const timestamp = String(Math.floor((input.now ?? new Date()).getTime() / 1000));
  const nonce = input.nonce ?? randomBytes(REQUEST_NONCE_BYTES_MIN).toString('base64url');
  const contentSha256 = sha256Hex(input.body ?? '');
  const canonical = canonicalRequest({
    method: input.method.toUpperCase(),
    target: `${url.pathname}${url.search}`,
    timestamp,
    nonce,
    contentSha256,
    keyId: input.keyId,
  });
  return {
    [REQUEST_SIGNING_HEADERS.timestamp]: timestamp,
    [REQUEST_SIGNING_HEADERS.nonce]: nonce,
    [REQUEST_SIGNING_HEADERS.contentSha256]: contentSha256,
    [REQUEST_SIGNING_HEADERS.signature]: requestSignature(input.signingSecret, canonical),
  };
}

function requirePattern(value: string, pattern: RegExp, header: RequestSigningHeader): void {
  if (!pattern.test(value)) throw new RequestSigningError('MALFORMED_HEADER', { header });
}

const UNRESERVED = /[A-Za-z0-9\-._~]/;

function percentEncode(bytes: Buffer): string {
  let out = '';
  for (const byte of bytes) {
    const char = String.fromCharCode(byte);
    out += byte < 0x80 && UNRESERVED.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** To bytes, not text: `%C3` alone is kept as the byte it names, never replaced by U+FFFD. */
function percentDecode(text: string, plusIsSpace: boolean): Buffer {
  const bytes: number[] = [];
  for (let index = 0; index < text.length; index += 1) {
    const char = text[index] as string;
    if (char === '%') {
      const hex = text.slice(index + 1, index + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) throw new RequestSigningError('MALFORMED_TARGET');
      bytes.push(Number.parseInt(hex, 16));
      index += 2;
    } else if (plusIsSpace && char === '+') {
      bytes.push(0x20);
    } else {
      // Raw non-ASCII (a client that did not encode): its UTF-8 bytes, as WHATWG URL would send them.
      const codePoint = text.codePointAt(index) as number;
      const literal = String.fromCodePoint(codePoint);
      bytes.push(...Buffer.from(literal, 'utf8'));
      index += literal.length - 1;
    }
  }
  return Buffer.from(bytes);
}
