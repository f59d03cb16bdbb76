import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { connect, type TLSSocket } from 'node:tls';
import type { SyslogTarget } from './syslog-config';

export type SyslogLinkErrorCode =
  | 'SYSLOG_TLS_FILE_UNREADABLE'
  | 'SYSLOG_CONNECT_FAILED'
  | 'SYSLOG_CONNECT_TIMEOUT'
  | 'SYSLOG_WRITE_FAILED'
  | 'SYSLOG_WRITE_TIMEOUT'
  | 'SYSLOG_CLOSED_BY_RECEIVER';

/** Why the connection to the syslog receiver could not be opened or was lost. */
export class SyslogLinkError extends Error {
  override readonly name = 'SyslogLinkError';
  constructor(
    readonly code: SyslogLinkErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const SYSLOG_CONNECT_TIMEOUT_MS = 10_000;
/** A receiver that takes no bytes for this long is treated as gone (its messages are redelivered). */
export const SYSLOG_WRITE_TIMEOUT_MS = 15_000;
/** How long a graceful close waits for the receiver to close its side. */
export const SYSLOG_END_TIMEOUT_MS = 2_000;
// Detects a receiver host that vanished without a reset while the connection is idle.
const KEEPALIVE_INITIAL_DELAY_MS = 30_000;

function readTlsFile(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new SyslogLinkError('SYSLOG_TLS_FILE_UNREADABLE', `the syslog ${what} ${file} cannot be read`, {
      cause: error,
    });
  }
}

/** The CA, certificate and key files, read now (so a rotated certificate is used by the next connection). */
export function readSyslogTlsFiles(target: SyslogTarget): { ca?: Buffer; cert?: Buffer; key?: Buffer } {
  return {
    ...(target.caFile ? { ca: readTlsFile(target.caFile, 'CA file') } : {}),
    ...(target.certFile ? { cert: readTlsFile(target.certFile, 'client certificate') } : {}),
    ...(target.keyFile ? { key: readTlsFile(target.keyFile, 'client key') } : {}),
  };
}

/**
 * One TLS connection to a syslog receiver (RFC 5425): TLS 1.2 or later, the receiver's
 * certificate verified against the CA and the host name (§5.2), a client certificate when
 * configured. The receiver sends nothing back (RFC 5425 has no acknowledgement); whatever it
 * sends is read and dropped so its socket never blocks. Once broken, a link stays broken: the
 * forwarder opens a new one.
 */
export class SyslogLink {
  private failure: SyslogLinkError | undefined;
  private endedByUs = false;
  private readonly closed: Promise<void>;

  private constructor(private readonly socket: TLSSocket) {
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('error', (error) =>
      this.fail(new SyslogLinkError('SYSLOG_WRITE_FAILED', error.message, { cause: error })),
    );
    socket.on('end', () => {
      if (!this.endedByUs)
        this.fail(new SyslogLinkError('SYSLOG_CLOSED_BY_RECEIVER', 'the receiver closed the connection'));
    });
    socket.on('close', () => {
      if (!this.endedByUs) this.fail(new SyslogLinkError('SYSLOG_CLOSED_BY_RECEIVER', 'the connection closed'));
    });
    socket.resume();
  }

  static open(target: SyslogTarget, timeoutMs = SYSLOG_CONNECT_TIMEOUT_MS): Promise<SyslogLink> {
    const files = readSyslogTlsFiles(target);
    const where = `${target.host}:${target.port}`;
    return new Promise((resolve, reject) => {
      const socket = connect({
        host: target.host,
        port: target.port,
        // RFC 6066 §3: SNI names hosts, never addresses.
        ...(isIP(target.host) === 0 ? { servername: target.host } : {}),
        ...files,
        minVersion: 'TLSv1.2',
        rejectUnauthorized: true,
      });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new SyslogLinkError('SYSLOG_CONNECT_TIMEOUT', `no TLS session with ${where} within ${timeoutMs} ms`));
      }, timeoutMs);
      const refused = (error: Error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(
          new SyslogLinkError('SYSLOG_CONNECT_FAILED', `no TLS session with ${where}: ${error.message}`, {
            cause: error,
          }),
        );
      };
      socket.once('error', refused);
      socket.once('secureConnect', () => {
        clearTimeout(timer);
        socket.off('error', refused);
        socket.setKeepAlive(true, KEEPALIVE_INITIAL_DELAY_MS);
        socket.setNoDelay(true);
        resolve(new SyslogLink(socket));
      });
    });
  }

  /** Why the link broke, or undefined while it is usable. */
  get brokenBy(): SyslogLinkError | undefined {
    return this.failure;
  }

  /**
   * Resolves once `data` was handed to the operating system (the write callback), rejects when
   * the link breaks first or the receiver takes nothing for `timeoutMs`.
   */
  write(data: Buffer, timeoutMs = SYSLOG_WRITE_TIMEOUT_MS): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(new SyslogLinkError('SYSLOG_WRITE_TIMEOUT', `the receiver took no data for ${timeoutMs} ms`));
      }, timeoutMs);
      const onClose = () => {
        clearTimeout(timer);
        reject(this.failure ?? new SyslogLinkError('SYSLOG_CLOSED_BY_RECEIVER', 'the connection closed'));
      };
      this.socket.once('close', onClose);
      this.socket.write(data, (error) => {
        clearTimeout(timer);
        this.socket.off('close', onClose);
        if (error) {
          this.fail(new SyslogLinkError('SYSLOG_WRITE_FAILED', error.message, { cause: error }));
          reject(this.failure);
        } else if (this.failure) {
          reject(this.failure);
        } else {
          resolve();
        }
      });
    });
  }

  /**
   * Closes gracefully (TLS close_notify, then FIN) and waits for the receiver to close its side.
   * True when it did so without error: a receiver closes after reading to the end of the stream,
   * so every byte written was read.
   */
  async end(timeoutMs = SYSLOG_END_TIMEOUT_MS): Promise<boolean> {
    if (this.failure) return false;
    this.endedByUs = true;
    this.socket.end();
    let timer: NodeJS.Timeout | undefined;
    const closedInTime = await Promise.race([
      this.closed.then(() => true),
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (!closedInTime) this.socket.destroy();
    return closedInTime && this.failure === undefined;
  }

  /** Drops the connection at once (after a failure, or when the process stops without waiting). */
  destroy(): void {
    this.endedByUs = true;
    this.socket.destroy();
  }

  private fail(error: SyslogLinkError): void {
    this.failure ??= error;
    this.socket.destroy();
  }
}
