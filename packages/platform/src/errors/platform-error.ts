import { type BusErrorBody, busErrorSchema, type ErrorCode } from '@strongroom/contracts';

type Details = Record<string, unknown>;

/**
 * The one error that crosses a boundary: a code from the contracts' catalogue, a message
 * safe to show the caller, and optional structured details. Everything else thrown inside
 * a service is reported as INTERNAL without its message (it may hold secrets).
 */
export class PlatformError extends Error {
  override readonly name = 'PlatformError';

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Details,
  ) {
    super(message);
  }

  toBody(): BusErrorBody {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }

  static fromBody(body: unknown): PlatformError {
    const parsed = busErrorSchema.safeParse(body);
    if (!parsed.success) return new PlatformError('BAD_REPLY', 'A service answered with a malformed error');
    return new PlatformError(parsed.data.code, parsed.data.message, parsed.data.details);
  }

  static validation(message: string, details?: Details) {
    return new PlatformError('VALIDATION', message, details);
  }
  static unauthenticated(message = 'A valid credential is required') {
    return new PlatformError('UNAUTHENTICATED', message);
  }
  static forbidden(message = 'The caller lacks the permission for this action', details?: Details) {
    return new PlatformError('FORBIDDEN', message, details);
  }
  static notFound(resource: string, id?: string) {
    return new PlatformError('NOT_FOUND', `${resource} not found`, id === undefined ? { resource } : { resource, id });
  }
  static conflict(message: string, details?: Details) {
    return new PlatformError('CONFLICT', message, details);
  }
  static internal(message = 'Internal error') {
    return new PlatformError('INTERNAL', message);
  }
  static unavailable(message: string, details?: Details) {
    return new PlatformError('UNAVAILABLE', message, details);
  }
  static timeout(message: string, details?: Details) {
    return new PlatformError('TIMEOUT', message, details);
  }
  static badReply(message: string, details?: Details) {
    return new PlatformError('BAD_REPLY', message, details);
  }
}

export function isPlatformError(value: unknown): value is PlatformError {
  return value instanceof PlatformError;
}
