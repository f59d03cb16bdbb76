import {
  CONTENT_SHA256_PATTERN,
  canonicalRequest,
  type Environment,
  REQUEST_NONCE_PATTERN,
  REQUEST_SIGNATURE_PATTERN,
  REQUEST_SIGNING_HEADERS,
  REQUEST_TIMESTAMP_PATTERN,
  REQUEST_TIMESTAMP_SKEW_SECONDS_MAX,
  RequestSigningError,
  type RequestSigningHeader,
  requestSignature,
  sha256Hex,
} from '@strongroom/contracts';
import { constantTimeEqual } from '@strongroom/platform';
import { parseApiKey } from './api-key-format';
import type { ApiKeyPrincipal, ApiKeyService } from './api-key-service';
import type { NonceStore } from './nonce-store';

/** A request as the gateway received it, with the SHA-256 of its exact body bytes instead of the body. */
export interface DigestedSignedRequest {
  method: string;
  /** Origin-form request target as sent (Fastify `request.raw.url`), path and query. */
  target: string;
  /** Lower-case names, as Node delivers them. */
  headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  /** Lower-case hex SHA-256 of the body bytes received, computed by whoever holds the body (the gateway). */
  bodySha256: string;
  /** The environment of the resource addressed (sandbox or production host/tenant). */
  environment: Environment;
}

/** A request as the gateway received it: the raw target and the exact body bytes, before any parsing. */
export interface SignedRequest extends Omit<DigestedSignedRequest, 'bodySha256'> {
  body: Buffer;
}

export interface SignedRequestVerifierOptions {
  keys: Pick<ApiKeyService, 'authenticateForSigning'>;
  nonces: NonceStore;
  now?: () => Date;
}

/**
 * Verifies a signed request (seed 003, issue 4) and returns the key's principal. Every refusal is
 * a RequestSigningError or ApiKeyError with its own code. Cheap public checks come first; the
 * nonce is remembered last, once the signature verified, so unsigned traffic cannot fill the
 * store or burn a legitimate client's nonce.
 */
export class SignedRequestVerifier {
  private readonly now: () => Date;

  constructor(private readonly options: SignedRequestVerifierOptions) {
    this.now = options.now ?? (() => new Date());
  }

  async verify(request: SignedRequest): Promise<ApiKeyPrincipal> {
    const { body, ...rest } = request;
    return this.verifyDigested({ ...rest, bodySha256: sha256Hex(body) });
  }

  /**
   * As verify, for a caller that sends the body's digest instead of the body (the gateway over
   * the bus: a body never crosses it twice). The digest is compared with the signed header.
   */
  async verifyDigested(request: DigestedSignedRequest): Promise<ApiKeyPrincipal> {
    const apiKey = singleHeader(request, REQUEST_SIGNING_HEADERS.apiKey);
    const timestamp = singleHeader(request, REQUEST_SIGNING_HEADERS.timestamp);
    const nonce = singleHeader(request, REQUEST_SIGNING_HEADERS.nonce);
    const contentSha256 = singleHeader(request, REQUEST_SIGNING_HEADERS.contentSha256);
    const signature = singleHeader(request, REQUEST_SIGNING_HEADERS.signature);
    requireFormat(timestamp, REQUEST_TIMESTAMP_PATTERN, REQUEST_SIGNING_HEADERS.timestamp);
    requireFormat(nonce, REQUEST_NONCE_PATTERN, REQUEST_SIGNING_HEADERS.nonce);
    requireFormat(contentSha256, CONTENT_SHA256_PATTERN, REQUEST_SIGNING_HEADERS.contentSha256);
    requireFormat(signature, REQUEST_SIGNATURE_PATTERN, REQUEST_SIGNING_HEADERS.signature);
    // Public facts only (format, checksum, environment prefix): refused before any lookup.
    const { keyId } = parseApiKey(apiKey, request.environment);

    const timestampSeconds = Number(timestamp);
    // Whole seconds on both sides, so the ±300 s boundary is exact whatever the milliseconds.
    const skewSeconds = Math.abs(Math.floor(this.now().getTime() / 1000) - timestampSeconds);
    if (!(skewSeconds <= REQUEST_TIMESTAMP_SKEW_SECONDS_MAX)) throw new RequestSigningError('STALE_TIMESTAMP');
    if (!CONTENT_SHA256_PATTERN.test(request.bodySha256) || !constantTimeEqual(request.bodySha256, contentSha256)) {
      throw new RequestSigningError('BODY_DIGEST_MISMATCH');
    }
    const canonical = canonicalRequest({
      method: request.method,
      target: request.target,
      timestamp,
      nonce,
      contentSha256,
      keyId,
    });

    const { principal, signingSecret } = await this.options.keys.authenticateForSigning(apiKey, request.environment);
    if (!constantTimeEqual(requestSignature(signingSecret, canonical), signature)) {
      throw new RequestSigningError('BAD_SIGNATURE');
    }
    // A replay is only possible while the timestamp is inside the window: remember the nonce that long.
    const expiresAt = new Date((timestampSeconds + REQUEST_TIMESTAMP_SKEW_SECONDS_MAX) * 1000);
    if (!(await this.options.nonces.rememberOnce(keyId, nonce, expiresAt))) {
      throw new RequestSigningError('REPLAYED_NONCE');
    }
    return principal;
  }
}

/** A repeated signing header is ambiguous (which one was signed?), so it is malformed. */
function singleHeader(request: DigestedSignedRequest, header: RequestSigningHeader): string {
  const value = request.headers[header];
  if (value === undefined || value === '' || (Array.isArray(value) && value.length === 0)) {
    throw new RequestSigningError('MISSING_HEADER', { header });
  }
  if (typeof value !== 'string') throw new RequestSigningError('MALFORMED_HEADER', { header });
  return value;
}

function requireFormat(value: string, pattern: RegExp, header: RequestSigningHeader): void {
  if (!pattern.test(value)) throw new RequestSigningError('MALFORMED_HEADER', { header });
}
