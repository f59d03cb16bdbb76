import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freeStablePort } from '@strongroom/testing';

const ROOT = resolve(__dirname, '../..');
const START_TIMEOUT_MS = 180_000;
const STOP_DEADLINE_MS = 10_000;

/** Processes whose command line or environment mentions the state dir: ours, wherever they hide. */
function processesOf(stateDir: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
    if (Number(pid) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
      if (cmdline.includes(stateDir) || environ.includes(`STRONGROOM_STATE_DIR=${stateDir}`)) {
        found.push(`${pid}: ${cmdline.replaceAll('\0', ' ').trim()}`);
      }
    } catch {
      // The process ended while we looked, or is not ours to read.
    }
  }
  return found;
}

/**
 * `npm start` as a newcomer runs it: no DATABASE_URL (embedded Postgres), a clean state dir,
 * the URLs printed, /health all up, then Ctrl-C and nothing left running.
 */
describe('npm start', () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'strongroom-start-'));
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    const { DATABASE_URL: _ignored, ...inherited } = process.env;
    env = {
      ...inherited,
      STRONGROOM_STATE_DIR: stateDir,
      PORT: String(await freeStablePort()),
      NATS_PORT: String(await freeStablePort()),
      POSTGRES_PORT: String(await freeStablePort()),
      STRONGROOM_OPS_PORTS: 'random',
    };
  });

  afterAll(() => {
    for (const line of processesOf(stateDir)) process.kill(Number(line.split(':')[0]), 'SIGKILL');
    const marker = join(stateDir, 'postgres', 'cluster.json');
    if (existsSync(marker))
      rmSync(JSON.parse(readFileSync(marker, 'utf8')).clusterDir, { recursive: true, force: true });
    rmSync(stateDir, { recursive: true, force: true });
  });

  async function startUntilUp(): Promise<{ child: ChildProcess; output: () => string; seconds: number }> {
    const startedAt = Date.now();
    // Its own process group, like a terminal's foreground job: Ctrl-C signals the whole group.
    const child = spawn('npm', ['start'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    await new Promise<void>((resolveUp, reject) => {
      const timer = setTimeout(() => reject(new Error(`not up in time:\n${output}`)), START_TIMEOUT_MS);
      const poll = setInterval(() => {
        if (output.includes('Press Ctrl-C to stop.')) {
          clearInterval(poll);
          clearTimeout(timer);
          resolveUp();
        }
      }, 100);
      child.once('exit', (code) => {
        clearInterval(poll);
        clearTimeout(timer);
        reject(new Error(`npm start exited (${code}):\n${output}`));
      });
    });
    return { child, output: () => output, seconds: (Date.now() - startedAt) / 1000 };
  }

  /** Ctrl-C: SIGINT to the process group; resolves with the time until no process of ours is left. */
  async function interruptAndWait(child: ChildProcess): Promise<number> {
    const stoppedAt = Date.now();
    process.kill(-child.pid!, 'SIGINT');
    while (processesOf(stateDir).length > 0 && Date.now() - stoppedAt < 2 * STOP_DEADLINE_MS) {
      await new Promise((r) => setTimeout(r, 100));
    }
    return Date.now() - stoppedAt;
  }

  it('starts from a clean state, serves /health with every service up, and stops cleanly on Ctrl-C', async () => {
    const { child, output } = await startUntilUp();
    const gatewayUrl = `http://127.0.0.1:${env.PORT}`;
    expect(output()).toContain(`gateway      ${gatewayUrl}`);
    const health = await fetch(`${gatewayUrl}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'up' });
    const demo = JSON.parse(readFileSync(join(stateDir, 'demo.json'), 'utf8'));
    expect(demo).toMatchObject({ gatewayUrl, tenantSlug: 'demo', adminEmail: 'admin@demo.strongroom.test' });
    expect(demo.tenantId).toMatch(/^[0-9a-f-]{36}$/);
    expect(output()).toContain(`demo admin   admin@demo.strongroom.test / ${demo.adminPassword}`);

    const stopMs = await interruptAndWait(child);
    expect(processesOf(stateDir)).toEqual([]);
    expect(stopMs).toBeLessThan(STOP_DEADLINE_MS);

    // No password the stack generated (database roles, demo admin) appears in any service log.
    const credentials = JSON.parse(readFileSync(join(stateDir, 'credentials.json'), 'utf8')) as Record<string, string>;
    const secrets = Object.entries(credentials)
      .filter(([name]) => name !== 'demo-tenant-id')
      .map(([, value]) => value);
    const logs = readdirSync(join(stateDir, 'logs')).map((file) => readFileSync(join(stateDir, 'logs', file), 'utf8'));
    expect(logs.join('').length).toBeGreaterThan(0);
    for (const secret of [...secrets, demo.adminPassword].filter((value) => value.length >= 16)) {
      expect(logs.some((log) => log.includes(secret))).toBe(false);
    }
  }, 240_000);

  it('reuses the existing state on a second start', async () => {
    const caCreated = statSync(join(stateDir, 'pki', 'ca.crt')).mtimeMs;
    const cluster = existsSync(join(stateDir, 'postgres', 'cluster.json'))
      ? JSON.parse(readFileSync(join(stateDir, 'postgres', 'cluster.json'), 'utf8')).clusterDir
      : join(stateDir, 'postgres');
    expect(existsSync(join(cluster, 'PG_VERSION'))).toBe(true);
    const demoBefore = JSON.parse(readFileSync(join(stateDir, 'demo.json'), 'utf8'));
    const { child } = await startUntilUp();
    expect(statSync(join(stateDir, 'pki', 'ca.crt')).mtimeMs).toBe(caCreated);
    expect(JSON.parse(readFileSync(join(stateDir, 'demo.json'), 'utf8'))).toMatchObject({
      tenantId: demoBefore.tenantId,
      adminPassword: demoBefore.adminPassword,
    });
    expect((await fetch(`http://127.0.0.1:${env.PORT}/health`)).status).toBe(200);
    expect(await interruptAndWait(child)).toBeLessThan(STOP_DEADLINE_MS);
    expect(processesOf(stateDir)).toEqual([]);
  }, 240_000);
});
