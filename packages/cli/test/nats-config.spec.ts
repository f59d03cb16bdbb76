import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUS_IDENTITIES, busUserOf } from '@strongroom/contracts';
import { findNatsServerBinary } from '../src';
import { runCli } from '../src/main';
import { renderDockerNatsServerConfig, renderNatsServerConfig } from '../src/nats/config';
import { initPki, pkiPaths } from '../src/pki/pki';

const CHECKED_IN = join(__dirname, '../../../infra/nats/nats-server.conf');
const pki = { caFile: '/pki/ca.crt', certFile: '/pki/server.crt', keyFile: '/pki/server.key' };
const base = { host: '127.0.0.1', port: 4223, pki, jetstreamDir: '/data/js' };

let scratch: string;
beforeEach(() => {
  scratch = mkdtempSync(join(tmpdir(), 'strongroom-nats-config-spec-'));
});
afterEach(() => {
  rmSync(scratch, { recursive: true, force: true });
});

describe('renderNatsServerConfig', () => {
  it('matches the checked-in infra/nats/nats-server.conf (regenerate: strongroom nats config --docker --out infra/nats/nats-server.conf)', () => {
    expect(readFileSync(CHECKED_IN, 'utf8')).toBe(renderDockerNatsServerConfig());
  });

  it('requires TLS with a client certificate mapped to a user, and bounds the payload', () => {
    const config = renderNatsServerConfig(base);

    expect(config).toContain('verify_and_map: true');
    expect(config).toContain('ca_file: "/pki/ca.crt"');
    expect(config).toContain('max_payload: 8388608');
    expect(config).toContain('store_dir: "/data/js"');
    expect(config).not.toMatch(/^\s*(http|websocket|leafnodes|mqtt|no_auth_user|password)\b/m);
  });

  it('declares one user per identity, quoted as its RFC 2253 subject', () => {
    const config = renderNatsServerConfig(base);

    for (const identity of BUS_IDENTITIES) expect(config).toContain(`user: "${busUserOf(identity)}"`);
    expect(config.match(/^\s+user: /gm)).toHaveLength(BUS_IDENTITIES.length);
  });

  it('lets only backends answer requests, a bounded number of times', () => {
    const config = renderNatsServerConfig(base);

    expect(config.match(/allow_responses: \{ max: 2, expires: "60s" \}/g)).toHaveLength(6);
  });

  it('binds monitoring to loopback only', () => {
    expect(renderNatsServerConfig({ ...base, monitorPort: 8222 })).toContain('http: "127.0.0.1:8222"');
  });

  it('refuses a value that would break out of its quotes, and a port out of range', () => {
    expect(() => renderNatsServerConfig({ ...base, jetstreamDir: '/data"\n}\nauthorization {' })).toThrow(
      expect.objectContaining({ code: 'NATS_CONFIG_UNSAFE_STRING' }),
    );
    expect(() => renderNatsServerConfig({ ...base, port: 70_000 })).toThrow(
      expect.objectContaining({ code: 'NATS_CONFIG_INVALID_PORT' }),
    );
  });

  it('is accepted by nats-server itself', async () => {
    const paths = pkiPaths(join(scratch, 'pki'));
    await initPki({ dir: paths.dir, identities: ['strongroom-admin'] });
    const configPath = join(scratch, 'nats-server.conf');
    writeFileSync(
      configPath,
      renderNatsServerConfig({
        ...base,
        pki: { caFile: paths.caCert, certFile: paths.serverCert, keyFile: paths.serverKey },
        jetstreamDir: join(scratch, 'js'),
      }),
    );

    const check = spawnSync(findNatsServerBinary(), ['-t', '-c', configPath], { encoding: 'utf8', timeout: 10_000 });

    expect(`${check.status} ${check.stderr}`).toMatch(/^0 /);
  });
});

describe('strongroom CLI', () => {
  it('writes the nats config for a PKI directory with `nats config --out`', async () => {
    const out = join(scratch, 'nats.conf');
    const lines: string[] = [];

    const exitCode = await runCli(['nats', 'config', '--pki-dir', '/srv/pki', '--port', '4999', '--out', out], (line) =>
      lines.push(line),
    );

    expect(exitCode).toBe(0);
    expect(readFileSync(out, 'utf8')).toContain('ca_file: "/srv/pki/ca.crt"');
    expect(readFileSync(out, 'utf8')).toContain('port: 4999');
  });

  it('creates the PKI with `pki init`, then finds nothing to do', async () => {
    const lines: string[] = [];
    const dir = join(scratch, 'pki');

    expect(await runCli(['pki', 'init', '--dir', dir], (line) => lines.push(line))).toBe(0);
    expect(await runCli(['pki', 'init', '--dir', dir], (line) => lines.push(line))).toBe(0);

    expect(lines).toEqual([expect.stringContaining('issued'), `PKI in ${dir} is complete and valid`]);
  });

  it('answers an unknown command with the usage and exit code 2', async () => {
    const lines: string[] = [];

    expect(await runCli(['pki', 'burn'], (line) => lines.push(line))).toBe(2);
    expect(lines.join('\n')).toContain('strongroom pki init');
  });
});
