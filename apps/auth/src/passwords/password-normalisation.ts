import { PASSWORD_LENGTH_MAX } from '@strongroom/contracts';

/**
 * NFKC folds compatibility forms (full-width letters, ligatures, superscripts) into one
 * spelling (NIST SP 800-63B §5.1.1.2 asks for NFKC or NFKD). NFKC can grow a string up to
 * 18-fold (U+FDFA), so input already far over the limit is cut before normalising: it is
 * refused by the policy anyway, and hashing never sees more than this many UTF-16 units.
 */
export const PASSWORD_INPUT_UNITS_MAX = PASSWORD_LENGTH_MAX * 4;

export function normalisePassword(password: string): string {
  return password.slice(0, PASSWORD_INPUT_UNITS_MAX).normalize('NFKC');
}

/** Length in Unicode code points, as NIST counts it: an emoji is one character, not two. */
export function codePointLength(value: string): number {
  let count = 0;
  for (const _ of value) count += 1;
  return count;
}
