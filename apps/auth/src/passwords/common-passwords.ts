import { dictionary } from '@zxcvbn-ts/language-common';

/**
 * The shipped list of common and breached passwords (issue 4: "breached-list check against a
 * shipped list"): the ~49,000 most frequent passwords of public breach corpora, as packaged by
 * @zxcvbn-ts/language-common (MIT). No network look-up: login must not depend on a third party.
 */
const COMMON_PASSWORD_SOURCE: readonly string[] = dictionary['passwords-common'] ?? [];

let commonPasswords: ReadonlySet<string> | undefined;

/** Built on first use: ~49k entries cost a few MB, paid only by the process that checks passwords. */
function commonPasswordSet(): ReadonlySet<string> {
  commonPasswords ??= new Set(COMMON_PASSWORD_SOURCE.map((entry) => entry.toLowerCase()));
  return commonPasswords;
}

export function commonPasswordCount(): number {
  return commonPasswordSet().size;
}

/** Case-insensitive: `Password123!` is as guessable as `password123!`. */
export function isCommonPassword(normalisedPassword: string): boolean {
  return commonPasswordSet().has(normalisedPassword.toLowerCase());
}
