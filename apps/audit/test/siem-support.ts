import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createCertificateAuthority, issueLeafCertificate, validityFor } from '@strongroom/cli';
import { ensureEventStreams } from '@strongroom/platform';
import type { NatsConnection } from 'nats';

/** The platform's streams (AUDIT and its siem consumer among them), as `strongroom up` creates them. */
export async function createTestStreams(operator: NatsConnection): Promise<void> {
  await ensureEventStreams(operator);
}

/** What a receiver reads back from an RFC 5424 message; a parser of the tests' own, strict on the grammar. */
export interface ParsedSyslogMessage {
  readonly pri: number;
  readonly version: string;
  readonly timestamp: string;
  readonly hostname: string;
  readonly appName: string;
  readonly procId: string;
  readonly msgId: string;
  readonly sdId: string;
  readonly params: Readonly<Record<string, string>>;
  /** MSG without its BOM; undefined when the message has none. */
  readonly msg: string | undefined;
  readonly msgHasBom: boolean;
}

const HEADER = /^<(\d{1,3})>(1) (\S+) (\S+) (\S+) (\S+) (\S+) /;
const BOM = '\uFEFF';

/** Parses one SYSLOG-MSG holding exactly one SD-ELEMENT (what the forwarder writes). */
export function parseSyslogMessage(message: Buffer): ParsedSyslogMessage {
  const text = message.toString('utf8');
  const header = HEADER.exec(text);
  if (!header) throw new Error(`not an RFC 5424 header: ${text.slice(0, 80)}`);
  let at = header[0].length;
  if (text[at] !== '[') throw new Error('no structured data element');
  at += 1;
  const sdIdEnd = text.slice(at).search(/[ \]]/);
  const sdId = text.slice(at, at + sdIdEnd);
  at += sdIdEnd;
  const params: Record<string, string> = {};
  while (text[at] === ' ') {
    const nameEnd = text.indexOf('="', at);
    const name = text.slice(at + 1, nameEnd);
    at = nameEnd + 2;
    let value = '';
    while (text[at] !== '"') {
      if (at >= text.length) throw new Error(`unterminated value of ${name}`);
      if (text[at] === '\\' && ['"', '\\', ']'].includes(text[at + 1] as string)) at += 1;
      else if (text[at] === ']' || text[at] === '"') throw new Error(`unescaped ${text[at]} in ${name}`);
      value += text[at];
      at += 1;
    }
    params[name] = value;
    at += 1;
  }
  if (text[at] !== ']') throw new Error('structured data element not closed');
  at += 1;
  let msg: string | undefined;
  let msgHasBom = false;
  if (at < text.length) {
    if (text[at] !== ' ') throw new Error('MSG not separated by a space');
    msg = text.slice(at + 1);
    msgHasBom = msg.startsWith(BOM);
    if (msgHasBom) msg = msg.slice(1);
  }
  const [, pri, version, timestamp, hostname, appName, procId, msgId] = header as unknown as string[];
  return {
    pri: Number(pri),
    version: version as string,
    timestamp: timestamp as string,
    hostname: hostname as string,
    appName: appName as string,
    procId: procId as string,
    msgId: msgId as string,
    sdId,
    params,
    msg,
    msgHasBom,
  };
}

/** Splits RFC 5425 octet-counted frames; throws on a malformed MSG-LEN or a partial frame. */
export function splitOctetCountedFrames(data: Buffer): Buffer[] {
  const frames: Buffer[] = [];
  let rest = data;
  while (rest.length > 0) {
    const space = rest.indexOf(0x20);
    const length = rest.subarray(0, space).toString('ascii');
    if (space < 0 || !/^[1-9][0-9]*$/.test(length)) throw new Error(`bad MSG-LEN "${length}"`);
    const end = space + 1 + Number(length);
    if (end > rest.length) throw new Error('partial frame');
    frames.push(rest.subarray(space + 1, end));
    rest = rest.subarray(end);
  }
  return frames;
}

export interface SyslogTestPki {
  readonly dir: string;
  readonly caFile: string;
  /** A CA that issued nothing the receiver presents. */
  readonly foreignCaFile: string;
  readonly serverCertFile: string;
  readonly serverKeyFile: string;
  readonly clientCertFile: string;
  readonly clientKeyFile: string;
  remove(): void;
}

/** A CA, the receiver's certificate for 127.0.0.1 and a client certificate for the forwarder. */
export async function createSyslogTestPki(): Promise<SyslogTestPki> {
  const dir = mkdtempSync(join(tmpdir(), 'strongroom-syslog-pki-'));
  const validity = validityFor(1);
  const ca = await createCertificateAuthority({ commonName: 'SIEM test CA', organization: 'SIEM', validity });
  const foreign = await createCertificateAuthority({ commonName: 'Other CA', organization: 'Other', validity });
  const server = await issueLeafCertificate({
    issuer: ca,
    commonName: 'siem-receiver',
    organization: 'SIEM',
    usage: 'server',
    hosts: ['127.0.0.1'],
    validity,
  });
  const client = await issueLeafCertificate({
    issuer: ca,
    commonName: 'strongroom-audit',
    organization: 'Strongroom',
    usage: 'client',
    validity,
  });
  const write = (name: string, content: string) => {
    const file = join(dir, name);
    writeFileSync(file, content, { mode: 0o600 });
    return file;
  };
  return {
    dir,
    caFile: write('ca.crt', ca.certificatePem),
    foreignCaFile: write('foreign-ca.crt', foreign.certificatePem),
    serverCertFile: write('server.crt', server.certificatePem),
    serverKeyFile: write('server.key', server.privateKeyPem),
    clientCertFile: write('client.crt', client.certificatePem),
    clientKeyFile: write('client.key', client.privateKeyPem),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * The receiver, run in a child process so a test can kill -9 it like a crashed SIEM. It
 * requires a client certificate from the test CA, splits octet-counted frames and prints each
 * message as one JSON line as soon as it is complete (stdout to a pipe is synchronous on Linux:
 * a printed message survives the kill). It closes a connection once it read it to the end.
 */
const RECEIVER_SOURCE = `
const tls = require('node:tls');
const fs = require('node:fs');
const print = (line) => process.stdout.write(JSON.stringify(line) + '\\n');
const server = tls.createServer({
  cert: fs.readFileSync(process.env.CERT_FILE),
  key: fs.readFileSync(process.env.KEY_FILE),
  ca: fs.readFileSync(process.env.CA_FILE),
  requestCert: true,
  rejectUnauthorized: true,
  minVersion: 'TLSv1.2',
}, (socket) => {
  const peer = socket.getPeerCertificate().subject.CN;
  let buffer = Buffer.alloc(0);
  socket.on('data', (chunk) => {
    buffer = Buffer.concat([buffer, chunk]);
    for (;;) {
      const space = buffer.indexOf(0x20);
      if (space < 0) return;
      const length = buffer.subarray(0, space).toString('ascii');
      if (!/^[1-9][0-9]*$/.test(length)) {
        print({ error: 'bad MSG-LEN ' + JSON.stringify(length) });
        socket.destroy();
        return;
      }
      const end = space + 1 + Number(length);
      if (buffer.length < end) return;
      print({ message: buffer.subarray(space + 1, end).toString('base64'), peer });
      buffer = buffer.subarray(end);
    }
  });
  socket.on('end', () => socket.end());
  socket.on('error', () => {});
});
server.listen(Number(process.env.PORT), '127.0.0.1', () => print({ listening: server.address().port }));
`;

export interface ReceivedSyslogMessage {
  readonly message: Buffer;
  /** The CN of the client certificate the sender presented. */
  readonly peer: string;
}

export class SyslogTestReceiver {
  /** Every message received, across restarts, in arrival order. */
  readonly received: ReceivedSyslogMessage[] = [];
  readonly errors: string[] = [];
  private child: ChildProcess | undefined;

  constructor(
    readonly port: number,
    private readonly pki: SyslogTestPki,
  ) {}

  async start(): Promise<void> {
    const child = spawn(process.execPath, ['-e', RECEIVER_SOURCE], {
      env: {
        PORT: String(this.port),
        CERT_FILE: this.pki.serverCertFile,
        KEY_FILE: this.pki.serverKeyFile,
        CA_FILE: this.pki.caFile,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    this.child = child;
    const listening = new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`the syslog receiver exited (${code}) before listening`)));
      createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
        const parsed = JSON.parse(line) as { listening?: number; message?: string; peer?: string; error?: string };
        if (parsed.listening !== undefined) resolve();
        if (parsed.message !== undefined) {
          this.received.push({ message: Buffer.from(parsed.message, 'base64'), peer: parsed.peer ?? '' });
        }
        if (parsed.error !== undefined) this.errors.push(parsed.error);
      });
    });
    await listening;
  }

  /** SIGKILL, like a crash: what the receiver had not read yet is lost with it. */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('close', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  /** Resolves once `count` messages were received in all, or rejects after `timeoutMs`. */
  async waitForCount(count: number, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length < count) {
      if (Date.now() > deadline) {
        throw new Error(`received ${this.received.length} of ${count} syslog messages in ${timeoutMs} ms`);
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}
