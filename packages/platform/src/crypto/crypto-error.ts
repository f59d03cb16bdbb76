export type CryptoErrorCode =
  | 'MALFORMED_CIPHERTEXT'
  | 'DECRYPTION_FAILED'
  | 'DATA_KEY_NOT_FOUND'
  | 'KEY_MISSING'
  | 'INVALID_INPUT'
  | 'CONFLICT';

type Details = Record<string, string | number | boolean>;

/**
 * Failures of the crypto primitives. A ciphertext that does not authenticate is always an error,
 * never garbage; messages name ids and versions, never plaintexts or keys.
 */
export class CryptoError extends Error {
  override readonly name = 'CryptoError';

  constructor(
    readonly code: CryptoErrorCode,
    message: string,
    readonly details: Details = {},
  ) {
    super(message);
  }

  static malformed(what: string) {
    return new CryptoError('MALFORMED_CIPHERTEXT', `The ${what} is malformed`);
  }
  static decryptionFailed(details: Details = {}) {
    return new CryptoError(
      'DECRYPTION_FAILED',
      'The ciphertext did not authenticate (altered, or not encrypted for this tenant and purpose)',
      details,
    );
  }
  static dataKeyNotFound(dataKeyId: string) {
    return new CryptoError('DATA_KEY_NOT_FOUND', 'No data key with this id', { dataKeyId });
  }
  static keyMissing(path: string) {
    return new CryptoError('KEY_MISSING', 'The key material is missing from the secrets provider', { path });
  }
  static invalidInput(message: string, details: Details = {}) {
    return new CryptoError('INVALID_INPUT', message, details);
  }
}
