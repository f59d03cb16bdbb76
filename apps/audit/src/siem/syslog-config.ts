import { hostname } from 'node:os';
import { loadConfig, optionalString } from '@strongroom/platform';
import { z } from 'zod';
import {
  ENTERPRISE_NUMBER_PATTERN,
  isPrintUsAscii,
  SYSLOG_APP_NAME_LENGTH_MAX,
  SYSLOG_ENTERPRISE_NUMBER_DEFAULT,
  SYSLOG_FACILITY_LOG_AUDIT,
  SYSLOG_FACILITY_MAX,
  SYSLOG_HOSTNAME_LENGTH_MAX,
  SYSLOG_MESSAGE_BYTES_DEFAULT,
  SYSLOG_MESSAGE_BYTES_MAX,
  SYSLOG_MESSAGE_BYTES_MIN,
  type SyslogFormat,
} from './syslog-format';

/** RFC 5425 §4.1: the port assigned to syslog over TLS. */
export const SYSLOG_TLS_PORT_DEFAULT = 6514;
export const SYSLOG_APP_NAME_DEFAULT = 'strongroom-audit';
export const SYSLOG_ACK_DELAY_MS_DEFAULT = 1_000;
export const SYSLOG_ACK_DELAY_MS_MAX = 10_000;

/** Where the forwarder sends, and how it proves who it is and who the receiver is. */
export interface SyslogTarget {
  readonly host: string;
  readonly port: number;
  /** The private CA that issued the receiver's certificate; the system's roots when absent. */
  readonly caFile?: string;
  /** A client certificate and its key, for receivers that require mutual TLS (both or neither). */
  readonly certFile?: string;
  readonly keyFile?: string;
}

export interface SyslogForwarderConfig {
  readonly target: SyslogTarget;
  readonly format: SyslogFormat;
  /**
   * How long a written message stays unacknowledged on JetStream while the connection stays up.
   * RFC 5425 has no acknowledgement: a receiver that dies loses what sat in its socket; its
   * connection reports the death (reset or close) within milliseconds, so a message is acked only
   * once the connection outlived it by this delay, and is redelivered otherwise. 0 acks right
   * after the write was flushed to the socket.
   */
  readonly ackDelayMs: number;
  /** Reconnection back-off: doubles from min to max, with jitter. */
  readonly reconnectDelayMsMin: number;
  readonly reconnectDelayMsMax: number;
}

export const SYSLOG_RECONNECT_DELAY_MS_MIN_DEFAULT = 500;
export const SYSLOG_RECONNECT_DELAY_MS_MAX_DEFAULT = 30_000;

/** `tls://host[:port]`, an IPv6 host in brackets; no path, no credentials. */
const syslogUrlSchema = z.string().transform((value, context): { host: string; port: number } => {
  const url = URL.canParse(value) ? new URL(value) : undefined;
  if (
    url === undefined ||
    url.protocol !== 'tls:' ||
    url.hostname === '' ||
    url.port === '0' ||
    url.username !== '' ||
    url.password !== '' ||
    !['', '/'].includes(url.pathname) ||
    url.search !== '' ||
    url.hash !== ''
  ) {
    context.addIssue({ code: 'custom', message: 'must look like tls://host:port (RFC 5425: syslog over TLS only)' });
    return z.NEVER;
  }
  const port = url.port === '' ? SYSLOG_TLS_PORT_DEFAULT : Number(url.port);
  return { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port };
});

/** This host's name when it is a valid RFC 5424 HOSTNAME, else NILVALUE. */
function defaultHostname(): string {
  const name = hostname();
  return isPrintUsAscii(name, SYSLOG_HOSTNAME_LENGTH_MAX) ? name : '-';
}

const printUsAscii = (max: number) =>
  z.string().refine((value) => isPrintUsAscii(value, max), `must be 1–${max} printable US-ASCII characters, no spaces`);

/** The audit service's syslog variables; AUDIT_SYSLOG_URL unset means no forwarder. */
export const syslogForwarderEnvSchema = z
  .object({
    AUDIT_SYSLOG_URL: optionalString.pipe(syslogUrlSchema.optional()),
    AUDIT_SYSLOG_CA_FILE: optionalString,
    AUDIT_SYSLOG_CERT_FILE: optionalString,
    AUDIT_SYSLOG_KEY_FILE: optionalString,
    AUDIT_SYSLOG_APP_NAME: optionalString.pipe(printUsAscii(SYSLOG_APP_NAME_LENGTH_MAX).optional()),
    AUDIT_SYSLOG_HOSTNAME: optionalString.pipe(printUsAscii(SYSLOG_HOSTNAME_LENGTH_MAX).optional()),
    AUDIT_SYSLOG_FACILITY: optionalString.pipe(
      z.coerce.number<string>().int().min(0).max(SYSLOG_FACILITY_MAX).optional(),
    ),
    AUDIT_SYSLOG_ENTERPRISE_NUMBER: optionalString.pipe(
      z
        .string()
        .regex(ENTERPRISE_NUMBER_PATTERN, 'must be an IANA private enterprise number, e.g. 32473')
        .max(21)
        .optional(),
    ),
    AUDIT_SYSLOG_MESSAGE_BYTES_MAX: optionalString.pipe(
      z.coerce.number<string>().int().min(SYSLOG_MESSAGE_BYTES_MIN).max(SYSLOG_MESSAGE_BYTES_MAX).optional(),
    ),
    AUDIT_SYSLOG_ACK_DELAY_MS: optionalString.pipe(
      z.coerce.number<string>().int().min(0).max(SYSLOG_ACK_DELAY_MS_MAX).optional(),
    ),
  })
  .superRefine((env, context) => {
    if ((env.AUDIT_SYSLOG_CERT_FILE === undefined) !== (env.AUDIT_SYSLOG_KEY_FILE === undefined)) {
      context.addIssue({
        code: 'custom',
        path: [env.AUDIT_SYSLOG_CERT_FILE === undefined ? 'AUDIT_SYSLOG_CERT_FILE' : 'AUDIT_SYSLOG_KEY_FILE'],
        message: 'a client certificate needs its key, and a key its certificate',
      });
    }
    if (env.AUDIT_SYSLOG_URL === undefined) {
      const stray = Object.entries(env).find(([name, value]) => name !== 'AUDIT_SYSLOG_URL' && value !== undefined);
      // A half-configured forwarder would silently forward nothing.
      if (stray) context.addIssue({ code: 'custom', path: [stray[0]], message: 'is set but AUDIT_SYSLOG_URL is not' });
    }
  })
  .transform((env): SyslogForwarderConfig | undefined => {
    if (env.AUDIT_SYSLOG_URL === undefined) return undefined;
    return {
      target: {
        ...env.AUDIT_SYSLOG_URL,
        caFile: env.AUDIT_SYSLOG_CA_FILE,
        certFile: env.AUDIT_SYSLOG_CERT_FILE,
        keyFile: env.AUDIT_SYSLOG_KEY_FILE,
      },
      format: {
        facility: env.AUDIT_SYSLOG_FACILITY ?? SYSLOG_FACILITY_LOG_AUDIT,
        hostname: env.AUDIT_SYSLOG_HOSTNAME ?? defaultHostname(),
        appName: env.AUDIT_SYSLOG_APP_NAME ?? SYSLOG_APP_NAME_DEFAULT,
        enterpriseNumber: env.AUDIT_SYSLOG_ENTERPRISE_NUMBER ?? SYSLOG_ENTERPRISE_NUMBER_DEFAULT,
        messageBytesMax: env.AUDIT_SYSLOG_MESSAGE_BYTES_MAX ?? SYSLOG_MESSAGE_BYTES_DEFAULT,
      },
      ackDelayMs: env.AUDIT_SYSLOG_ACK_DELAY_MS ?? SYSLOG_ACK_DELAY_MS_DEFAULT,
      reconnectDelayMsMin: SYSLOG_RECONNECT_DELAY_MS_MIN_DEFAULT,
      reconnectDelayMsMax: SYSLOG_RECONNECT_DELAY_MS_MAX_DEFAULT,
    };
  });

/**
 * The forwarder's configuration from the environment, or undefined when AUDIT_SYSLOG_URL is
 * unset (forwarding off). A malformed variable stops the service (ConfigError naming it).
 */
export function loadSyslogForwarderConfig(env: NodeJS.ProcessEnv = process.env): SyslogForwarderConfig | undefined {
  // A copy: process.env is not a plain object.
  return loadConfig('audit', syslogForwarderEnvSchema, { ...env });
}
