import { Inject, Injectable } from '@nestjs/common';
import {
  type AccessTokenClaims,
  type BusIdentity,
  SERVICE_TOKEN_TTL_SECONDS,
  type ServiceToken,
} from '@strongroom/contracts';
import { PlatformError, SERVICE_RESOURCES, type ServiceResources } from '@strongroom/platform';
import { importJWK, SignJWT } from 'jose';
import { currentKey } from '../signing-keys/signing-key-ring';
import { SigningKeyStore } from '../signing-keys/signing-key-store';
import { serviceTokenClaims } from './service-token-claims';

/** Signs bus identities' own access tokens with the current token-signing key. */
@Injectable()
export class ServiceTokenIssuer {
  constructor(
    private readonly keys: SigningKeyStore,
    @Inject(SERVICE_RESOURCES) private readonly resources: ServiceResources,
  ) {}

  async issue(identity: BusIdentity, now = new Date()): Promise<ServiceToken> {
    return (await this.issueWithClaims(identity, now)).token;
  }

  /** The token and what it says (for the audit record of its issuance: its id and lifetime). */
  async issueWithClaims(
    identity: BusIdentity,
    now = new Date(),
  ): Promise<{ token: ServiceToken; claims: AccessTokenClaims }> {
    const key = currentKey(await this.keys.keys(now), now);
    if (key === undefined) throw PlatformError.unavailable('No token-signing key is active yet');
    const { PUBLIC_URL, TOKEN_AUDIENCE } = this.resources.config;
    const claims = serviceTokenClaims(identity, now, { issuer: PUBLIC_URL, audience: TOKEN_AUDIENCE });
    // RFC 9068 §2.1: a JWT access token says so in its `typ` header.
    const accessToken = await new SignJWT(claims)
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt' })
      .sign(await importJWK(key.privateJwk, key.alg));
    return { token: { accessToken, tokenType: 'Bearer', expiresInSeconds: SERVICE_TOKEN_TTL_SECONDS }, claims };
  }
}
