import { jwksSchema, type PublicJwks } from '@strongroom/contracts';
import { type CryptoKey, createLocalJWKSet, type FlattenedJWSInput, type JWSHeaderParameters } from 'jose';

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

type KeyResolver = (header: JWSHeaderParameters, token: FlattenedJWSInput) => Promise<CryptoKey>;

/**
 * The signing keys of access tokens, cached. A token signed with a key we have not seen (a
 * rotation) refreshes the set once per cool-down; auth publishes a new key before using it, so
 * a verifier normally has it already.
 */
export class JwksCache {
  private resolver: KeyResolver | undefined;
  private fetchedAtMs = Number.NEGATIVE_INFINITY;
  private inFlight: Promise<void> | undefined;
  private readonly now: () => number;

  constructor(private readonly options: JwksCacheOptions) {
    this.now = options.now ?? Date.now;
  }

  /** A jose key resolver for jwtVerify. */
  readonly resolve: KeyResolver = async (header, token) => {
    const ttlMs = (this.options.ttlSeconds ?? TTL_SECONDS_DEFAULT) * 1000;
    if (!this.resolver || this.now() - this.fetchedAtMs > ttlMs) await this.refresh();
    try {
      return await this.resolver!(header, token);
    } catch (error) {
      const cooldownMs = (this.options.refreshCooldownSeconds ?? REFRESH_COOLDOWN_SECONDS_DEFAULT) * 1000;
      if (this.now() - this.fetchedAtMs < cooldownMs) throw error;
      await this.refresh();
      return this.resolver!(header, token);
    }
  };

  private refresh(): Promise<void> {
    this.inFlight ??= (async () => {
      try {
        const jwks = jwksSchema.parse(await this.options.fetchJwks());
        this.resolver = createLocalJWKSet(jwks) as KeyResolver;
        this.fetchedAtMs = this.now();
      } finally {
        this.inFlight = undefined;
      }
    })();
    return this.inFlight;
  }
}
