import { authenticator } from 'otplib';
import { MFA_REQUIRING_PERMISSIONS, mfaRequiredFor } from '../src/mfa/mfa-requirement';
import { createTotpEnrolment, TOTP_STEP_SECONDS, timeStepAt, totpCodeAt, verifyTotp } from '../src/mfa/totp';

const now = new Date('2030-01-01T12:00:10Z');
const stepMs = TOTP_STEP_SECONDS * 1000;
const at = (offsetMs: number) => new Date(now.getTime() + offsetMs);

describe('TOTP enrolment', () => {
  it('makes a random 160-bit base32 secret per enrolment', () => {
    const first = createTotpEnrolment('jane@bank.example');
    const second = createTotpEnrolment('jane@bank.example');
    expect(first.secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(first.secret).not.toBe(second.secret);
  });

  it('builds an otpauth URI with issuer Strongroom and the account label', () => {
    const { secret, otpauthUri } = createTotpEnrolment('jane@bank.example');
    const uri = new URL(otpauthUri);
    expect(uri.protocol).toBe('otpauth:');
    expect(uri.host).toBe('totp');
    expect(decodeURIComponent(uri.pathname)).toBe('/Strongroom:jane@bank.example');
    expect(uri.searchParams.get('issuer')).toBe('Strongroom');
    expect(uri.searchParams.get('secret')).toBe(secret);
    expect(uri.searchParams.get('period')).toBe('30');
    expect(uri.searchParams.get('digits')).toBe('6');
  });

  it('percent-encodes a hostile label instead of letting it inject URI parameters', () => {
    const { otpauthUri } = createTotpEnrolment('x?secret=AAAA&issuer=Evil#');
    const uri = new URL(otpauthUri);
    expect(uri.searchParams.getAll('issuer')).toEqual(['Strongroom']);
    expect(uri.searchParams.getAll('secret')).toHaveLength(1);
  });

  it('refuses an empty or oversized label', () => {
    expect(() => createTotpEnrolment('')).toThrow(RangeError);
    expect(() => createTotpEnrolment('x'.repeat(321))).toThrow(RangeError);
  });

  it('produces codes a standard authenticator computes the same way', () => {
    const { secret } = createTotpEnrolment('jane@bank.example');
    const reference = authenticator.clone({ epoch: now.getTime() });
    expect(totpCodeAt(secret, now)).toBe(reference.generate(secret));
  });
});

describe('TOTP verification', () => {
  const { secret } = createTotpEnrolment('jane@bank.example');

  it('accepts the current code and returns its time step', () => {
    expect(verifyTotp({ secret, code: totpCodeAt(secret, now), lastUsedTimeStep: null, now })).toEqual({
      ok: true,
      timeStep: timeStepAt(now),
    });
  });

  it('tolerates one step of clock drift either way, not two', () => {
    for (const steps of [-1, 1]) {
      const result = verifyTotp({ secret, code: totpCodeAt(secret, at(steps * stepMs)), lastUsedTimeStep: null, now });
      expect(result).toEqual({ ok: true, timeStep: timeStepAt(now) + steps });
    }
    for (const steps of [-2, 2, -10]) {
      const code = totpCodeAt(secret, at(steps * stepMs));
      // A distant code may coincide with a window code by chance (1 in 10^6); skip that case.
      if ([-1, 0, 1].some((near) => totpCodeAt(secret, at(near * stepMs)) === code)) continue;
      expect(verifyTotp({ secret, code, lastUsedTimeStep: null, now })).toEqual({ ok: false, reason: 'invalid_code' });
    }
  });

  it('refuses a code used once, for the rest of its window', () => {
    const code = totpCodeAt(secret, now);
    const first = verifyTotp({ secret, code, lastUsedTimeStep: null, now });
    if (!first.ok) throw new Error('the first use must pass');
    // now is 10 s into its step; the code stays inside the ±1 window until the end of the next step.
    for (const later of [0, 5_000, stepMs, 2 * stepMs - 10_001]) {
      expect(verifyTotp({ secret, code, lastUsedTimeStep: first.timeStep, now: at(later) })).toEqual({
        ok: false,
        reason: 'replayed_code',
      });
    }
  });

  it('refuses the previous step code once a newer one was used', () => {
    const lastUsedTimeStep = timeStepAt(now);
    const previous = totpCodeAt(secret, at(-stepMs));
    expect(verifyTotp({ secret, code: previous, lastUsedTimeStep, now })).toEqual({
      ok: false,
      reason: 'replayed_code',
    });
    const next = totpCodeAt(secret, at(stepMs));
    expect(verifyTotp({ secret, code: next, lastUsedTimeStep, now: at(stepMs) })).toEqual({
      ok: true,
      timeStep: lastUsedTimeStep + 1,
    });
  });

  it('tolerates spaces users type ("123 456")', () => {
    const code = totpCodeAt(secret, now);
    const spaced = `${code.slice(0, 3)} ${code.slice(3)}`;
    expect(verifyTotp({ secret, code: spaced, lastUsedTimeStep: null, now }).ok).toBe(true);
  });

  it('refuses malformed codes and secrets without consulting otplib', () => {
    for (const code of ['', '12345', '1234567', 'abcdef', '١٢٣٤٥٦', '12345\u0000', '0'.repeat(100_000), '-12345']) {
      expect(verifyTotp({ secret, code, lastUsedTimeStep: null, now })).toEqual({
        ok: false,
        reason: 'malformed_code',
      });
    }
    const code = totpCodeAt(secret, now);
    for (const bad of ['', 'not-base32!', secret.toLowerCase(), `${secret}A`]) {
      expect(verifyTotp({ secret: bad, code, lastUsedTimeStep: null, now })).toEqual({
        ok: false,
        reason: 'malformed_code',
      });
    }
  });

  it('refuses a code made for another secret', () => {
    const other = createTotpEnrolment('eve@bank.example').secret;
    const code = totpCodeAt(other, now);
    if ([-1, 0, 1].some((s) => totpCodeAt(secret, at(s * stepMs)) === code)) return;
    expect(verifyTotp({ secret, code, lastUsedTimeStep: null, now })).toEqual({ ok: false, reason: 'invalid_code' });
  });
});

describe('MFA requirement', () => {
  it('requires MFA for every admin role', () => {
    for (const role of ['super_admin', 'partner_admin', 'admin']) expect(mfaRequiredFor([role])).toBe(true);
    expect(mfaRequiredFor(['viewer', 'partner_admin'])).toBe(true);
  });

  it('does not require it of other roles, nor of unknown look-alikes', () => {
    expect(mfaRequiredFor(['partner_user', 'developer', 'viewer'])).toBe(false);
    expect(mfaRequiredFor([])).toBe(false);
    expect(mfaRequiredFor(['Admin', 'admin ', 'super-admin'])).toBe(false);
  });

  it('requires it of a custom role carrying an administrator-only permission, not of one carrying shared ones', () => {
    expect(MFA_REQUIRING_PERMISSIONS.has('auth.memberships.update')).toBe(true);
    expect(MFA_REQUIRING_PERMISSIONS.has('auth.roles.manage')).toBe(true);
    expect(MFA_REQUIRING_PERMISSIONS.has('tenants.tenants.read')).toBe(false);
    expect(MFA_REQUIRING_PERMISSIONS.has('auth.api-keys.create')).toBe(false);
    expect(mfaRequiredFor(['user_manager'], ['tenants.tenants.read', 'auth.memberships.update'])).toBe(true);
    expect(mfaRequiredFor(['key_reader'], ['tenants.tenants.read', 'auth.api-keys.read'])).toBe(false);
  });
});
