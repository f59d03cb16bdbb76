import { PASSWORD_LENGTH_MAX, PASSWORD_LENGTH_MIN } from '@strongroom/contracts';
import { isCommonPassword } from './common-passwords';
import { codePointLength, normalisePassword, PASSWORD_INPUT_UNITS_MAX } from './password-normalisation';

/** Every rule a password can break; a result lists all of them so a form can show them at once. */
export const PASSWORD_VIOLATIONS = [
  'too_short',
  'too_long',
  'invalid_characters',
  'common_password',
  'contains_email_local_part',
] as const;
export type PasswordViolation = (typeof PASSWORD_VIOLATIONS)[number];

export type PasswordPolicyResult =
  | { ok: true; normalised: string }
  | { ok: false; violations: PasswordViolation[]; lengthMin: number; lengthMax: number };

export interface PasswordPolicyContext {
  /** The account's email; its local part may not appear in the password. */
  email: string;
}

// A local part this short ("a@x.io") would match half of all passwords; it guesses nothing.
const EMAIL_LOCAL_PART_LENGTH_MIN = 3;
// Control characters cannot be typed reliably and hide in copy-paste; lone surrogates turn
// into U+FFFD when encoded, so two different inputs would hash alike.
const UNSAFE_CHARACTER = /[\p{Cc}\p{Cs}]/u;

/**
 * The password policy of issue 4 (length, shipped breached list) and NIST SP 800-63B §5.1.1.2
 * (NFKC, no composition rules, refuse context-specific words such as the username). Checks
 * run on the NFKC form, and `normalised` is what gets hashed.
 */
export function checkPasswordPolicy(password: string, context: PasswordPolicyContext): PasswordPolicyResult {
  const normalised = normalisePassword(password);
  const length = codePointLength(normalised);
  const violations: PasswordViolation[] = [];
  if (length < PASSWORD_LENGTH_MIN) violations.push('too_short');
  if (length > PASSWORD_LENGTH_MAX || password.length > PASSWORD_INPUT_UNITS_MAX) violations.push('too_long');
  if (UNSAFE_CHARACTER.test(normalised)) violations.push('invalid_characters');
  if (isCommonPassword(normalised)) violations.push('common_password');
  if (containsEmailLocalPart(normalised, context.email)) violations.push('contains_email_local_part');
  return violations.length === 0
    ? { ok: true, normalised }
    : { ok: false, violations, lengthMin: PASSWORD_LENGTH_MIN, lengthMax: PASSWORD_LENGTH_MAX };
}

/** Case-insensitive; `jane.doe+bank@x.io` also refuses `jane.doe` (the sub-address is decoration). */
function containsEmailLocalPart(normalisedPassword: string, email: string): boolean {
  const at = email.lastIndexOf('@');
  const localPart = (at === -1 ? email : email.slice(0, at)).split('+')[0] ?? '';
  const needle = localPart.normalize('NFKC').toLowerCase();
  if (codePointLength(needle) < EMAIL_LOCAL_PART_LENGTH_MIN) return false;
  return normalisedPassword.toLowerCase().includes(needle);
}
