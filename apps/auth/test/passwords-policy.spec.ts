import { PASSWORD_LENGTH_MAX, PASSWORD_LENGTH_MIN } from '@strongroom/contracts';
import fc from 'fast-check';
import { commonPasswordCount, isCommonPassword } from '../src/passwords/common-passwords';
import { codePointLength, normalisePassword } from '../src/passwords/password-normalisation';
import { checkPasswordPolicy, type PasswordViolation } from '../src/passwords/password-policy';

const email = 'jane.doe@bank.example';
const violationsOf = (password: string, context = { email }): PasswordViolation[] => {
  const result = checkPasswordPolicy(password, context);
  return result.ok ? [] : result.violations;
};

describe('password policy', () => {
  it('accepts a long, uncommon password and returns the form to hash', () => {
    expect(checkPasswordPolicy('velvet-otter-harbour-91', { email })).toEqual({
      ok: true,
      normalised: 'velvet-otter-harbour-91',
    });
  });

  it('uses the limits declared once in contracts: 12 to 256', () => {
    expect(PASSWORD_LENGTH_MIN).toBe(12);
    expect(PASSWORD_LENGTH_MAX).toBe(256);
    expect(violationsOf('x7#kQ9!mZ2p')).toEqual(['too_short']);
    expect(violationsOf('x7#kQ9!mZ2pW')).toEqual([]);
    expect(violationsOf('k'.repeat(256))).toEqual([]);
    expect(violationsOf('k'.repeat(257))).toEqual(['too_long']);
  });

  it('counts code points, not UTF-16 units: 11 emoji are too short', () => {
    expect(violationsOf('🔐'.repeat(11))).toEqual(['too_short']);
    expect(violationsOf('🔐'.repeat(12))).toEqual([]);
  });

  it('ships at least the 10,000 most common passwords and refuses them whatever the case', () => {
    expect(commonPasswordCount()).toBeGreaterThanOrEqual(10_000);
    expect(isCommonPassword('password')).toBe(true);
    expect(violationsOf('qwerty123456')).toEqual(['common_password']);
    expect(violationsOf('QWERTY123456')).toEqual(['common_password']);
    expect(violationsOf('1q2w3e4r5t6y')).toEqual(['common_password']);
  });

  it('refuses a common password disguised in full-width characters (checks run after NFKC)', () => {
    expect(violationsOf('ｑｗｅｒｔｙ１２３４５６')).toEqual(['common_password']);
  });

  it('lists every violated rule at once', () => {
    expect(violationsOf('password', { email: 'password@bank.example' })).toEqual([
      'too_short',
      'common_password',
      'contains_email_local_part',
    ]);
  });

  it('refuses a password containing the email local part, in any case, ignoring +tags', () => {
    expect(violationsOf('my-Jane.Doe-is-secure')).toEqual(['contains_email_local_part']);
    expect(violationsOf('xx-jane.doe-xx-9', { email: 'jane.doe+bank@x.example' })).toEqual([
      'contains_email_local_part',
    ]);
    // Full-width spelling of the local part is the same text after NFKC.
    expect(violationsOf('ｊａｎｅ.ｄｏｅ-rocks-42')).toEqual(['contains_email_local_part']);
  });

  it('ignores local parts too short to be a guess, and does not choke on odd emails', () => {
    expect(violationsOf('a-perfectly-fine-pass', { email: 'a@x.example' })).toEqual([]);
    expect(violationsOf('a-perfectly-fine-pass', { email: '' })).toEqual([]);
    expect(violationsOf('a-perfectly-fine-pass', { email: '@@@' })).toEqual([]);
  });

  it('refuses control characters and lone surrogates, which would hash ambiguously', () => {
    expect(violationsOf('good-password\u0000x')).toEqual(['invalid_characters']);
    expect(violationsOf('good-password\u001b[31m')).toEqual(['invalid_characters']);
    expect(violationsOf('good-password\ud800zz')).toEqual(['invalid_characters']);
    expect(violationsOf('good-password\udc00zz')).toEqual(['invalid_characters']);
  });

  it('bounds the work on hostile input: a megabyte, or characters NFKC expands 18-fold', () => {
    const started = Date.now();
    expect(violationsOf('a'.repeat(1_000_000))).toContain('too_long');
    // U+FDFA expands to 18 code points; 100 of them is 1,800 characters after NFKC.
    expect(violationsOf('\ufdfa'.repeat(100))).toContain('too_long');
    expect(normalisePassword('\ufdfa'.repeat(100_000)).length).toBeLessThanOrEqual(1024 * 18);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('never accepts a password shorter than 12 code points nor longer than 256 (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 300 }), (password) => {
        const result = checkPasswordPolicy(password, { email });
        if (result.ok) {
          const length = codePointLength(result.normalised);
          expect(length).toBeGreaterThanOrEqual(PASSWORD_LENGTH_MIN);
          expect(length).toBeLessThanOrEqual(PASSWORD_LENGTH_MAX);
          expect(result.normalised).toBe(result.normalised.normalize('NFKC'));
        }
      }),
    );
  });

  it('never puts the password in its result when it refuses it', () => {
    const secret = 'jane.doe-secret';
    expect(JSON.stringify(checkPasswordPolicy(secret, { email }))).not.toContain(secret);
  });
});
