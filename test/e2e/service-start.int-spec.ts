import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { initPki } from '@strongroom/cli';
import { freePort, testAdminUrl } from '@strongroom/testing';

const ROOT = resolve(__dirname, '../..');
const LEDGER_MAIN = join(ROOT, 'apps', 'ledger', 'dist', 'src', 'main.js');

function startLedger(env: NodeJS.ProcessEnv) {
  return spawnSync(process.execPath, [LEDGER_MAIN], {
    env: { PATH: process.env.PATH, ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
}

/** A misconfigured service stops at once and says why, instead of hanging or starting half-way. */
describe('a service that cannot start', () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'strongroom-misconfigured-'));

  afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

  it('exits 1 naming a missing variable', () => {
    const result = startLedger({ STRONGROOM_STATE_DIR: stateDir });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('DATABASE_RUNTIME_URL');
  });

  it('exits 1 naming the certificate problem when its client certificate comes from another CA', async () => {
    // The bus trusts one CA; the service presents a certificate from a CA of its own.
    const trusted = join(stateDir, 'trusted');
    const foreign = join(stateDir, 'foreign');
    await initPki({ dir: trusted, identities: ['ledger'] });
    await initPki({ dir: foreign, identities: ['ledger'] });
    rmSync(join(foreign, 'ca.crt'));
    const { copyFileSync } = await import('node:fs');
    copyFileSync(join(trusted, 'ca.crt'), join(foreign, 'ca.crt'));
    const result = startLedger({
      STRONGROOM_STATE_DIR: stateDir,
      NATS_URL: `tls://127.0.0.1:${await freePort()}`,
      NATS_PKI_DIR: foreign,
      DATABASE_RUNTIME_URL: await testAdminUrl(),
      MIGRATE_ON_START: 'false',
      OPS_PORT: '0',
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/BusTlsError: .*(not issued|issuer|CA)/i);
  });
});
