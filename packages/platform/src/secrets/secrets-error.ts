export type SecretsErrorCode = 'NOT_FOUND' | 'PERMISSION_DENIED' | 'CAS_MISMATCH' | 'UNAVAILABLE' | 'INVALID';

type Details = Record<string, string | number | boolean>;

/**
 * Every failure of a secrets provider, whatever the backend. Messages and details name paths,
 * key names, versions and HTTP statuses — never a secret value, a token or a plaintext — so an
 * error can be logged as is.
 */
export class SecretsError extends Error {
  override readonly name = 'SecretsError';

  constructor(
    readonly code: SecretsErrorCode,
    message: string,
    readonly details: Details = {},
  ) {
    super(message);
  }

  static notFound(what: string, details: Details = {}) {
    return new SecretsError('NOT_FOUND', `${what} not found`, details);
  }
  static permissionDenied(message = 'The secrets backend denied the request', details: Details = {}) {
    return new SecretsError('PERMISSION_DENIED', message, details);
  }
  static casMismatch(path: string, expectedVersion: number) {
    return new SecretsError('CAS_MISMATCH', 'check-and-set parameter did not match the current version', {
      path,
      expectedVersion,
    });
  }
  static unavailable(message: string, details: Details = {}) {
    return new SecretsError('UNAVAILABLE', message, details);
  }
  static invalid(message: string, details: Details = {}) {
    return new SecretsError('INVALID', message, details);
  }
}

export function isSecretsError(value: unknown, code?: SecretsErrorCode): value is SecretsError {
  return value instanceof SecretsError && (code === undefined || value.code === code);
}
