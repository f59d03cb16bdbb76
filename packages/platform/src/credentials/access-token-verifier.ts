import { createHash, type KeyObject } from 'node:crypto';
import { ACCESS_TOKEN_ALGORITHMS, accessTokenClaimsSchema } from '@strongroom/contracts';
import { createDecoder, createVerifier, TokenError } from 'fast-jwt';
import { PlatformError } from '../errors/platform-error';
import { type JwksCache, UnknownSigningKeyError } from './jwks-cache';
import { type Principal, principalOf } from './principal';
import type { RevocationList } from './revocation-list';

export interface AccessTokenVerifierOptions {
  /** The gateway's public base URL (the OIDC issuer). */
  issuer: string;
  /** This platform's API audience. */
  audience: string;
  jwks: JwksCache;
  revocations: RevocationList;
  clockToleranceSeconds?: number;
  /** Verified tokens remembered (by SHA-256 of the token) so a client's repeated calls skip the signature check. */
  cacheEntriesMax?: number;
}

const CLOCK_TOLERANCE_SECONDS_DEFAULT = 5;
const CACHE_ENTRIES_MAX_DEFAULT = 10_000;
// A JWT longer than this is not one of ours; refusing early bounds the work an attacker can cause.
const TOKEN_LENGTH_MAX = 8_192;
const BEARER = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/;

/**
 * Verifies the caller's access token in every service (zero trust: the gateway is not
 * believed blindly): signature against the auth service's keys with an algorithm allowlist,
 * issuer, audience, expiry, the claims' shape, and the revocation list. Every failure is the
 * same UNAUTHENTICATED answer, so a caller learns nothing about which check failed.
 */
export class AccessTokenVerifier {
  // Insertion-ordered, oldest evicted first. Expiry and revocation are checked on every hit,
  // so the cache never extends what a token may do.
  private readonly verified = new Map<string, Principal>();

  // One fast-jwt verifier per published key, bound to that key's own algorithm: fast-jwt verifies
  // with node:crypto on the calling thread (~50k RS256/s a core here, about twice WebCrypto's
  // round trip through the thread pool), and a prepared key is not parsed again per token.
  private readonly verifiers = new WeakMap<KeyObject, (token: string) => unknown>();
  private readonly decodeHeader = createDecoder({ complete: true, checkTyp: 'at+jwt' });

  constructor(private readonly options: AccessTokenVerifierOptions) {}

  async verify(authorization: string | undefined): Promise<Principal> {
    const token =
      authorization !== undefined && authorization.length <= TOKEN_LENGTH_MAX
        ? BEARER.exec(authorization)?.[1]
        : undefined;
    if (token === undefined) throw PlatformError.unauthenticated();
    const cacheKey = createHash('sha256').update(token).digest('base64url');
    const principal = this.verified.get(cacheKey) ?? (await this.verifySignedToken(token, cacheKey));
    const toleranceMs = (this.options.clockToleranceSeconds ?? CLOCK_TOLERANCE_SECONDS_DEFAULT) * 1000;
    if (principal.expiresAt.getTime() + toleranceMs <= Date.now()) {
      this.verified.delete(cacheKey);
      throw PlatformError.unauthenticated();
    }
    if (this.options.revocations.isRevoked(principal)) throw PlatformError.unauthenticated();
    return principal;
  }

  private async verifySignedToken(token: string, cacheKey: string): Promise<Principal> {
    let payload: unknown;
    try {
      const { header } = this.decodeHeader(token) as { header: { kid?: unknown; alg?: unknown } };
      const key = await this.options.jwks.keyFor(header);
      payload = this.verifierFor(key, header.alg as (typeof ACCESS_TOKEN_ALGORITHMS)[number])(token);
    } catch (error) {
      // A JWKS that could not be fetched (auth unreachable) is not the caller's fault: not a 401.
      if (error instanceof PlatformError) throw error;
      if (error instanceof TokenError || error instanceof UnknownSigningKeyError || error instanceof TypeError)
        throw PlatformError.unauthenticated();
      throw error;
    }
    const claims = accessTokenClaimsSchema.safeParse(payload);
    if (!claims.success) throw PlatformError.unauthenticated();
    const principal = principalOf(claims.data);
    if (this.verified.size >= (this.options.cacheEntriesMax ?? CACHE_ENTRIES_MAX_DEFAULT)) {
      const oldest = this.verified.keys().next();
      if (!oldest.done) this.verified.delete(oldest.value);
    }
    this.verified.set(cacheKey, principal);
    return principal;
  }

  private verifierFor(key: KeyObject, alg: (typeof ACCESS_TOKEN_ALGORITHMS)[number]): (token: string) => unknown {
    let verify = this.verifiers.get(key);
    if (verify === undefined) {
      verify = createVerifier({
        key: key.export({ type: 'spki', format: 'pem' }).toString(),
        // The key's own algorithm only (JwksCache matched it against the published `alg`).
        algorithms: [alg],
        allowedIss: this.options.issuer,
        allowedAud: this.options.audience,
        checkTyp: 'at+jwt',
        requiredClaims: ['exp', 'iat', 'jti', 'sub'],
        clockTolerance: (this.options.clockToleranceSeconds ?? CLOCK_TOLERANCE_SECONDS_DEFAULT) * 1000,
        cache: false,
      }) as (token: string) => unknown;
      this.verifiers.set(key, verify);
    }
    return verify;
  }
}
