import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type RunningStack, startStack } from '@strongroom/cli';
import { freePort, testAdminUrl } from '@strongroom/testing';
import { Client } from 'pg';

const ROOT = resolve(__dirname, '../..');

export interface TestStack {
  stack: RunningStack;
  stateDir: string;
  /** A superuser URL of one service's database (to look at what is stored, as an attacker with the disk would). */
  adminUrlOf(service: string): Promise<string>;
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
      NATS_PORT: String(await freePort()),
      PORT: String(await freePort()),
      STRONGROOM_OPS_PORTS: 'random',
      LOG_LEVEL: 'warn',
      ...env,
    },
    log,
  });
  return {
    stack,
    stateDir,
    adminUrlOf: async (service) => `${(await testAdminUrl()).replace(/\/[^/]*$/, '')}/${databasePrefix}_${service}`,
    async dispose(options = {}) {
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
