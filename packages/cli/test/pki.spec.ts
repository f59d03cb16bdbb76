import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUS_IDENTITIES } from '@strongroom/contracts';
import { checkBusTlsFiles } from '@strongroom/platform';
import { initPki, PkiError, pkiPaths, rotatePki } from '../src/pki/pki';

const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const DAY_MS = 86_400_000;

let dir: string;
const certificateAt = (file: string) => new X509Certificate(readFileSync(file));
const modeOf = (file: string) => statSync(file).mode & 0o777;

beforeEach(() => {
  dir = join(mkdtempSync(join(tmpdir(), 'strongroom-pki-spec-')), 'pki');
});

afterEach(() => {
  rmSync(join(dir, '..'), { recursive: true, force: true });
});

describe('initPki', () => {
  it('issues a CA, a server certificate and one client certificate per service and the operator', async () => {
    const report = await initPki({ dir });
    const paths = pkiPaths(dir);

    expect(report.issued).toEqual(['ca', 'server', ...BUS_IDENTITIES]);
    const ca = certificateAt(paths.caCert);
    expect(ca.ca).toBe(true);
    expect(ca.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    for (const identity of BUS_IDENTITIES) {
      const client = certificateAt(paths.client(identity).certFile);
      expect(client.subject).toBe(`O=Strongroom\nCN=${identity}`);
      expect(client.keyUsage).toEqual([CLIENT_AUTH]);
      expect(client.ca).toBe(false);
      expect(client.verify(ca.publicKey)).toBe(true);
      expect(checkBusTlsFiles(paths.client(identity)).identity).toBe(identity);
    }
  });

  it('issues the server certificate for loopback names plus the extra hosts, for server use only', async () => {
    await initPki({ dir, serverHosts: ['nats', '10.0.0.7'] });
    const server = certificateAt(pkiPaths(dir).serverCert);

    expect(server.keyUsage).toEqual([SERVER_AUTH]);
    for (const host of ['localhost', 'nats']) expect(server.checkHost(host)).toBe(host);
    for (const ip of ['127.0.0.1', '::1', '10.0.0.7']) expect(server.checkIP(ip)).toBe(ip);
    expect(server.checkHost('evil.example')).toBeUndefined();
  });

  it('keeps private keys 0600 and the directories 0700', async () => {
    await initPki({ dir });
    const paths = pkiPaths(dir);

    expect(modeOf(paths.dir)).toBe(0o700);
    expect(modeOf(paths.clientsDir)).toBe(0o700);
    for (const key of [paths.caKey, paths.serverKey, ...BUS_IDENTITIES.map((id) => paths.client(id).keyFile)]) {
      expect(modeOf(key)).toBe(0o600);
      expect(readFileSync(key, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    }
  });

  it('reuses valid material and issues only what is missing', async () => {
    await initPki({ dir });
    const paths = pkiPaths(dir);
    const caBefore = readFileSync(paths.caCert, 'utf8');
    const auditBefore = readFileSync(paths.client('audit').certFile, 'utf8');
    unlinkSync(paths.client('ledger').keyFile);

    const report = await initPki({ dir, identities: [...BUS_IDENTITIES, 'reporting'] });

    expect(report.issued).toEqual(['ledger', 'reporting']);
    expect(readFileSync(paths.caCert, 'utf8')).toBe(caBefore);
    expect(readFileSync(paths.client('audit').certFile, 'utf8')).toBe(auditBefore);
    expect(checkBusTlsFiles(paths.client('ledger')).identity).toBe('ledger');
    expect((await initPki({ dir })).issued).toEqual([]);
  });

  it('re-issues leaves that expire within a week, and the server certificate when hosts change', async () => {
    const now = new Date();
    await initPki({ dir, validityDays: 10, now });

    expect((await initPki({ dir, now: new Date(now.getTime() + 5 * DAY_MS) })).issued).toEqual([
      'server',
      ...BUS_IDENTITIES,
    ]);
    expect((await initPki({ dir, serverHosts: ['nats'] })).issued).toEqual(['server']);
  });

  it('refuses an identity that cannot be a safe CN, file name and nats user', async () => {
    await expect(initPki({ dir, identities: ['ledger,O=Evil'] })).rejects.toMatchObject({
      code: 'PKI_INVALID_IDENTITY',
    });
    await expect(initPki({ dir, identities: ['../ledger'] })).rejects.toBeInstanceOf(PkiError);
  });
});

describe('rotatePki', () => {
  it('re-issues every leaf under the same CA', async () => {
    await initPki({ dir });
    const paths = pkiPaths(dir);
    const caBefore = readFileSync(paths.caCert, 'utf8');
    const ledgerBefore = readFileSync(paths.client('ledger').certFile, 'utf8');

    const report = await rotatePki({ dir });

    expect(report.issued).toEqual(['server', ...BUS_IDENTITIES]);
    expect(readFileSync(paths.caCert, 'utf8')).toBe(caBefore);
    expect(readFileSync(paths.client('ledger').certFile, 'utf8')).not.toBe(ledgerBefore);
    expect(checkBusTlsFiles(paths.client('ledger')).identity).toBe('ledger');
  });

  it('with the CA, re-issues the CA and every leaf under it, keeping identities added later', async () => {
    await initPki({ dir, identities: [...BUS_IDENTITIES, 'reporting'] });
    const paths = pkiPaths(dir);
    const caBefore = readFileSync(paths.caCert, 'utf8');

    const report = await rotatePki({ dir, rotateCa: true });

    expect(report.issued).toContain('reporting');
    expect(readFileSync(paths.caCert, 'utf8')).not.toBe(caBefore);
    for (const identity of [...BUS_IDENTITIES, 'reporting'])
      expect(checkBusTlsFiles(paths.client(identity)).identity).toBe(identity);
    expect(certificateAt(paths.serverCert).verify(certificateAt(paths.caCert).publicKey)).toBe(true);
  });

  it('refuses to rotate leaves without a CA', async () => {
    await expect(rotatePki({ dir })).rejects.toMatchObject({ code: 'PKI_CA_MISSING' });
  });
});
