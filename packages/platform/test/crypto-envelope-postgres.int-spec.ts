import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, type TestDatabase } from '@strongroom/testing';
import { Pool } from 'pg';
import {
  createLogger,
  DATA_KEYS_TABLE_SQL,
  EnvelopeEncryption,
  LocalSecretsProvider,
  PgDataKeyRepository,
} from '../src';

describe('envelope encryption with data keys stored in Postgres', () => {
  let database: TestDatabase;
  let pool: Pool;
  let envelope: EnvelopeEncryption;
  let repository: PgDataKeyRepository;
  const secretsDir = mkdtempSync(join(tmpdir(), 'strongroom-keys-'));

  beforeAll(async () => {
    database = await createTestDatabase('data_keys');
    pool = new Pool({ connectionString: database.ownerUrl, max: 4 });
    await pool.query(DATA_KEYS_TABLE_SQL);
    repository = new PgDataKeyRepository(pool);
    envelope = new EnvelopeEncryption({
      transit: new LocalSecretsProvider({
        stateDir: secretsDir,
        logger: createLogger({ service: 'test', level: 'silent' }),
        nodeEnv: 'test',
      }),
      repository,
    });
  });

  afterAll(async () => {
    await pool?.end();
    await database?.drop();
    rmSync(secretsDir, { recursive: true, force: true });
  });

  it('round-trips, keeps old ciphertexts readable after rotation, and stores only wrapped keys', async () => {
    const context = { tenantId: randomUUID(), purpose: 'kyc.document' };
    const before = await envelope.encrypt(context, 'national id 63-123456-X-42');
    await envelope.rotateDataKey(context);
    const after = await envelope.encrypt(context, 'passport P1234567');
    expect((await envelope.decrypt(context, before)).toString()).toBe('national id 63-123456-X-42');
    expect((await envelope.decrypt(context, after)).toString()).toBe('passport P1234567');

    const { rows } = await pool.query('SELECT wrapped_key, retired_at FROM data_keys ORDER BY version');
    expect(rows).toHaveLength(2);
    expect(rows[0].retired_at).not.toBeNull();
    for (const row of rows) expect(String(row.wrapped_key)).toMatch(/^local:v\d+:/);
  });

  it("refuses to decrypt one tenant's ciphertext in another tenant's context", async () => {
    const sealed = await envelope.encrypt({ tenantId: randomUUID(), purpose: 'kyc.document' }, 'secret');
    await expect(envelope.decrypt({ tenantId: randomUUID(), purpose: 'kyc.document' }, sealed)).rejects.toMatchObject({
      name: 'CryptoError',
    });
  });
});
