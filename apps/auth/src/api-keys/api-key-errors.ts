import {
  API_KEY_AUTHENTICATION_FAILURES,
  REQUEST_SIGNING_FAILURES,
  type RequestSigningError,
} from '@strongroom/contracts';
import { PlatformError } from '@strongroom/platform';

export const API_KEY_FAILURES = {
  // MALFORMED, CHECKSUM_MISMATCH, WRONG_ENVIRONMENT, INVALID_API_KEY, EXPIRED, NOT_GATEWAY: declared
  // in the contract, since the gateway and SDKs switch on them.
  ...API_KEY_AUTHENTICATION_FAILURES,
  PERMISSION_NOT_HELD: { message: 'A key cannot grant permissions its creator does not hold', status: 'FORBIDDEN' },
  INVALID_PERMISSIONS: { message: 'The permissions are not valid', status: 'VALIDATION' },
  INVALID_EXPIRY: { message: 'The expiry is not valid', status: 'VALIDATION' },
  INVALID_OVERLAP: { message: 'The rotation overlap is not valid', status: 'VALIDATION' },
  INVALID_INPUT: { message: 'The API key request is not valid', status: 'VALIDATION' },
  NOT_FOUND: { message: 'API key not found', status: 'NOT_FOUND' },
  NOT_ROTATABLE: { message: 'Only an active API key can be rotated', status: 'CONFLICT' },
} as const;
export type ApiKeyFailure = keyof typeof API_KEY_FAILURES;

type Details = Record<string, string | number | boolean | readonly string[]>;

/** Messages are fixed per code; details carry ids, permission names and limits, never key material. */
export class ApiKeyError extends Error {
  override readonly name = 'ApiKeyError';

  constructor(
    readonly code: ApiKeyFailure,
    readonly details: Details = {},
  ) {
    super(API_KEY_FAILURES[code].message);
  }
}

/** The single mapping to the platform's catalogue; `reason` is the code an SDK switches on. */
export function apiKeyPlatformError(error: ApiKeyError | RequestSigningError): PlatformError {
  if (error instanceof ApiKeyError) {
    const status = API_KEY_FAILURES[error.code].status;
    return new PlatformError(status, error.message, { reason: error.code, ...error.details });
  }
  const status = error.code === 'MALFORMED_TARGET' ? 'VALIDATION' : 'UNAUTHENTICATED';
  return new PlatformError(status, REQUEST_SIGNING_FAILURES[error.code], { reason: error.code, ...error.details });
}
