import type { TokenRevocation } from '@strongroom/contracts';
import type { Principal } from './principal';

interface Entry {
  revokedAtMs: number;
  expiresAtMs: number;
}

/** Entries are kept until no token they cover can be valid; a bound stops a flood from exhausting memory. */
export const REVOCATION_ENTRIES_MAX = 1_000_000;

/**
 * The denylist every service keeps, fed by `evt.auth.v1.tokens.revoked` from JetStream. A
 * token is refused when its id was revoked, or when its subject, client or tenant was revoked
 * at or after the moment the token was issued.
 */
export class RevocationList {
  private readonly byScope = {
    token: new Map<string, Entry>(),
    subject: new Map<string, Entry>(),
    client: new Map<string, Entry>(),
    tenant: new Map<string, Entry>(),
  };

  apply(revocation: TokenRevocation): void {
    const entry = { revokedAtMs: Date.parse(revocation.revokedAt), expiresAtMs: Date.parse(revocation.expiresAt) };
    const [map, key] = this.slotOf(revocation);
    const existing = map.get(key);
    // Keep the widest revocation: the latest moment and the latest expiry.
    map.set(key, {
      revokedAtMs: Math.max(entry.revokedAtMs, existing?.revokedAtMs ?? 0),
      expiresAtMs: Math.max(entry.expiresAtMs, existing?.expiresAtMs ?? 0),
    });
    if (this.size > REVOCATION_ENTRIES_MAX) this.prune(Date.now());
  }

  isRevoked(principal: Principal): boolean {
    const issuedAtMs = principal.issuedAt.getTime();
    const coversToken = (entry: Entry | undefined) => entry !== undefined && issuedAtMs <= entry.revokedAtMs;
    return (
      this.byScope.token.has(principal.tokenId) ||
      coversToken(this.byScope.subject.get(principal.subject)) ||
      (principal.clientId !== undefined && coversToken(this.byScope.client.get(principal.clientId))) ||
      coversToken(this.byScope.tenant.get(principal.tenantId))
    );
  }

  /** Forgets revocations whose tokens have all expired. */
  prune(nowMs: number): void {
    for (const map of Object.values(this.byScope)) {
      for (const [key, entry] of map) if (entry.expiresAtMs <= nowMs) map.delete(key);
    }
  }

  get size(): number {
    return Object.values(this.byScope).reduce((total, map) => total + map.size, 0);
  }

  private slotOf(revocation: TokenRevocation): [Map<string, Entry>, string] {
    switch (revocation.scope) {
      case 'token':
        return [this.byScope.token, revocation.tokenId];
      case 'subject':
        return [this.byScope.subject, revocation.subject];
      case 'client':
        return [this.byScope.client, revocation.clientId];
      case 'tenant':
        return [this.byScope.tenant, revocation.tenantId];
    }
  }
}
