import {
  API_KEY_AUTHENTICATION_FAILURES,
  REQUEST_SIGNING_FAILURES,
  type RequestSigningError,
} from '@strongroom/contracts';
import { DomainRefusal, PlatformError, type RefusalTable } from '@strongroom/platform';

export const API_KEY_FAILURES = {
  // MALFORMED, CHECKSUM_MISMATCH, WRONG_ENVIRONMENT, INVALID_API_KEY, EXPIRED, NOT_GATEWAY: declared
  // in the contract, since the gateway and SDKs switch on them.
  ...API_KEY_AUTHENTICATION_FAILURES,
  PERMISSION_NOT_HELD: { code: 'FORBIDDEN', message: 'A key cannot grant permissions its creator does not hold' },
  INVALID_PERMISSIONS: { code: 'VALIDATION', message: 'The permissions are not valid' },
  INVALID_EXPIRY: { code: 'VALIDATION', message: 'The expiry is not valid' },
  INVALID_OVERLAP: { code: 'VALIDATION', message: 'The rotation overlap is not valid' },
  INVALID_INPUT: { code: 'VALIDATION', message: 'The API key request is not valid' },
  NOT_FOUND: { code: 'NOT_FOUND', message: 'API key not found' },
  OTHER_ENVIRONMENT: { code: 'FORBIDDEN', message: "This credential cannot manage the other environment's API keys" },
  NOT_ROTATABLE: { code: 'CONFLICT', message: 'Only an active API key can be rotated' },
} as const satisfies RefusalTable;
export type ApiKeyFailure = keyof typeof API_KEY_FAILURES;

/** Messages are fixed per code; details carry ids, permission names and limits, never key material. */
export class ApiKeyError extends DomainRefusal<typeof API_KEY_FAILURES> {
  override readonly name = 'ApiKeyError';

  constructor(code: ApiKeyFailure, details: DomainRefusal<typeof API_KEY_FAILURES>['details'] = {}) {
    super(API_KEY_FAILURES, code, details);
  }

  /** The reason (what the contract's API_KEY_AUTHENTICATION_FAILURES and SDKs call the code). */
  get code(): ApiKeyFailure {
    return this.reason;
  }
}

/** The single mapping to the platform's catalogue; `reason` is the code an SDK switches on. */
export function apiKeyPlatformError(error: ApiKeyError | RequestSigningError): PlatformError {
  if (error instanceof ApiKeyError) return error.toPlatformError();
  const status = error.code === 'MALFORMED_TARGET' ? 'VALIDATION' : 'UNAUTHENTICATED';
  return new PlatformError(status, REQUEST_SIGNING_FAILURES[error.code], { reason: error.code, ...error.details });
}
