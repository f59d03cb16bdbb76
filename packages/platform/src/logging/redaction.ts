/**
 * Key names whose values never reach a log line, whatever object they sit in.
 * Matching is by exact key (pino cannot match case-insensitively), so each spelling we use
 * or receive (camelCase in our DTOs, snake_case in OAuth2 forms, lower-case HTTP headers) is listed.
 */
export const REDACTED_KEYS: readonly string[] = [
  // Credentials
  'password',
  'newPassword',
  'currentPassword',
  'passwordHash',
  'pin',
  'newPin',
  'secret',
  'clientSecret',
  'client_secret',
  'secretId',
  'secret_id',
  'token',
  'accessToken',
  'access_token',
  'refreshToken',
  'refresh_token',
  'idToken',
  'id_token',
  'apiKey',
  'api_key',
  'x-api-key',
  'authorization',
  'Authorization',
  'cookie',
  'set-cookie',
  'privateKey',
  'private_key',
  'otp',
  'totp',
  'totpSecret',
  'mfaSecret',
  'recoveryCodes',
  'recovery_codes',
  'codeVerifier',
  'code_verifier',
  // Payment card data (PCI DSS 3.3/3.4: PAN and CVV never stored or logged in clear)
  'pan',
  'cardNumber',
  'card_number',
  'cvv',
  'cvc',
  // Identity documents and personal data held by KYC
  'nationalId',
  'national_id',
  'ssn',
  'taxId',
  'tax_id',
  'passportNumber',
  'documentNumber',
  'dateOfBirth',
  'date_of_birth',
];

/**
 * Deepest nesting at which a key is redacted: 0 is the log call's own fields, 3 reaches
 * `err.config.headers.authorization`. Each level multiplies the paths pino checks per line,
 * so deeper payloads must be logged through a serializer that picks fields, not whole.
 */
export const REDACTION_DEPTH_MAX = 4;

export const REDACTION_CENSOR = '[REDACTED]';

/** pino `redact.paths` for every key at depths 0..REDACTION_DEPTH_MAX (`k`, `*.k`, `*.*.k`, ...). */
export function redactionPaths(keys: readonly string[] = REDACTED_KEYS, depthMax = REDACTION_DEPTH_MAX): string[] {
  const paths: string[] = [];
  for (let depth = 0; depth <= depthMax; depth++) {
    const prefix = '*.'.repeat(depth);
    for (const key of keys) {
      // Bracket notation for keys that are not identifiers (`x-api-key`, `set-cookie`).
      paths.push(/^[A-Za-z_$][\w$]*$/.test(key) ? `${prefix}${key}` : `${prefix.slice(0, -1)}["${key}"]`);
    }
  }
  return paths;
}

const FREE_TEXT_PATTERNS: ReadonlyArray<readonly [RegExp, string]> = [
  // RFC 6750 bearer tokens and Basic credentials in a copied header.
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi, `$1 ${REDACTION_CENSOR}`],
  // JWS compact serialisation (RFC 7515): base64url header starting `eyJ` ("{"), payload, signature.
  [/\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, REDACTION_CENSOR],
  // Credentials in a URL (postgres://user:password@host), as drivers print them in errors.
  [/\b([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]+:)[^@/\s]+@/gi, `$1${REDACTION_CENSOR}@`],
  // Strongroom API keys keep their prefix so a reader still knows which environment was used.
  [/\b(sr_(?:live|test)_)[A-Za-z0-9_-]+/g, `$1${REDACTION_CENSOR}`],
  // 12+ digits, optionally grouped by spaces or dashes: card numbers (PAN) and national ids.
  // Epoch-millisecond timestamps match too; we accept losing those from free text.
  [/(?<![A-Za-z0-9-])\d(?:[ -]?\d){11,}(?![A-Za-z0-9])/g, REDACTION_CENSOR],
];

/** Masks secrets that slipped into free text (messages, error strings), where keys cannot help. */
export function redactString(text: string): string {
  let result = text;
  for (const [pattern, replacement] of FREE_TEXT_PATTERNS) result = result.replace(pattern, replacement);
  return result;
}
