import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type RunningStack, startStack } from '@strongroom/cli';
import { freeStablePort, testAdminUrl } from '@strongroom/testing';
import { Client } from 'pg';

const ROOT = resolve(__dirname, '../..');

export interface TestStack {
  stack: RunningStack;
  stateDir: string;
  /** A superuser URL of one service's database (to look at what is stored, as an attacker with the disk would). */
  adminUrlOf(service: string): Promise<string>;
  /**
   * Starts another gateway process (a second replica: same bus, same database) on a free port;
   * resolves when it answers /health. Stopped by dispose, or by the returned stop().
   */
  startGatewayReplica(env?: NodeJS.ProcessEnv): Promise<{ url: string; stop(): Promise<void> }>;
  /** Stops the stack (unless already stopped), drops its databases, removes its state. */
  dispose(options?: { stopped?: boolean }): Promise<void>;
}

/** The whole platform as `npm start` runs it (built apps, one process each), on free ports and its own databases. */
export async function startTestStack(
  env: NodeJS.ProcessEnv = {},
  log: (line: string) => void = () => {},
): Promise<TestStack> {
  const stateDir = mkdtempSync(join(tmpdir(), 'strongroom-stack-'));
  const databasePrefix = `sr_e2e_${randomBytes(4).toString('hex')}`;
  const stack = await startStack({
    rootDir: ROOT,
    stateDir,
    env: {
      ...process.env,
      DATABASE_URL: await testAdminUrl(),
      STRONGROOM_DB_PREFIX: databasePrefix,
      // Servers that bind seconds later: ports outside the ephemeral range, which client sockets take.
      NATS_PORT: String(await freeStablePort()),
      PORT: String(await freeStablePort()),
      STRONGROOM_OPS_PORTS: 'random',
      LOG_LEVEL: 'warn',
      ...env,
    },
    log,
  });
  const replicas: ChildProcess[] = [];
  const stopReplica = (child: ChildProcess) =>
    new Promise<void>((resolveStop) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolveStop();
      child.once('exit', () => resolveStop());
      child.kill('SIGTERM');
    });
  return {
    stack,
    stateDir,
    async startGatewayReplica(env = {}) {
      const port = String(await freeStablePort());
      const log = openSync(join(stateDir, 'logs', `gateway-replica-${port}.log`), 'a');
      const child = spawn(process.execPath, [join(ROOT, 'apps', 'gateway', 'dist', 'src', 'main.js')], {
        env: { ...stack.gatewayEnv, PORT: port, OPS_PORT: '0', ...env },
        stdio: ['ignore', log, log],
      });
      replicas.push(child);
      const url = `http://127.0.0.1:${port}`;
      const deadline = Date.now() + 30_000;
      for (;;) {
        if (child.exitCode !== null) throw new Error(`the gateway replica exited (${child.exitCode}); see its log`);
        const health = await fetch(`${url}/health`).catch(() => undefined);
        if (health?.status === 200) break;
        if (Date.now() > deadline) throw new Error('the gateway replica did not answer /health within 30 s');
        await new Promise((resolveWait) => setTimeout(resolveWait, 200));
      }
      return { url, stop: () => stopReplica(child) };
    },
    adminUrlOf: async (service) => `${(await testAdminUrl()).replace(/\/[^/]*$/, '')}/${databasePrefix}_${service}`,
    async dispose(options = {}) {
      await Promise.all(replicas.map(stopReplica));
      if (!options.stopped) await stack.stop();
      const admin = new Client({ connectionString: await testAdminUrl() });
      await admin.connect();
      const { rows } = await admin.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1', [
        `${databasePrefix}_%`,
      ]);
      for (const { datname } of rows) await admin.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
      await admin.end();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

/** A client_credentials access token from `gatewayUrl` (the demo client's unless another is given); throws unless 200. */
export async function clientCredentialsToken(
  gatewayUrl: string,
  client: { clientId: string; clientSecret: string },
): Promise<string> {
  const response = await fetch(`${gatewayUrl}/oauth/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'grant_type=client_credentials',
  });
  if (response.status !== 200)
    throw new Error(`token for ${client.clientId}: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { access_token: string }).access_token;
}
