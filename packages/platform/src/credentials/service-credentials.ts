import type { ServiceToken } from '@strongroom/contracts';

/** Anything that can give a bus call its `authorization` header value. */
export interface CredentialSource {
  authorization(): Promise<string>;
}

export interface ServiceCredentialsOptions {
  /** Asks for a fresh token (`auth.v1.service-tokens.issue` over the bus; auth signs its own locally). */
  fetchToken: () => Promise<ServiceToken>;
  /** A token is renewed once less than this remains of it, so no call leaves with one about to expire. */
  renewBeforeSeconds?: number;
  now?: () => number;
}

const RENEW_BEFORE_SECONDS_DEFAULT = 60;

/**
 * This process's own access token (`sub` = `service:<identity>`), for the calls it makes on
 * its own behalf; fetched on first use, cached, renewed before it expires, one fetch at a
 * time. A call made for an end user forwards that user's credential instead: using the
 * service's token there would lend the caller the service's permissions (confused deputy).
 */
export class ServiceCredentials implements CredentialSource {
  private current: { authorization: string; renewAtMs: number } | undefined;
  private inFlight: Promise<string> | undefined;
  private readonly now: () => number;

  constructor(private readonly options: ServiceCredentialsOptions) {
    this.now = options.now ?? Date.now;
  }

  /** `Bearer <jwt>`, valid for at least `renewBeforeSeconds` more. */
  authorization(): Promise<string> {
    if (this.current !== undefined && this.now() < this.current.renewAtMs) {
      return Promise.resolve(this.current.authorization);
    }
    this.inFlight ??= this.renew().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async renew(): Promise<string> {
    const requestedAtMs = this.now();
    const token = await this.options.fetchToken();
    const renewBeforeSeconds = Math.min(
      this.options.renewBeforeSeconds ?? RENEW_BEFORE_SECONDS_DEFAULT,
      // A token shorter-lived than the margin is used for half its life, never not at all.
      token.expiresInSeconds / 2,
    );
    // Counted from the request, not the answer: the token's clock started before it arrived.
    const renewAtMs = requestedAtMs + (token.expiresInSeconds - renewBeforeSeconds) * 1000;
    this.current = { authorization: `${token.tokenType} ${token.accessToken}`, renewAtMs };
    return this.current.authorization;
  }
}
