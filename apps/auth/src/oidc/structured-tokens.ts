import { ACCESS_TOKEN_ALGORITHMS, type AccessTokenClaims, accessTokenClaimsSchema } from '@strongroom/contracts';
import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from 'jose';

export interface StructuredTokenOptions {
  issuer: string;
  audience: string;
  /** The public keys tokens may be signed with (auth's own ring, no bus round trip). */
  publicJwks: () => Promise<JSONWebKeySet>;
  /** The denylist every service keeps (fed by evt.auth.v1.tokens.revoked). */
  isRevoked: (claims: AccessTokenClaims) => boolean;
}

const KEY_SET_TTL_MS = 60_000;

/** What RFC 7662 §2.2 answers for a token that is not active: nothing else, so nothing leaks. */
export const INACTIVE = { active: false } as const;

export type IntrospectionResponse =
  | typeof INACTIVE
  | ({ active: true; token_type: 'Bearer'; client_id?: string } & Omit<AccessTokenClaims, 'client_id'>);

/**
 * Introspection and revocation of our JWT access tokens. oidc-provider refuses both for
 * structured tokens (it keeps no state for them); we answer from the signature, the claims and
 * the revocation list, after oidc-provider has authenticated the calling client.
 */
export class StructuredTokens {
  private keys: { resolver: ReturnType<typeof createLocalJWKSet>; fetchedAtMs: number } | undefined;

  constructor(private readonly options: StructuredTokenOptions) {}

  /**
   * The key set, re-read at most once a minute: the ring publishes a key ten minutes before it
   * signs (PUBLISH_LEAD_SECONDS), so a minute-old set always has every key a token can name.
   */
  private async keySet() {
    if (this.keys === undefined || Date.now() - this.keys.fetchedAtMs > KEY_SET_TTL_MS) {
      this.keys = { resolver: createLocalJWKSet(await this.options.publicJwks()), fetchedAtMs: Date.now() };
    }
    return this.keys.resolver;
  }

  /** The verified claims of one of our access tokens, or undefined (forged, expired, another issuer). */
  async claimsOf(token: string): Promise<AccessTokenClaims | undefined> {
    try {
      const { payload } = await jwtVerify(token, await this.keySet(), {
        issuer: this.options.issuer,
        audience: this.options.audience,
        algorithms: [...ACCESS_TOKEN_ALGORITHMS],
        typ: 'at+jwt',
        requiredClaims: ['exp', 'iat', 'jti', 'sub'],
      });
      const claims = accessTokenClaimsSchema.safeParse(payload);
      return claims.success ? claims.data : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * RFC 7662: active only for a valid, unrevoked token of the caller's own tenant and
   * environment (a client never learns about another tenant's tokens).
   */
  async introspect(token: string, caller: { tenantId: string; environment: string }): Promise<IntrospectionResponse> {
    const claims = await this.claimsOf(token);
    if (claims === undefined || this.options.isRevoked(claims)) return INACTIVE;
    if (claims.tenant_id !== caller.tenantId || claims.env !== caller.environment) return INACTIVE;
    return { active: true, token_type: 'Bearer', ...claims };
  }

  /** The token to revoke, when the caller may revoke it: only the client it was issued to (RFC 7009 §2.1). */
  async revocable(token: string, callerClientId: string): Promise<AccessTokenClaims | undefined> {
    const claims = await this.claimsOf(token);
    if (claims === undefined || claims.client_id !== callerClientId) return undefined;
    return claims;
  }
}
