import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import {
  BoundedTtlCache,
  CryptoError,
  DATA_KEY_ROTATION_PERIOD_DAYS,
  dueForRotation,
  EnvelopeEncryption,
  InMemoryDataKeyRepository,
} from '../src/crypto';
import { LocalSecretsProvider } from '../src/secrets';

const tenantA = { tenantId: 'tenant-a', purpose: 'kyc.document' };

function flip(ciphertext: string, field: 2 | 3 | 4): string {
  const parts = ciphertext.split('.');
  const bytes = Buffer.from(parts[field]!, 'base64url');
  bytes[0]! ^= 0x01;
  parts[field] = bytes.toString('base64url');
  return parts.join('.');
}

describe('EnvelopeEncryption', () => {
  let dir: string;
  let secrets: LocalSecretsProvider;
  let repository: InMemoryDataKeyRepository;
  let envelope: EnvelopeEncryption;
  let nowMs: number;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sr-envelope-'));
    secrets = new LocalSecretsProvider({ stateDir: dir, logger: pino({ level: 'silent' }), nodeEnv: 'test' });
    repository = new InMemoryDataKeyRepository();
    nowMs = Date.parse('2025-01-01T00:00:00Z');
    envelope = new EnvelopeEncryption({ transit: secrets, repository, now: () => new Date(nowMs) });
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('round-trips in a self-describing format naming the data key', async () => {
    const ciphertext = await envelope.encrypt(tenantA, 'passport AB123456');
    expect(ciphertext).toMatch(/^sr1\.[0-9a-f-]{36}\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]+$/);
    expect((await envelope.decrypt(tenantA, ciphertext)).toString()).toBe('passport AB123456');
    const stored = await repository.findById(ciphertext.split('.')[1]!);
    expect(stored).toMatchObject({ scope: 'tenant:tenant-a', version: 1, kekVersion: 1, retiredAt: null });
    expect(stored!.wrappedKey).toMatch(/^local:v1:/);
  });

  it('uses one data key per tenant, and per customer when asked', async () => {
    const a = await envelope.encrypt(tenantA, 'x');
    const b = await envelope.encrypt({ tenantId: 'tenant-b', purpose: 'kyc.document' }, 'x');
    const c = await envelope.encrypt({ ...tenantA, customerId: 'cust-1' }, 'x');
    const again = await envelope.encrypt(tenantA, 'y');
    const keyOf = (ciphertext: string) => ciphertext.split('.')[1];
    expect(new Set([keyOf(a), keyOf(b), keyOf(c)]).size).toBe(3);
    expect(keyOf(again)).toBe(keyOf(a));
    expect((await repository.findById(keyOf(c)!))?.scope).toBe('tenant:tenant-a/customer:cust-1');
  });

  it('refuses a ciphertext moved to another tenant, customer or purpose', async () => {
    const ciphertext = await envelope.encrypt(tenantA, 'secret');
    for (const other of [
      { tenantId: 'tenant-b', purpose: 'kyc.document' },
      { tenantId: 'tenant-a', customerId: 'cust-1', purpose: 'kyc.document' },
      { tenantId: 'tenant-a', purpose: 'consent.note' },
    ]) {
      await expect(envelope.decrypt(other, ciphertext)).rejects.toMatchObject({ code: 'DECRYPTION_FAILED' });
    }
  });

  it('detects a flipped byte in the iv, the tag or the ciphertext, and malformed input', async () => {
    const ciphertext = await envelope.encrypt(tenantA, 'amount=1200');
    for (const field of [2, 3, 4] as const) {
      await expect(envelope.decrypt(tenantA, flip(ciphertext, field))).rejects.toMatchObject({
        code: 'DECRYPTION_FAILED',
      });
    }
    const [, , iv, tag, body] = ciphertext.split('.');
    await expect(
      envelope.decrypt(tenantA, `sr1.00000000-0000-4000-8000-000000000000.${iv}.${tag}.${body}`),
    ).rejects.toMatchObject({
      code: 'DATA_KEY_NOT_FOUND',
    });
    for (const bad of [
      '',
      'sr2.x.y.z.w',
      ciphertext.replace('sr1.', 'sr1.x'),
      `${ciphertext}.extra`,
      ciphertext.slice(0, -1),
    ]) {
      await expect(envelope.decrypt(tenantA, bad)).rejects.toBeInstanceOf(CryptoError);
    }
  });

  it('refuses a wrapped data key swapped between rows (the wrap is bound to scope and id)', async () => {
    const a = await envelope.encrypt(tenantA, 'a');
    const b = await envelope.encrypt({ tenantId: 'tenant-b', purpose: 'kyc.document' }, 'b');
    const keyA = (await repository.findById(a.split('.')[1]!))!;
    const keyB = (await repository.findById(b.split('.')[1]!))!;
    await repository.updateWrapping(keyA.id, keyA.wrappedKey, keyB.wrappedKey, keyB.kekVersion);
    const fresh = new EnvelopeEncryption({ transit: secrets, repository });
    await expect(fresh.decrypt(tenantA, a)).rejects.toMatchObject({ code: 'DECRYPTION_FAILED' });
  });

  it('rotates a data key: new writes use the new key, old ciphertexts keep decrypting', async () => {
    const before = await envelope.encrypt(tenantA, 'before');
    const rotated = await envelope.rotateDataKey({ tenantId: 'tenant-a' });
    expect(rotated.version).toBe(2);
    const after = await envelope.encrypt(tenantA, 'after');
    expect(after.split('.')[1]).toBe(rotated.id);
    expect((await repository.findById(before.split('.')[1]!))?.retiredAt).not.toBeNull();

    const restarted = new EnvelopeEncryption({ transit: secrets, repository });
    expect((await restarted.decrypt(tenantA, before)).toString()).toBe('before');
    expect((await restarted.decrypt(tenantA, after)).toString()).toBe('after');
  });

  it('rotates keys older than 90 days (seed 003) and only those', async () => {
    expect(DATA_KEY_ROTATION_PERIOD_DAYS).toBe(90);
    await envelope.encrypt(tenantA, 'old');
    nowMs += 89 * 24 * 3600 * 1000;
    await envelope.encrypt({ tenantId: 'tenant-b', purpose: 'p' }, 'newer');
    expect(await envelope.rotateDueDataKeys()).toBe(0);
    nowMs += 1 * 24 * 3600 * 1000;
    expect(await envelope.rotateDueDataKeys()).toBe(1);
    expect((await repository.findActive('tenant:tenant-a'))?.version).toBe(2);
    expect((await repository.findActive('tenant:tenant-b'))?.version).toBe(1);
    const created = new Date('2025-01-01T00:00:00Z');
    expect(dueForRotation({ createdAt: created }, new Date('2025-03-31T23:59:59Z'))).toBe(false);
    expect(dueForRotation({ createdAt: created }, new Date('2025-04-01T00:00:00Z'))).toBe(true);
  });

  it('rewraps every data key under the latest KEK version while ciphertexts keep decrypting', async () => {
    const ciphertexts = await Promise.all(
      ['t1', 't2', 't3'].map((tenantId) => envelope.encrypt({ tenantId, purpose: 'p' }, tenantId)),
    );
    await secrets.rotateKey('strongroom-kek');
    expect(await envelope.rewrapAll(2)).toEqual({ examined: 3, rewrapped: 3 });
    const pages = await repository.listPage(null, 10);
    expect(pages.every((k) => k.kekVersion === 2 && k.wrappedKey.startsWith('local:v2:'))).toBe(true);
    expect(await envelope.rewrapAll()).toEqual({ examined: 3, rewrapped: 0 });

    const restarted = new EnvelopeEncryption({ transit: secrets, repository });
    for (const [i, tenantId] of ['t1', 't2', 't3'].entries()) {
      expect((await restarted.decrypt({ tenantId, purpose: 'p' }, ciphertexts[i]!)).toString()).toBe(tenantId);
    }
  });

  it('creates a single data key when many writes for a new tenant race', async () => {
    const ciphertexts = await Promise.all(Array.from({ length: 10 }, () => envelope.encrypt(tenantA, 'x')));
    expect(new Set(ciphertexts.map((c) => c.split('.')[1])).size).toBe(1);
    expect(await repository.listPage(null, 100)).toHaveLength(1);
  });

  it('refuses identifiers that would make scopes ambiguous', async () => {
    await expect(envelope.encrypt({ tenantId: 'a/customer:b', purpose: 'p' }, 'x')).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    });
    await expect(envelope.encrypt({ tenantId: 'a', purpose: 'p\0q' }, 'x')).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    });
  });
});

describe('BoundedTtlCache', () => {
  it('evicts the least recently used entry beyond its bound and expires entries after the TTL', () => {
    let nowMs = 0;
    const cache = new BoundedTtlCache<string, number>(2, 10, () => nowMs);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.get('a');
    cache.set('c', 3);
    expect([cache.get('a'), cache.get('b'), cache.get('c')]).toEqual([1, undefined, 3]);
    nowMs = 10_000;
    expect(cache.get('a')).toBeUndefined();
    expect(cache.size).toBe(1);
  });
});
