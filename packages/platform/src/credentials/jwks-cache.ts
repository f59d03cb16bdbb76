import { createPublicKey, type KeyObject } from 'node:crypto';
import { ACCESS_TOKEN_TTL_SECONDS_MAX, jwksSchema, type PublicJwk, type PublicJwks } from '@strongroom/contracts';

export interface JwksCacheOptions {
  /** How the keys are fetched (from the auth service over the bus). */
  fetchJwks: () => Promise<PublicJwks>;
  /** Keys are refreshed at least this often. */
  ttlSeconds?: number;
  /** An unknown `kid` triggers a refresh at most this often, so forged kids cannot flood auth. */
  refreshCooldownSeconds?: number;
  now?: () => number;
}

const TTL_SECONDS_DEFAULT = 300;
const REFRESH_COOLDOWN_SECONDS_DEFAULT = 30;
/**
 * When auth cannot be asked, the last keys fetched keep verifying for this long (the longest
 * access-token lifetime): a short auth outage does not refuse every call of every service.
 * Revocations still arrive through JetStream meanwhile; only new signing keys wait.
 */
const STALE_KEYS_MAX_SECONDS = ACCESS_TOKEN_TTL_SECONDS_MAX;

/** A key the cache does not have, or one published for another algorithm than the token names. */
export class UnknownSigningKeyError extends Error {
  override readonly name = 'UnknownSigningKeyError';
}

interface PublishedKey {
  alg: PublicJwk['alg'];
  key: KeyObject;
}

/**
 * The signing keys of access tokens, cached as parsed public keys by `kid`. A token signed with
 * a key we have not seen (a rotation) refreshes the set once per cool-down; auth publishes a new
 * key before using it, so a verifier normally has it already.
 */
export class JwksCache {
  private keys = new Map<string, PublishedKey>();
  private fetchedAtMs = Number.NEGATIVE_INFINITY;
  /** When a refresh was last tried, successful or not: retries wait out the cool-down. */
  private attemptedAtMs = Number.NEGATIVE_INFINITY;
  private inFlight: Promise<void> | undefined;
  private readonly now: () => number;

  constructor(private readonly options: JwksCacheOptions) {
    this.now = options.now ?? Date.now;
  }

  /** The public key a token's header names, when it is published for that very algorithm. */
  async keyFor(header: { kid?: unknown; alg?: unknown }): Promise<KeyObject> {
    const ttlMs = (this.options.ttlSeconds ?? TTL_SECONDS_DEFAULT) * 1000;
    const cooldownMs = (this.options.refreshCooldownSeconds ?? REFRESH_COOLDOWN_SECONDS_DEFAULT) * 1000;
    if (this.now() - this.fetchedAtMs > ttlMs) await this.refreshOrKeepStale(cooldownMs);
    const found = this.match(header);
    if (found !== undefined) return found;
    if (this.now() - this.attemptedAtMs < cooldownMs) throw new UnknownSigningKeyError('unknown signing key');
    await this.refresh();
    const refreshed = this.match(header);
    if (refreshed === undefined) throw new UnknownSigningKeyError('unknown signing key');
    return refreshed;
  }

  private match(header: { kid?: unknown; alg?: unknown }): KeyObject | undefined {
    const published = typeof header.kid === 'string' ? this.keys.get(header.kid) : undefined;
    // A key is used only for the algorithm it was published for (RFC 7517 §4.4): no confusion.
    return published !== undefined && published.alg === header.alg ? published.key : undefined;
  }

  /** A due refresh; if auth cannot answer, the last keys serve while they may (retried after the cool-down). */
  private async refreshOrKeepStale(cooldownMs: number): Promise<void> {
    const usable = this.keys.size > 0 && this.now() - this.fetchedAtMs <= STALE_KEYS_MAX_SECONDS * 1000;
    if (usable && this.now() - this.attemptedAtMs < cooldownMs) return;
    try {
      await this.refresh();
    } catch (error) {
      if (!usable) throw error;
    }
  }

  private refresh(): Promise<void> {
    this.inFlight ??= (async () => {
      this.attemptedAtMs = this.now();
      try {
        const jwks = jwksSchema.parse(await this.options.fetchJwks());
        const keys = new Map<string, PublishedKey>();
        for (const jwk of jwks.keys) {
          const { alg, kid, use: _use, ...material } = jwk;
          keys.set(kid, {
            alg,
            key: createPublicKey({ key: material as import('node:crypto').JsonWebKey, format: 'jwk' }),
          });
        }
        this.keys = keys;
        this.fetchedAtMs = this.now();
      } finally {
        this.inFlight = undefined;
      }
    })();
    return this.inFlight;
  }
}
