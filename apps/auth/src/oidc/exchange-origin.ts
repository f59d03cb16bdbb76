import { AsyncLocalStorage } from 'node:async_hooks';
import type { exchangeOidcHttp, RequestOf } from '@strongroom/contracts';
import { type AuditOrigin, auditOriginOf, type BusRequestContext } from '@strongroom/platform';

/**
 * The request an OAuth exchange came with, for the audit events written while oidc-provider
 * handles it (a sign-in, a token issued, a refresh token replayed). oidc-provider calls our code
 * from its own middleware and event listeners, which take no argument of ours: the origin
 * travels with the exchange's async context instead.
 */
const origins = new AsyncLocalStorage<AuditOrigin>();

/** The bus call's request id and trace; the client's address and user agent as the gateway forwarded them. */
export function exchangeOriginOf(
  context: BusRequestContext,
  exchange: RequestOf<typeof exchangeOidcHttp>,
): AuditOrigin {
  const origin = auditOriginOf(context);
  const userAgent = exchange.headers['user-agent'];
  return {
    ...origin,
    ...(origin.sourceIp === undefined && /^[0-9A-Fa-f.:]{2,45}$/.test(exchange.remoteAddress)
      ? { sourceIp: exchange.remoteAddress }
      : {}),
    ...(origin.userAgent === undefined && typeof userAgent === 'string' && userAgent !== ''
      ? { userAgent: userAgent.slice(0, 256) }
      : {}),
  };
}

/**
 * Runs `work` with `origin` as the exchange's. `work` may return a lazy thenable (light-my-request's
 * inject starts only when asked for its result): it is asked here, inside the context, or an
 * `await` outside it would start the exchange without its origin.
 */
export function withExchangeOrigin<T>(origin: AuditOrigin, work: () => PromiseLike<T>): Promise<T> {
  return origins.run(origin, () => new Promise<T>((resolve, reject) => work().then(resolve, reject)));
}

/** The origin of the exchange being handled; empty outside one. */
export function currentExchangeOrigin(): AuditOrigin {
  return origins.getStore() ?? {};
}
