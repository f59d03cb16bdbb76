import { hashPassword, needsRehash, PASSWORD_HASH_OPTIONS, verifyPassword } from '../src/passwords/password-hashing';

describe('password hashing', () => {
  it('stores argon2id with at least the OWASP floor (19 MiB, 2 passes)', async () => {
    const hash = await hashPassword('correct horse battery staple');
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(PASSWORD_HASH_OPTIONS.memoryCost).toBeGreaterThanOrEqual(19_456);
    expect(PASSWORD_HASH_OPTIONS.timeCost).toBeGreaterThanOrEqual(2);
  });

  it('salts every hash and verifies only the right password', async () => {
    const [first, second] = await Promise.all([hashPassword('same password!'), hashPassword('same password!')]);
    expect(first).not.toBe(second);
    await expect(verifyPassword(first, 'same password!')).resolves.toBe(true);
    await expect(verifyPassword(first, 'same password?')).resolves.toBe(false);
  });

  it('answers false, not an exception, for a malformed stored hash', async () => {
    await expect(verifyPassword('not-a-hash', 'anything')).resolves.toBe(false);
  });
});

describe('password hashing: normalisation and rehash', () => {
  it('verifies a password typed in another Unicode form (NFKC before hashing)', async () => {
    // Full-width letters and the "ﬁ" ligature fold to their ASCII spelling under NFKC.
    const hash = await hashPassword('ｃｏｒｒｅｃｔ ﬁsh battery');
    await expect(verifyPassword(hash, 'correct fish battery')).resolves.toBe(true);
  });

  it('asks for a rehash of hashes weaker than today, or not argon2id, or unreadable', () => {
    expect(needsRehash('$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2g')).toBe(false);
    expect(needsRehash('$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2g')).toBe(false);
    expect(needsRehash('$argon2id$v=19$m=4096,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2g')).toBe(true);
    expect(needsRehash('$argon2id$v=19$m=19456,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2g')).toBe(true);
    expect(needsRehash('$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2g')).toBe(true);
    expect(needsRehash('$2b$12$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234')).toBe(true);
    expect(needsRehash('')).toBe(true);
    expect(needsRehash('$argon2id$v=19$m=999999999999,t=2,p=1$x$y')).toBe(true);
  });

  it('does not ask to rehash a hash it has just made', async () => {
    expect(needsRehash(await hashPassword('a fresh password!'))).toBe(false);
  });
});
