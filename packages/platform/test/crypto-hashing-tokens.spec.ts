import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import {
  constantTimeEqual,
  DATA_KEYS_TABLE_SQL,
  EnvelopeEncryption,
  InMemoryDataKeyRepository,
  luhnValid,
  normaliseTokenValue,
  PepperedHasher,
  PgDataKeyRepository,
  Tokenizer,
} from '../src/crypto';
import { LocalSecretsProvider } from '../src/secrets';

let dir: string;
let secrets: LocalSecretsProvider;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sr-hash-'));
  secrets = new LocalSecretsProvider({ stateDir: dir, logger: pino({ level: 'silent' }), nodeEnv: 'test' });
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('PepperedHasher', () => {
  it('is deterministic, self-describing and verifies only the right value', async () => {
    const hasher = new PepperedHasher(secrets, { domain: 'api-key' });
    const hashed = await hasher.hash('sr_live_abc123');
    expect(hashed).toMatch(/^h1\.1\.[A-Za-z0-9_-]{43}$/);
    expect(await hasher.hash('sr_live_abc123')).toBe(hashed);
    expect(await hasher.verify('sr_live_abc123', hashed)).toBe(true);
    expect(await hasher.verify('sr_live_abc124', hashed)).toBe(false);
    expect(await hasher.verify('sr_live_abc123', 'h1.1.short')).toBe(false);
    expect(await hasher.verify('sr_live_abc123', hashed.replace('h1.1.', 'h1.7.'))).toBe(false);
  });

  it('separates domains: a refresh-token hash never verifies as an api-key hash', async () => {
    const apiKeys = new PepperedHasher(secrets, { domain: 'api-key' });
    const refreshTokens = new PepperedHasher(secrets, { domain: 'refresh-token' });
    const hashed = await apiKeys.hash('same-value');
    expect(await refreshTokens.hash('same-value')).not.toBe(hashed);
    expect(await refreshTokens.verify('same-value', hashed)).toBe(false);
  });

  it('rotates the pepper: new hashes use the new version, old hashes still verify and ask for a rehash', async () => {
    const hasher = new PepperedHasher(secrets, { domain: 'client-secret', cacheTtlSeconds: 0.001 });
    const old = await hasher.hash('cs-1');
    expect(await hasher.rotatePepper()).toEqual({ version: 2 });
    const fresh = await hasher.hash('cs-1');
    expect(fresh.startsWith('h1.2.')).toBe(true);
    expect(fresh).not.toBe(old);
    expect(await hasher.verify('cs-1', old)).toBe(true);
    expect(await hasher.needsRehash(old)).toBe(true);
    expect(await hasher.needsRehash(fresh)).toBe(false);
    // Another process (a new hasher on the same provider) agrees on versions.
    const other = new PepperedHasher(secrets, { domain: 'client-secret' });
    expect(await other.verify('cs-1', old)).toBe(true);
    expect(await other.hash('cs-1')).toBe(fresh);
  });

  it('compares in constant time, whatever the lengths', () => {
    expect(constantTimeEqual('abc', 'abc')).toBe(true);
    expect(constantTimeEqual('abc', 'abd')).toBe(false);
    expect(constantTimeEqual('abc', 'abcd')).toBe(false);
    expect(constantTimeEqual(Buffer.from('x'), 'x')).toBe(true);
  });
});

describe('Tokenizer', () => {
  let tokenizer: Tokenizer;
  const card = { tenantId: 'tenant-a', customerId: 'cust-1', kind: 'card_number' as const };

  beforeEach(() => {
    const envelope = new EnvelopeEncryption({ transit: secrets, repository: new InMemoryDataKeyRepository() });
    tokenizer = new Tokenizer(secrets, envelope);
  });

  it('gives the same token for the same card however it is typed, keeps last4, and encrypts the value', async () => {
    const a = await tokenizer.tokenize({ ...card, value: '4111 1111 1111 1111' });
    const b = await tokenizer.tokenize({ ...card, value: '4111-1111-1111-1111' });
    expect(a.token).toMatch(/^tk1\.card_number\.1\.[A-Za-z0-9_-]{43}$/);
    expect(b.token).toBe(a.token);
    expect(a.last4).toBe('1111');
    expect(a.ciphertext).not.toContain('4111');
    expect(a.ciphertext).not.toBe(b.ciphertext);
    expect(await tokenizer.detokenize({ ...card, ciphertext: a.ciphertext })).toBe('4111111111111111');
    await expect(
      tokenizer.detokenize({ ...card, customerId: 'cust-2', ciphertext: a.ciphertext }),
    ).rejects.toMatchObject({ code: 'DECRYPTION_FAILED' });
  });

  it('separates tokens by kind and by tenant', async () => {
    const value = '4111111111111111';
    const asCard = await tokenizer.tokenize({ ...card, value });
    const asNationalId = await tokenizer.tokenize({ ...card, kind: 'national_id', value });
    const otherTenant = await tokenizer.tokenize({ ...card, tenantId: 'tenant-b', value });
    const sameTenantOtherCustomer = await tokenizer.tokenize({ ...card, customerId: 'cust-9', value });
    expect(asNationalId.token.split('.')[3]).not.toBe(asCard.token.split('.')[3]);
    expect(otherTenant.token).not.toBe(asCard.token);
    // Within a tenant the token finds the card whoever's customer record holds it.
    expect(sameTenantOtherCustomer.token).toBe(asCard.token);
  });

  it('refuses card numbers that fail Luhn or length, and normalises national ids', async () => {
    await expect(tokenizer.tokenize({ ...card, value: '4111 1111 1111 1112' })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    });
    await expect(tokenizer.tokenize({ ...card, value: '4242' })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    expect(normaliseTokenValue('national_id', ' ab 123-456.c ')).toBe('AB123456C');
    expect(luhnValid('79927398713')).toBe(true);
    expect(luhnValid('79927398710')).toBe(false);
    expect(luhnValid('4012888888881881')).toBe(true);
  });

  it('still finds values tokenized before a key rotation', async () => {
    const before = await tokenizer.tokenize({ ...card, value: '4012888888881881' });
    expect(await tokenizer.rotateKey()).toEqual({ version: 2 });
    const fresh = new Tokenizer(
      secrets,
      new EnvelopeEncryption({ transit: secrets, repository: new InMemoryDataKeyRepository() }),
    );
    const lookups = await fresh.lookupTokens({ ...card, value: '4012 8888 8888 1881' });
    expect(lookups).toHaveLength(2);
    expect(lookups[0]).toMatch(/^tk1\.card_number\.2\./);
    expect(lookups).toContain(before.token);
  });
});

describe('PgDataKeyRepository', () => {
  const row = {
    id: '3f1c2b4a-0000-4000-8000-000000000001',
    scope: 'tenant:a',
    version: 2,
    wrapped_key: 'vault:v1:AAAA',
    kek_version: 1,
    created_at: '2025-01-01T00:00:00.000Z',
    retired_at: null,
  };

  it('reads rows from a pg Pool ({rows}) and a TypeORM EntityManager (array) alike', async () => {
    const calls: Array<{ sql: string; params: unknown[] | undefined }> = [];
    const pool = {
      query: async (sql: string, params?: unknown[]) => {
        calls.push({ sql, params });
        return { rows: [row] };
      },
    };
    const manager = { query: async () => [row] };
    for (const db of [pool, manager]) {
      const key = await new PgDataKeyRepository(db).findActive('tenant:a');
      expect(key).toEqual({
        id: row.id,
        scope: 'tenant:a',
        version: 2,
        wrappedKey: 'vault:v1:AAAA',
        kekVersion: 1,
        createdAt: new Date('2025-01-01T00:00:00Z'),
        retiredAt: null,
      });
    }
    expect(calls[0]!.params).toEqual(['tenant:a']);
    expect(calls[0]!.sql).toMatch(/retired_at IS NULL ORDER BY version DESC LIMIT 1/);
  });

  it('ships the data_keys table for migrations', () => {
    expect(DATA_KEYS_TABLE_SQL).toMatch(/CREATE TABLE IF NOT EXISTS data_keys/);
    for (const column of [
      'id uuid',
      'scope text',
      'version integer',
      'wrapped_key text',
      'kek_version integer',
      'created_at',
      'retired_at',
    ]) {
      expect(DATA_KEYS_TABLE_SQL).toContain(column);
    }
    expect(DATA_KEYS_TABLE_SQL).toContain('UNIQUE (scope, version)');
  });
});
