export const PIN_LENGTH_MIN = 4;
export const PIN_LENGTH_MAX = 6;

export const PIN_VIOLATIONS = ['not_digits', 'bad_length', 'repeated_digit', 'sequential_digits'] as const;
export type PinViolation = (typeof PIN_VIOLATIONS)[number];

export type PinPolicyResult = { ok: true } | { ok: false; violations: PinViolation[] };

const DIGITS = /^[0-9]+$/;

/**
 * 4–6 ASCII digits (seed 001's card PINs), refusing the PINs tried first by anyone holding a
 * stolen card: one digit repeated (0000) and runs up or down (1234, 9876, wrapping 8901).
 * With three tries before the lock (seed 001) these account for a large share of real PINs.
 */
export function checkPinPolicy(pin: string): PinPolicyResult {
  // ASCII only: `\d` with Unicode would let '١٢٣٤' (Arabic-Indic digits) through.
  if (!DIGITS.test(pin)) return { ok: false, violations: ['not_digits'] };
  const violations: PinViolation[] = [];
  if (pin.length < PIN_LENGTH_MIN || pin.length > PIN_LENGTH_MAX) violations.push('bad_length');
  if (/^(.)\1*$/.test(pin)) violations.push('repeated_digit');
  if (isRun(pin, 1) || isRun(pin, -1)) violations.push('sequential_digits');
  return violations.length === 0 ? { ok: true } : { ok: false, violations };
}

function isRun(pin: string, stride: 1 | -1): boolean {
  for (let i = 1; i < pin.length; i += 1) {
    if ((pin.charCodeAt(i - 1) - 48 + stride + 10) % 10 !== pin.charCodeAt(i) - 48) return false;
  }
  return true;
}
