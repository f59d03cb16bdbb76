import { hashPassword, PASSWORD_HASH_OPTIONS, verifyPassword } from '../src/users/password-hashing';

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
