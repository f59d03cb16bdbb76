import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findNatsServerBinary, initPki, pkiPaths, renderNatsServerConfig } from '@strongroom/cli';
import { BUS_IDENTITIES, OPERATOR_IDENTITY } from '@strongroom/contracts';
import { type BusTlsFiles, busTlsFilesFor, connectBus } from '@strongroom/platform';
import type { NatsConnection } from 'nats';
import { freeStablePort } from './free-port';

export interface StartTestNatsOptions {
  /** Identities beyond every service and `strongroom-admin` (certificates issued by the same CA). */
  readonly identities?: readonly string[];
}

export interface TestNats {
  /** `tls://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  readonly pkiDir: string;
  readonly configPath: string;
  readonly jetstreamDir: string;
  tlsFor(identity: string): BusTlsFiles;
  /** connectBus as `identity`, the way a service connects. */
  connectAs(identity: string): Promise<NatsConnection>;
  /** Kills nats-server, waits for it to exit and deletes its directory. */
  stop(): Promise<void>;
  /** Kills and starts nats-server again on the same port and JetStream store (fault tests). */
  restart(): Promise<void>;
}

export type NatsHarnessErrorCode = 'NATS_SERVER_NOT_READY';

export class NatsHarnessError extends Error {
  override readonly name = 'NatsHarnessError';
  constructor(
    readonly code: NatsHarnessErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const READY_TIMEOUT_MS = 15_000;
const PROBE_TIMEOUT_MS = 1_000;
const PROBE_INTERVAL_MS = 50;
const EXIT_GRACE_MS = 5_000;
const OUTPUT_KEPT_BYTES = 16_384;

// One PKI shared by the servers a test process runs at once: key generation is the slow part
// and the material is read-only. Deleted with the last server (Jest workers skip 'exit' hooks).
let sharedPki: { readonly dir: string; ready: Promise<void>; users: number } | undefined;
const runningServers = new Set<ChildProcess>();

process.once('exit', () => {
  // A test that forgot stop() must not leave a nats-server behind the Jest worker.
  for (const child of runningServers) child.kill('SIGKILL');
});

async function acquireTestPki(identities: readonly string[]): Promise<string> {
  sharedPki ??= { dir: mkdtempSync(join(tmpdir(), 'strongroom-pki-')), ready: Promise.resolve(), users: 0 };
  const pki = sharedPki;
  pki.users += 1;
  // Idempotent: reuses what exists and issues only identities not seen before.
  pki.ready = pki.ready.then(async () => {
    await initPki({ dir: pki.dir, identities: [...new Set([...BUS_IDENTITIES, ...identities])] });
  });
  try {
    await pki.ready;
  } catch (error) {
    releaseTestPki();
    throw error;
  }
  return pki.dir;
}

function releaseTestPki(): void {
  if (!sharedPki) return;
  sharedPki.users -= 1;
  if (sharedPki.users > 0) return;
  rmSync(sharedPki.dir, { recursive: true, force: true });
  sharedPki = undefined;
}

function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

async function kill(child: ChildProcess): Promise<void> {
  child.kill('SIGTERM');
  if (!(await waitForExit(child, EXIT_GRACE_MS))) {
    child.kill('SIGKILL');
    await waitForExit(child, EXIT_GRACE_MS);
  }
  runningServers.delete(child);
}

interface SpawnedServer {
  readonly child: ChildProcess;
  output(): string;
}

function spawnNatsServer(binary: string, configPath: string): SpawnedServer {
  const child = spawn(binary, ['-c', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  runningServers.add(child);
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-OUTPUT_KEPT_BYTES);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.once('exit', () => runningServers.delete(child));
  return { child, output: () => output };
}

/** Ready means a TLS client with a valid certificate connects, not merely that the port is open. */
async function waitUntilReady(server: SpawnedServer, url: string, tls: BusTlsFiles): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (server.child.exitCode !== null) {
      throw new NatsHarnessError(
        'NATS_SERVER_NOT_READY',
        `nats-server exited (${server.child.exitCode}):\n${server.output()}`,
      );
    }
    try {
      const probe = await connectBus({ servers: url, tls, name: 'test-harness-probe', timeoutMs: PROBE_TIMEOUT_MS });
      await probe.close();
      return;
    } catch (error) {
      lastError = error;
      await new Promise((resolve) => setTimeout(resolve, PROBE_INTERVAL_MS));
    }
  }
  await kill(server.child);
  throw new NatsHarnessError(
    'NATS_SERVER_NOT_READY',
    `nats-server at ${url} refused TLS clients for ${READY_TIMEOUT_MS} ms (${String(lastError)}):\n${server.output()}`,
  );
}

/**
 * A real nats-server with the production configuration (mTLS, verify_and_map, the permission
 * map of bus-access.ts, JetStream) on a free loopback port, in a temporary directory.
 */
export async function startTestNats(options: StartTestNatsOptions = {}): Promise<TestNats> {
  const binary = findNatsServerBinary();
  const pkiDir = await acquireTestPki(options.identities ?? []);
  const paths = pkiPaths(pkiDir);
  const workDir = mkdtempSync(join(tmpdir(), 'strongroom-nats-'));
  const jetstreamDir = join(workDir, 'jetstream');
  mkdirSync(jetstreamDir, { mode: 0o700 });
  const port = await freeStablePort();
  const url = `tls://127.0.0.1:${port}`;
  const configPath = join(workDir, 'nats-server.conf');
  const config = renderNatsServerConfig({
    host: '127.0.0.1',
    port,
    pki: { caFile: paths.caCert, certFile: paths.serverCert, keyFile: paths.serverKey },
    jetstreamDir,
  });
  writeFileSync(configPath, config, { mode: 0o600 });
  const tlsFor = (identity: string) => busTlsFilesFor(pkiDir, identity);

  let server = spawnNatsServer(binary, configPath);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await kill(server.child);
    rmSync(workDir, { recursive: true, force: true });
    releaseTestPki();
  };
  try {
    await waitUntilReady(server, url, tlsFor(OPERATOR_IDENTITY));
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    url,
    port,
    pkiDir,
    configPath,
    jetstreamDir,
    tlsFor,
    connectAs: (identity) => connectBus({ servers: url, tls: tlsFor(identity), name: identity }),
    stop,
    async restart() {
      await kill(server.child);
      server = spawnNatsServer(binary, configPath);
      await waitUntilReady(server, url, tlsFor(OPERATOR_IDENTITY));
    },
  };
}
