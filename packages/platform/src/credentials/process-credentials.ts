import {
  type AccessTokenClaims,
  getJwks,
  issueServiceToken,
  type PublicJwks,
  type ServiceName,
  type ServiceToken,
} from '@strongroom/contracts';
import type { NatsConnection } from 'nats';
import type { Logger } from 'pino';
import type { BusClient } from '../bus/bus-client';
import type { CommonConfig } from '../config/service-config';
import { AccessTokenVerifier } from './access-token-verifier';
import { JwksCache } from './jwks-cache';
import { principalOf } from './principal';
import { RevocationFeed } from './revocation-feed';
import { RevocationList } from './revocation-list';
import { ServiceCredentials } from './service-credentials';

/** Where a process gets the keys it verifies with and its own token. */
export interface CredentialSources {
  fetchJwks(): Promise<PublicJwks>;
  fetchServiceToken(): Promise<ServiceToken>;
}

/** Both from the auth service over the bus (`auth.v1.jwks.get`, `auth.v1.service-tokens.issue`; both public). */
export function busCredentialSources(bus: BusClient): CredentialSources {
  return {
    fetchJwks: () => bus.request(getJwks, {}),
    fetchServiceToken: () => bus.request(issueServiceToken, {}),
  };
}

/** A bus identity's own token, asked of the auth service over `bus` (the operator CLI, tests). */
export function serviceCredentialsOverBus(bus: BusClient): ServiceCredentials {
  return new ServiceCredentials({ fetchToken: () => bus.request(issueServiceToken, {}) });
}

/** One per process: how it checks who calls it, and how it proves who it is. */
export interface ProcessCredentials {
  /** Verifies a caller's `authorization` header (JWKS, issuer, audience, expiry, claims, revocation list). */
  readonly verifier: AccessTokenVerifier;
  /** The denylist, fed from JetStream by a feed that caught up before this object was returned. */
  readonly revocations: RevocationList;
  /** Whether already-verified claims (e.g. a token auth is introspecting) are on the denylist. */
  isRevoked(claims: AccessTokenClaims): boolean;
  /** This process's own token (`service:<identity>`), for calls made on its own behalf only. */
  readonly asService: ServiceCredentials;
  /** Stops the revocation feed (before the bus connection closes). */
  stop(): Promise<void>;
}

export interface ProcessCredentialsOptions {
  identity: ServiceName;
  connection: NatsConnection;
  config: Pick<CommonConfig, 'PUBLIC_URL' | 'TOKEN_AUDIENCE'>;
  logger: Logger;
  sources: CredentialSources;
}

/**
 * Starts the revocation feed and waits until it has applied every revocation already in the
 * stream, then builds the verifier on it: called before the handlers listen, so a restarted
 * service never accepts a token revoked while it was down.
 */
export async function startProcessCredentials(options: ProcessCredentialsOptions): Promise<ProcessCredentials> {
  const revocations = new RevocationList();
  const feed = new RevocationFeed({
    connection: options.connection,
    identity: options.identity,
    revocations,
    logger: options.logger,
  });
  await feed.start();
  const verifier = new AccessTokenVerifier({
    issuer: options.config.PUBLIC_URL,
    audience: options.config.TOKEN_AUDIENCE,
    jwks: new JwksCache({ fetchJwks: () => options.sources.fetchJwks() }),
    revocations,
  });
  const asService = new ServiceCredentials({ fetchToken: () => options.sources.fetchServiceToken() });
  return {
    verifier,
    revocations,
    isRevoked: (claims) => revocations.isRevoked(principalOf(claims)),
    asService,
    stop: () => feed.stop(),
  };
}
