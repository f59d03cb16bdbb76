import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { createLogger } from '../src/logging';
import { createSecretsProvider, LocalSecretsProvider, SecretsError, VaultSecretsProvider } from '../src/secrets';

const silent = pino({ level: 'silent' });

function capturedLogger() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      callback();
    },
  });
  return { logger: createLogger({ service: 'test', destination }), lines };
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

describe('LocalSecretsProvider', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sr-local-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('refuses to construct when NODE_ENV=production, pointing at VAULT_ADDR', () => {
    const construct = () => new LocalSecretsProvider({ stateDir: dir, logger: silent, nodeEnv: 'production' });
    expect(construct).toThrow(SecretsError);
    expect(construct).toThrow(/VAULT_ADDR/);
    expect(() => createSecretsProvider({ nodeEnv: 'production', stateDir: dir, logger: silent })).toThrow(/VAULT_ADDR/);
  });

  it('warns loudly, once, when constructed', async () => {
    const { logger, lines } = capturedLogger();
    const secrets = new LocalSecretsProvider({ stateDir: dir, logger, nodeEnv: 'development' });
    await secrets.writeSecret('a/b', { k: 'v' });
    await secrets.readSecret('a/b');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({
      level: 'warn',
      msg: expect.stringMatching(/LOCAL SECRETS.*VAULT_ADDR/),
    });
  });

  it('keeps no plaintext on disk: secret values, paths, transit plaintexts and keys are all encrypted', async () => {
    const secrets = new LocalSecretsProvider({ stateDir: dir, logger: silent, nodeEnv: 'test' });
    const secretValue = 'correct-horse-battery-staple';
    await secrets.writeSecret('platform/peppers', { pepper: secretValue });
    const plaintext = Buffer.from('a-data-encryption-key-32-bytes!!');
    await secrets.encrypt('kek', plaintext);
    await secrets.ensureKey('signing', 'ed25519');

    const files = await filesUnder(dir);
    expect(files.length).toBeGreaterThanOrEqual(4);
    for (const file of files) {
      const bytes = await readFile(file);
      for (const needle of [secretValue, 'platform/peppers', 'pepper', plaintext.toString('utf8'), 'privateKey']) {
        expect(bytes.includes(needle)).toBe(false);
        expect(bytes.includes(Buffer.from(needle).toString('base64'))).toBe(false);
      }
    }
  });

  it('writes files 0600 in directories 0700 and leaves no temporary files', async () => {
    const secrets = new LocalSecretsProvider({ stateDir: dir, logger: silent, nodeEnv: 'test' });
    await secrets.writeSecret('a/b', { k: 'v' });
    await secrets.ensureKey('kek', 'aes256-gcm96');
    for (const sub of ['', 'kv', 'transit']) expect((await stat(join(dir, sub))).mode & 0o777).toBe(0o700);
    const files = await filesUnder(dir);
    expect(files.some((f) => f.endsWith('master.key'))).toBe(true);
    expect(files.some((f) => f.endsWith('.tmp'))).toBe(false);
    for (const file of files) expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await readFile(join(dir, 'master.key'))).length).toBe(32);
  });

  it('reads back what an earlier process wrote (state survives a restart)', async () => {
    const first = new LocalSecretsProvider({ stateDir: dir, logger: silent, nodeEnv: 'test' });
    await first.writeSecret('a/b', { k: 'v1' });
    const ciphertext = await first.encrypt('kek', Buffer.from('x'));
    const second = new LocalSecretsProvider({ stateDir: dir, logger: silent, nodeEnv: 'test' });
    expect(await second.readSecret('a/b')).toEqual({ data: { k: 'v1' }, version: 1 });
    expect(await second.decrypt('kek', ciphertext)).toEqual(Buffer.from('x'));
  });

  it('fails with a typed error, never garbage, when the master key is replaced', async () => {
    await new LocalSecretsProvider({ stateDir: dir, logger: silent, nodeEnv: 'test' }).writeSecret('a/b', { k: 'v' });
    await writeFile(join(dir, 'master.key'), Buffer.alloc(32, 7), { mode: 0o600 });
    const reopened = new LocalSecretsProvider({ stateDir: dir, logger: silent, nodeEnv: 'test' });
    await expect(reopened.readSecret('a/b')).rejects.toMatchObject({ code: 'INVALID' });
  });

  it('refuses a master key that others can read', async () => {
    await new LocalSecretsProvider({ stateDir: dir, logger: silent, nodeEnv: 'test' }).writeSecret('a/b', { k: 'v' });
    await chmod(join(dir, 'master.key'), 0o644);
    const reopened = new LocalSecretsProvider({ stateDir: dir, logger: silent, nodeEnv: 'test' });
    await expect(reopened.readSecret('a/b')).rejects.toThrow(/chmod 600/);
  });

  it('lets exactly one of two concurrent check-and-set writes win', async () => {
    const secrets = new LocalSecretsProvider({ stateDir: dir, logger: silent, nodeEnv: 'test' });
    const results = await Promise.allSettled([
      secrets.writeSecret('race', { who: 'a' }, { cas: 0 }),
      secrets.writeSecret('race', { who: 'b' }, { cas: 0 }),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(
      results.filter((r) => r.status === 'rejected' && (r.reason as SecretsError).code === 'CAS_MISMATCH'),
    ).toHaveLength(1);
  });

  it('keeps the last 10 versions, like Vault KV v2 by default', async () => {
    const secrets = new LocalSecretsProvider({ stateDir: dir, logger: silent, nodeEnv: 'test' });
    for (let i = 1; i <= 12; i += 1) await secrets.writeSecret('many', { i: String(i) });
    expect((await secrets.secretVersions('many')).map((v) => v.version)).toEqual([3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(await secrets.readSecret('many', { version: 1 })).toBeNull();
    expect(await secrets.readSecret('many')).toEqual({ data: { i: '12' }, version: 12 });
  });
});

describe('createSecretsProvider', () => {
  it('picks Vault when VAULT_ADDR is set, local otherwise', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sr-pick-'));
    try {
      const vault = createSecretsProvider({
        vaultAddr: 'http://127.0.0.1:8200',
        vaultToken: 't',
        nodeEnv: 'production',
        logger: silent,
      });
      expect(vault).toBeInstanceOf(VaultSecretsProvider);
      expect(createSecretsProvider({ nodeEnv: 'development', stateDir: dir, logger: silent }).kind).toBe('local');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a Vault configuration without a credential, or with half an AppRole', () => {
    const base = { vaultAddr: 'http://127.0.0.1:8200', nodeEnv: 'production', logger: silent };
    expect(() => createSecretsProvider(base)).toThrow(/VAULT_TOKEN/);
    expect(() => createSecretsProvider({ ...base, vaultRoleId: 'r' })).toThrow(/VAULT_SECRET_ID/);
  });
});
