import { SecretsError } from './secrets-error';

// Limits on what callers may send, checked before any backend sees it (TIGER_STYLE: a limit on everything).
const PATH_CHARS_MAX = 512;
const KEY_NAME_CHARS_MAX = 128;
const SECRET_FIELDS_MAX = 64;
// Vault KV entries above ~512 KiB fail on the Consul/integrated storage limits; we stop well below.
const SECRET_BYTES_MAX = 256 * 1024;

const SEGMENT = /^[A-Za-z0-9_.-]+$/;
const KEY_NAME = /^[A-Za-z0-9_.-]+$/;

/** `platform/peppers`: slash-separated segments, no empty, `.` or `..` segment (they would change the URL path). */
export function assertSecretPath(path: string): void {
  const segments = path.split('/');
  const valid =
    path.length > 0 &&
    path.length <= PATH_CHARS_MAX &&
    segments.every((s) => SEGMENT.test(s) && s !== '.' && s !== '..');
  if (!valid) throw SecretsError.invalid('A secret path must be slash-separated [A-Za-z0-9_.-] segments', { path });
}

export function assertKeyName(name: string): void {
  if (name.length === 0 || name.length > KEY_NAME_CHARS_MAX || !KEY_NAME.test(name) || name === '.' || name === '..') {
    throw SecretsError.invalid('A transit key name must be 1-128 characters of [A-Za-z0-9_.-]', { key: name });
  }
}

export function assertSecretData(data: Record<string, unknown>): void {
  const entries = Object.entries(data);
  if (entries.length === 0 || entries.length > SECRET_FIELDS_MAX) {
    throw SecretsError.invalid(`A secret holds 1 to ${SECRET_FIELDS_MAX} fields`, { fields: entries.length });
  }
  let bytes = 0;
  for (const [field, value] of entries) {
    // Field names only: a message must never carry the value.
    if (typeof value !== 'string') throw SecretsError.invalid('Secret fields must be strings', { field });
    bytes += Buffer.byteLength(field) + Buffer.byteLength(value);
  }
  if (bytes > SECRET_BYTES_MAX) throw SecretsError.invalid('A secret is too large', { bytesMax: SECRET_BYTES_MAX });
}
