import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { isPlatformError, NO_RESPONDERS_REASON, PlatformError } from '@strongroom/platform';
import type { CallerCredential } from '../api/api-credentials';
import { credentialKeyOf } from '../rate-limits/rate-limit-policy';

/** draft-ietf-httpapi-idempotency-key-header: the request header, and ours saying an answer is a replay. */
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';
export const IDEMPOTENT_REPLAYED_HEADER = 'idempotent-replayed';

/** How long a key is remembered (and so how long a retry can be answered from it). */
export const IDEMPOTENCY_KEY_TTL_SECONDS = 24 * 60 * 60;

/** 1–255 printable ASCII characters (space to tilde): a UUID, a ULID, or the client's own scheme. */
const KEY_PATTERN = /^[\x20-\x7e]{1,255}$/;

/** The Idempotency-Key of a request: undefined when absent; a malformed or repeated one is refused. */
export function idempotencyKeyOf(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (typeof header !== 'string' || !KEY_PATTERN.test(header))
    throw PlatformError.validation('Idempotency-Key must be one value of 1 to 255 printable ASCII characters', {
      header: 'Idempotency-Key',
    });
  return header;
}

/**
 * Who a key belongs to: the tenant, the credential within it (as rate limits count it), its
 * environment and its subject, so two clients — or two users of one client — choosing the same
 * key never see each other's requests (a stored answer may hold a secret shown once).
 */
export interface IdempotencyScope {
  tenantId: string;
  credential: string;
  key: string;
}

export function idempotencyScopeOf(caller: CallerCredential, key: string): IdempotencyScope {
  const { principal } = caller;
  const credential = `${credentialKeyOf(caller)}/${principal.environment}/${principal.subject}`;
  return { tenantId: principal.tenantId, credential, key };
}

/** The record's id: a hash, so the store never holds the key that opens the stored response. */
export function keyHashOf(scope: IdempotencyScope): Buffer {
  return digest('strongroom.idempotency.id.v1', scope);
}

/** What "the same request" means: same method, path and query, and the same body bytes. */
export function requestFingerprintOf(method: string, url: string, body: Buffer): Buffer {
  return createHash('sha256').update(`${method} ${url}\n`).update(createHash('sha256').update(body).digest()).digest();
}

export interface StoredResponse {
  status: number;
  /** The JSON body as sent (empty for a response without one). */
  body: string;
}

/**
 * AES-256-GCM under a key derived from the Idempotency-Key: a stored response (a new API key's
 * secret, say) is readable only by whoever presents the key again, not by whoever reads the table.
 */
export function sealResponse(scope: IdempotencyScope, response: StoredResponse): Buffer {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', digest('strongroom.idempotency.seal.v1', scope), iv);
  const plaintext = Buffer.from(JSON.stringify(response), 'utf8');
  const sealed = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), sealed]);
}

export function openResponse(scope: IdempotencyScope, sealed: Buffer): StoredResponse {
  const decipher = createDecipheriv(
    'aes-256-gcm',
    digest('strongroom.idempotency.seal.v1', scope),
    sealed.subarray(0, 12),
  );
  decipher.setAuthTag(sealed.subarray(12, 28));
  const plaintext = Buffer.concat([decipher.update(sealed.subarray(28)), decipher.final()]);
  return JSON.parse(plaintext.toString('utf8')) as StoredResponse;
}

function digest(purpose: string, scope: IdempotencyScope): Buffer {
  // Length-prefixed fields: no two scopes serialise alike.
  const hash = createHash('sha256').update(purpose);
  for (const field of [scope.tenantId, scope.credential, scope.key]) {
    hash.update(`${Buffer.byteLength(field)}:`).update(field);
  }
  return hash.digest();
}

/**
 * What a failed forward means for its key ("nothing applied twice, nothing committed lost"):
 * - `release`: certainly nothing ran (no service was listening, or a retryable refusal): a retry
 *   with the key may run it;
 * - `keep`: a service answered (a 4xx is its decision on this body) or may have run it (TIMEOUT,
 *   a dropped connection, a 5xx after it started): the answer is stored and replayed, never re-run.
 */
export function settlementOfFailure(error: unknown, options: { retrySafe?: boolean } = {}): 'release' | 'keep' {
  if (!isPlatformError(error)) return 'keep';
  // Never sent: larger than the bus carries.
  if (error.code === 'PAYLOAD_TOO_LARGE') return 'release';
  // Outcome unknown, but running the request again cannot apply it twice (the ledger's transfer ids).
  if (error.code === 'TIMEOUT' && options.retrySafe === true) return 'release';
  // BusClient's NATS "no responders": the request reached no subscriber at all.
  if (error.code === 'UNAVAILABLE' && error.details?.reason === NO_RESPONDERS_REASON) return 'release';
  // A refusal to try now, not an answer about this request.
  if (error.code === 'RATE_LIMITED') return 'release';
  return 'keep';
}
