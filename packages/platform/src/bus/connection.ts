import { busInboxPrefixOf } from '@strongroom/contracts';
import { type ConnectionOptions, connect, type NatsConnection, NatsError } from 'nats';
import { type BusTlsFiles, checkBusTlsFiles } from './tls';

export interface BusConnectOptions {
  /** `tls://host:port` or `host:port`; several for a cluster. */
  readonly servers: string | readonly string[];
  readonly tls: BusTlsFiles;
  /** Client name shown by nats-server (`connz`); the service name. */
  readonly name: string;
  /** Bound on the first connection attempt, TLS handshake included. */
  readonly timeoutMs?: number;
}

/** The same dial without the local certificate check; `certFile`/`keyFile` may be absent. */
export interface BusDialOptions extends Omit<BusConnectOptions, 'tls'> {
  readonly tls: Pick<BusTlsFiles, 'caFile'> & Partial<BusTlsFiles>;
  readonly inboxPrefix?: string;
}

export const BUS_CONNECT_TIMEOUT_MS_DEFAULT = 5_000;
const BUS_RECONNECT_WAIT_MS = 1_000;
const BUS_RECONNECT_JITTER_MS = 500;
const BUS_PING_INTERVAL_MS = 20_000;
const BUS_PINGS_OUTSTANDING_MAX = 3;

export type BusConnectionErrorCode =
  | 'BUS_HANDSHAKE_REFUSED'
  | 'BUS_UNREACHABLE'
  | 'BUS_IDENTITY_UNKNOWN'
  | 'BUS_SERVER_UNTRUSTED'
  | 'BUS_CONNECT_FAILED';

/** The bus refused or never answered the first connection; the message names the likely cause. */
export class BusConnectionError extends Error {
  override readonly name = 'BusConnectionError';
  constructor(
    readonly code: BusConnectionErrorCode,
    message: string,
    readonly servers: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

function serverList(servers: string | readonly string[]): string[] {
  return typeof servers === 'string' ? [servers] : [...servers];
}

/**
 * nats connection options for a bus client, for connectBus and for NestJS's NATS transport
 * alike. Reconnects forever once connected, but the first connection fails fast
 * (`waitOnFirstConnect: false`) so a misconfigured service stops instead of hanging.
 */
export function busConnectionOptions(options: BusDialOptions): ConnectionOptions {
  const tls = { caFile: options.tls.caFile, certFile: options.tls.certFile, keyFile: options.tls.keyFile };
  return {
    servers: serverList(options.servers),
    name: options.name,
    tls,
    timeout: options.timeoutMs ?? BUS_CONNECT_TIMEOUT_MS_DEFAULT,
    waitOnFirstConnect: false,
    reconnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: BUS_RECONNECT_WAIT_MS,
    reconnectJitter: BUS_RECONNECT_JITTER_MS,
    reconnectJitterTLS: BUS_RECONNECT_JITTER_MS,
    pingInterval: BUS_PING_INTERVAL_MS,
    maxPingOut: BUS_PINGS_OUTSTANDING_MAX,
    // nats.js captures a stack (two or three Error objects) per request by default: ~10% of the
    // gateway's CPU per forwarded exchange (bench/oauth.bench.ts). BusClient already names the
    // subject of a failed request in its PlatformError.
    noAsyncTraces: true,
    ...(options.inboxPrefix ? { inboxPrefix: options.inboxPrefix } : {}),
  };
}

function connectionErrorOf(error: unknown, options: BusDialOptions): BusConnectionError {
  const servers = serverList(options.servers);
  const where = servers.join(', ');
  const certificate = options.tls.certFile;
  const code = error instanceof NatsError ? error.code : undefined;
  const detail = error instanceof Error ? error.message : String(error);
  if (code === 'TIMEOUT' || code === 'CONNECTION_TIMEOUT') {
    // nats-server ends the TLS handshake of a certificate it cannot verify; the client only times out.
    return new BusConnectionError(
      'BUS_HANDSHAKE_REFUSED',
      `The bus at ${where} did not accept the connection of "${options.name}" within ${options.timeoutMs ?? BUS_CONNECT_TIMEOUT_MS_DEFAULT} ms. ` +
        `nats-server refuses client certificates it cannot verify without saying why: ` +
        (certificate
          ? `check that ${certificate} is unexpired, issued by the CA in ${options.tls.caFile} with clientAuth usage, `
          : 'no client certificate was presented, and one issued by the internal CA is required; ') +
        `and that ${where} is the Strongroom bus.`,
      servers,
      { cause: error },
    );
  }
  if (code === 'CONNECTION_REFUSED') {
    return new BusConnectionError('BUS_UNREACHABLE', `Nothing listens for the bus at ${where} (${detail})`, servers, {
      cause: error,
    });
  }
  if (code === 'AUTHORIZATION_VIOLATION') {
    return new BusConnectionError(
      'BUS_IDENTITY_UNKNOWN',
      `The bus at ${where} verified ${certificate ?? 'the client'} but knows no user for its subject: the nats-server permission map ` +
        `lacks this identity (regenerate it with \`strongroom nats config\`)`,
      servers,
      { cause: error },
    );
  }
  if (code === 'TLS' || /certificate|self.signed|SSL/i.test(detail)) {
    return new BusConnectionError(
      'BUS_SERVER_UNTRUSTED',
      `The TLS handshake with the bus at ${where} failed (${detail}): the server certificate must be issued by the CA in ${options.tls.caFile}`,
      servers,
      { cause: error },
    );
  }
  return new BusConnectionError('BUS_CONNECT_FAILED', `Connecting to the bus at ${where} failed: ${detail}`, servers, {
    cause: error,
  });
}

/**
 * Dials without the local certificate check. Services use connectBus; this exists so tests can
 * prove nats-server itself refuses what the check would have caught.
 */
export async function dialBus(options: BusDialOptions): Promise<NatsConnection> {
  try {
    return await connect(busConnectionOptions(options));
  } catch (error) {
    throw connectionErrorOf(error, options);
  }
}

/**
 * Connects a service to the bus with its client certificate. Checks the certificate files
 * first (BusTlsError naming the problem), then dials with the reply-inbox prefix of the
 * certificate's identity (BusConnectionError naming the server and the likely cause).
 */
export async function connectBus(options: BusConnectOptions): Promise<NatsConnection> {
  const { identity } = checkBusTlsFiles(options.tls);
  // The permission map lets each identity subscribe only to its own reply inboxes.
  return dialBus({ ...options, inboxPrefix: busInboxPrefixOf(identity) });
}
