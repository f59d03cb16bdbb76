import { authenticator } from 'otplib';

/** RFC 6238 defaults that every authenticator app understands: 30 s steps, 6 digits, SHA-1. */
export const TOTP_STEP_SECONDS = 30;
export const TOTP_DIGITS = 6;
/** ±1 step tolerates a phone clock 30 s off without widening the guessing window much. */
export const TOTP_WINDOW_STEPS = 1;
/** 160 bits, the HMAC-SHA1 block-size recommendation of RFC 4226 §4 R6. */
export const TOTP_SECRET_BYTES = 20;
export const TOTP_ISSUER = 'Strongroom';
const ACCOUNT_LABEL_LENGTH_MAX = 320;
const BASE32_SECRET = /^[A-Z2-7]{32}$/;
const CODE = /^[0-9]{6}$/;

export interface TotpEnrolment {
  /** Base32; stored encrypted by the service, shown to the user once (inside the URI or QR). */
  secret: string;
  /** Key URI format: otpauth://totp/Strongroom:<label, percent-encoded>?secret=…&issuer=Strongroom */
  otpauthUri: string;
}

export type TotpVerification =
  | { ok: true; timeStep: number }
  | { ok: false; reason: 'malformed_code' | 'invalid_code' | 'replayed_code' };

export interface TotpVerifyInput {
  secret: string;
  code: string;
  /** The time step of the last code this user redeemed; null if never. */
  lastUsedTimeStep: number | null;
  now: Date;
}

/** Each call gets its own instance: otplib's `authenticator` is a shared, mutable singleton. */
function totpAt(now: Date) {
  return authenticator.clone({
    step: TOTP_STEP_SECONDS,
    digits: TOTP_DIGITS,
    window: TOTP_WINDOW_STEPS,
    epoch: now.getTime(),
  });
}

export function timeStepAt(now: Date): number {
  return Math.floor(now.getTime() / 1000 / TOTP_STEP_SECONDS);
}

export function createTotpEnrolment(accountLabel: string): TotpEnrolment {
  // A programming error, not user input: the label is the account's already-validated email.
  if (accountLabel.length === 0 || accountLabel.length > ACCOUNT_LABEL_LENGTH_MAX) {
    throw new RangeError('A TOTP account label is 1-320 characters');
  }
  const secret = authenticator.generateSecret(TOTP_SECRET_BYTES);
  return { secret, otpauthUri: totpAt(new Date()).keyuri(accountLabel, TOTP_ISSUER, secret) };
}

/**
 * Accepts a code of the current step or one step either side, and never the same step twice:
 * a code seen by a shoulder-surfer or a phishing proxy is spent once it is used (RFC 6238 §5.2,
 * "the verifier MUST NOT accept the second attempt of the OTP after the successful validation").
 * A code of a step older than the last one redeemed is refused too, so the service only has to
 * keep one number per user: `timeStep` of an accepted code.
 */
export function verifyTotp(input: TotpVerifyInput): TotpVerification {
  const code = input.code.replace(/\s/g, '').slice(0, TOTP_DIGITS + 1);
  if (!CODE.test(code) || !BASE32_SECRET.test(input.secret)) return { ok: false, reason: 'malformed_code' };
  // otplib compares every candidate of the window; a delta says which step matched.
  const delta = totpAt(input.now).checkDelta(code, input.secret);
  if (delta === null) return { ok: false, reason: 'invalid_code' };
  const timeStep = timeStepAt(input.now) + delta;
  if (input.lastUsedTimeStep !== null && timeStep <= input.lastUsedTimeStep) {
    return { ok: false, reason: 'replayed_code' };
  }
  return { ok: true, timeStep };
}

/** The code an authenticator app shows at `now`; for tests and a "test your app" step. */
export function totpCodeAt(secret: string, now: Date): string {
  return totpAt(now).generate(secret);
}
