import { createHmac } from 'node:crypto';
import { constantTimeEqual } from '@strongroom/platform';
import fc from 'fast-check';
import {
  canonicalRecoveryCode,
  generateRecoveryCodes,
  RECOVERY_CODE_COUNT,
  redeemRecoveryCode,
  type SecretHasher,
} from '../src/mfa/recovery-codes';

/** The shape of the platform's PepperedHasher: HMAC-SHA256 under a pepper, constant-time verify. */
class TestHasher implements SecretHasher {
  readonly hashed: string[] = [];
  async hash(value: string): Promise<string> {
    this.hashed.push(value);
    return createHmac('sha256', 'test-pepper').update(value).digest('base64url');
  }
  async verify(value: string, hashed: string): Promise<boolean> {
    return constantTimeEqual(createHmac('sha256', 'test-pepper').update(value).digest('base64url'), hashed);
  }
}

const now = new Date('2030-01-01T00:00:00Z');

describe('recovery codes', () => {
  it('makes 10 distinct codes, shown once as XXXXX-XXXXX, stored only as hashes', async () => {
    const { codes, stored } = await generateRecoveryCodes(new TestHasher());
    expect(codes).toHaveLength(RECOVERY_CODE_COUNT);
    expect(RECOVERY_CODE_COUNT).toBe(10);
    expect(new Set(codes).size).toBe(10);
    for (const code of codes) expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}$/);
    const storedText = JSON.stringify(stored);
    for (const code of codes) {
      expect(storedText).not.toContain(code);
      expect(storedText).not.toContain(code.replace('-', ''));
    }
    expect(stored.every((entry) => entry.usedAt === null)).toBe(true);
  });

  it('redeems each code once and marks only that one used', async () => {
    const hasher = new TestHasher();
    const { codes, stored } = await generateRecoveryCodes(hasher);
    const first = await redeemRecoveryCode(hasher, stored, codes[3]!, now);
    if (!first.ok) throw new Error('a fresh code must redeem');
    expect(first.remaining).toBe(9);
    expect(first.stored[3]!.usedAt).toBe(now.toISOString());
    expect(first.stored.filter((entry) => entry.usedAt !== null)).toHaveLength(1);
    expect(await redeemRecoveryCode(hasher, first.stored, codes[3]!, now)).toEqual({
      ok: false,
      reason: 'invalid_code',
    });
    // The input list is not mutated: the service compares-and-sets against it.
    expect(stored[3]!.usedAt).toBeNull();
  });

  it('accepts what people type: lower case, spaces, no dash, O for 0, I or L for 1', async () => {
    expect(canonicalRecoveryCode(' ab0c1-d2ef3 ')).toBe('AB0C1D2EF3');
    expect(canonicalRecoveryCode('abOcI d2efL')).toBe('AB0C1D2EF1');
    const hasher = new TestHasher();
    const { codes, stored } = await generateRecoveryCodes(hasher);
    const typed = ` ${codes[0]!.toLowerCase().replace('-', ' ')} `;
    expect((await redeemRecoveryCode(hasher, stored, typed, now)).ok).toBe(true);
  });

  it('refuses malformed input before hashing it', async () => {
    const hasher = new TestHasher();
    const { stored } = await generateRecoveryCodes(hasher);
    hasher.hashed.length = 0;
    const spy = jest.spyOn(hasher, 'verify');
    for (const input of [
      '',
      'ABCDE',
      'ABCDE-FGHJKM',
      'ABCDE-FGHJ!',
      'U'.repeat(10),
      'A'.repeat(1_000_000),
      '\u0000'.repeat(10),
    ]) {
      expect(await redeemRecoveryCode(hasher, stored, input, now)).toEqual({ ok: false, reason: 'malformed_code' });
    }
    expect(spy).not.toHaveBeenCalled();
  });

  it('refuses every well-formed code that was not issued (property)', async () => {
    const hasher = new TestHasher();
    const { codes, stored } = await generateRecoveryCodes(hasher);
    const issued = new Set(codes.map((code) => code.replace('-', '')));
    await fc.assert(
      fc.asyncProperty(fc.stringMatching(/^[0-9A-HJKMNP-TV-Z]{10}$/), async (guess) => {
        fc.pre(!issued.has(guess));
        expect((await redeemRecoveryCode(hasher, stored, guess, now)).ok).toBe(false);
      }),
      { numRuns: 200 },
    );
  });

  it('checks every stored hash, whichever slot matches (no early exit)', async () => {
    const hasher = new TestHasher();
    const { codes, stored } = await generateRecoveryCodes(hasher);
    const spy = jest.spyOn(hasher, 'verify');
    await redeemRecoveryCode(hasher, stored, codes[0]!, now);
    expect(spy).toHaveBeenCalledTimes(10);
  });

  it('refuses everything once all ten are used', async () => {
    const hasher = new TestHasher();
    const { codes, stored } = await generateRecoveryCodes(hasher);
    let current = stored;
    for (const code of codes) {
      const result = await redeemRecoveryCode(hasher, current, code, now);
      if (!result.ok) throw new Error('each code redeems once');
      current = result.stored;
    }
    for (const code of codes) expect((await redeemRecoveryCode(hasher, current, code, now)).ok).toBe(false);
  });
});
