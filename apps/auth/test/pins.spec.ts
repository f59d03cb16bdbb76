import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { cardReference } from '../src/pins/card-reference';
import { hashPin, PIN_BCRYPT_COST, pinNeedsRehash, verifyPin } from '../src/pins/pin-hashing';
import {
  applyPinEvent,
  PIN_FAILURES_BEFORE_LOCK,
  PIN_LOCK_INITIAL,
  type PinEvent,
  type PinLockState,
  pinAttemptAllowed,
} from '../src/pins/pin-lock';
import { checkPinPolicy } from '../src/pins/pin-policy';

const at = new Date('2030-01-01T00:00:00Z');
const rejected: PinEvent = { type: 'pin_rejected', at };

describe('PIN policy', () => {
  it('accepts 4 to 6 digit PINs that are not trivial', () => {
    for (const pin of ['1357', '2580', '90210', '468024']) expect(checkPinPolicy(pin)).toEqual({ ok: true });
  });

  it('refuses wrong lengths', () => {
    for (const pin of ['1', '135', '1357913', '13579135791357']) {
      expect(checkPinPolicy(pin)).toMatchObject({ ok: false, violations: expect.arrayContaining(['bad_length']) });
    }
  });

  it('refuses one digit repeated and runs up or down, wrapping through 0', () => {
    for (const pin of ['0000', '11111', '999999']) {
      expect(checkPinPolicy(pin)).toEqual({ ok: false, violations: ['repeated_digit'] });
    }
    for (const pin of ['1234', '6789', '4321', '987654', '8901', '2109', '012345']) {
      expect(checkPinPolicy(pin)).toEqual({ ok: false, violations: ['sequential_digits'] });
    }
  });

  it('refuses anything but ASCII digits, including other scripts and padding', () => {
    for (const pin of [
      '',
      '12a4',
      ' 1357',
      '1357\n',
      '١٣٥٧',
      '１３５７',
      '-135',
      '13.5',
      '1e10',
      '\u0000\u0000\u0000\u0000',
    ]) {
      expect(checkPinPolicy(pin)).toEqual({ ok: false, violations: ['not_digits'] });
    }
  });

  it('accepts only PINs of 4-6 ASCII digits (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 10 }), (pin) => {
        if (checkPinPolicy(pin).ok) expect(pin).toMatch(/^[0-9]{4,6}$/);
      }),
    );
  });
});

describe('PIN hashing', () => {
  it('uses bcrypt at cost 12 or more (seed 001) and verifies only the right PIN', async () => {
    expect(PIN_BCRYPT_COST).toBeGreaterThanOrEqual(12);
    const hash = await hashPin('1357');
    expect(hash).toMatch(/^\$2b\$12\$/);
    await expect(verifyPin(hash, '1357')).resolves.toBe(true);
    await expect(verifyPin(hash, '1358')).resolves.toBe(false);
    await expect(verifyPin(hash, '')).resolves.toBe(false);
    expect(pinNeedsRehash(hash)).toBe(false);
  });

  it('answers false, never an exception, for malformed hashes or hostile input', async () => {
    await expect(verifyPin('', '1357')).resolves.toBe(false);
    await expect(verifyPin('$2b$12$short', '1357')).resolves.toBe(false);
    await expect(verifyPin('$argon2id$v=19$m=19456,t=2,p=1$x$y', '1357')).resolves.toBe(false);
    await expect(verifyPin(await hashPin('2580'), '2580'.repeat(10_000))).resolves.toBe(false);
  });

  it('asks to rehash cheaper or unreadable hashes', () => {
    expect(pinNeedsRehash('$2b$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234')).toBe(true);
    expect(pinNeedsRehash('$2b$12$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234')).toBe(false);
    expect(pinNeedsRehash('garbage')).toBe(true);
  });
});

describe('PIN lock state machine', () => {
  const fail = (state: PinLockState) => applyPinEvent(state, rejected);

  it('locks the card on the third consecutive failure (seed 001)', () => {
    expect(PIN_FAILURES_BEFORE_LOCK).toBe(3);
    const one = fail(PIN_LOCK_INITIAL);
    expect(one.outcome).toEqual({ kind: 'rejected', attemptsRemaining: 2 });
    const two = fail(one.state);
    expect(two.outcome).toEqual({ kind: 'rejected', attemptsRemaining: 1 });
    const three = fail(two.state);
    expect(three.outcome).toEqual({ kind: 'locked_now' });
    expect(three.state).toEqual({ consecutiveFailures: 3, lockedAt: at.toISOString() });
    expect(pinAttemptAllowed(three.state)).toBe(false);
  });

  it('keeps a locked card locked even for the right PIN, until an admin unlocks it', () => {
    const locked = fail(fail(fail(PIN_LOCK_INITIAL).state).state).state;
    expect(applyPinEvent(locked, { type: 'pin_verified' })).toEqual({
      state: locked,
      outcome: { kind: 'refused_locked' },
    });
    expect(applyPinEvent(locked, rejected)).toEqual({ state: locked, outcome: { kind: 'refused_locked' } });
    const unlocked = applyPinEvent(locked, { type: 'admin_unlocked', at });
    expect(unlocked).toEqual({ state: PIN_LOCK_INITIAL, outcome: { kind: 'unlocked' } });
    expect(pinAttemptAllowed(unlocked.state)).toBe(true);
  });

  it('resets the counter on success: failures must be consecutive', () => {
    const two = fail(fail(PIN_LOCK_INITIAL).state).state;
    const success = applyPinEvent(two, { type: 'pin_verified' });
    expect(success).toEqual({ state: PIN_LOCK_INITIAL, outcome: { kind: 'accepted' } });
    expect(fail(fail(success.state).state).outcome).toEqual({ kind: 'rejected', attemptsRemaining: 1 });
  });

  it('does not mutate the state it is given', () => {
    const state = { consecutiveFailures: 2, lockedAt: null };
    applyPinEvent(state, rejected);
    expect(state).toEqual({ consecutiveFailures: 2, lockedAt: null });
  });

  it('locks on the next failure when a stored counter is corrupt (negative or over the limit)', () => {
    expect(fail({ consecutiveFailures: 99, lockedAt: null }).outcome).toEqual({ kind: 'locked_now' });
    expect(fail({ consecutiveFailures: -5, lockedAt: null }).outcome).toEqual({
      kind: 'rejected',
      attemptsRemaining: 2,
    });
  });

  it('never allows a 4th attempt after 3 consecutive failures, whatever the sequence (property)', () => {
    const event = fc.constantFrom<PinEvent>(rejected, { type: 'pin_verified' }, { type: 'admin_unlocked', at });
    fc.assert(
      fc.property(fc.array(event, { maxLength: 40 }), (events) => {
        let state = PIN_LOCK_INITIAL;
        let streak = 0;
        for (const next of events) {
          const { state: after, outcome } = applyPinEvent(state, next);
          if (next.type === 'admin_unlocked') streak = 0;
          else if (outcome.kind === 'accepted') streak = 0;
          else if (outcome.kind !== 'refused_locked') streak += 1;
          expect(streak).toBeLessThanOrEqual(PIN_FAILURES_BEFORE_LOCK);
          expect(pinAttemptAllowed(after)).toBe(streak < PIN_FAILURES_BEFORE_LOCK);
          expect(after.consecutiveFailures).toBeLessThanOrEqual(PIN_FAILURES_BEFORE_LOCK);
          state = after;
        }
      }),
    );
  });
});

describe('card references', () => {
  const hasher = { hash: async (pan: string) => createHmac('sha256', 'card-key').update(pan).digest('base64url') };

  it('keeps a keyed hash and last4, never the number', async () => {
    const result = await cardReference('4242 4242-4242 4242', hasher);
    expect(result).toEqual({
      ok: true,
      card: { cardNumberHash: await hasher.hash('4242424242424242'), last4: '4242' },
    });
    expect(JSON.stringify(result)).not.toContain('424242424242');
  });

  it('gives the same reference however the number is grouped', async () => {
    expect(await cardReference('4242424242424242', hasher)).toEqual(await cardReference('4242-4242-4242-4242', hasher));
  });

  it('refuses numbers failing Luhn, wrong lengths, letters and oversized input, without echoing them', async () => {
    for (const bad of ['4242424242424241', '4242', '', '4242x42424242424', '٤٢٤٢٤٢٤٢٤٢٤٢٤٢٤٢', ' '.repeat(1_000_000)]) {
      const result = await cardReference(bad, hasher);
      expect(result).toEqual({ ok: false, reason: 'invalid_card_number' });
    }
  });
});
