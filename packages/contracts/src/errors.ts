import { z } from 'zod';

/**
 * The one list of error codes that cross a boundary (bus or HTTP), with the HTTP status the
 * gateway answers and the stable problem `type` suffix (RFC 9457 §3.1.1).
 */
export const ERROR_CODES = {
  VALIDATION: { status: 400, title: 'The request is not valid' },
  UNAUTHENTICATED: { status: 401, title: 'Authentication is required' },
  FORBIDDEN: { status: 403, title: 'The caller may not do this' },
  NOT_FOUND: { status: 404, title: 'No such resource' },
  CONFLICT: { status: 409, title: 'The request conflicts with the current state' },
  // draft-ietf-httpapi-idempotency-key-header ("Error Scenarios") answers a reused key with 422; we
  // answer 409 for both so a client has one "this key is taken" status, told apart by the problem type.
  IDEMPOTENCY_KEY_REUSED: { status: 409, title: 'The Idempotency-Key was already used for a different request' },
  IDEMPOTENCY_KEY_IN_FLIGHT: { status: 409, title: 'A request with this Idempotency-Key is still being processed' },
  PAYLOAD_TOO_LARGE: { status: 413, title: 'The request body is too large' },
  RATE_LIMITED: { status: 429, title: 'Too many requests' },
  INTERNAL: { status: 500, title: 'Internal error' },
  BAD_REPLY: { status: 502, title: 'A service answered with a reply that breaks its contract' },
  UNAVAILABLE: { status: 503, title: 'A service is unavailable' },
  TIMEOUT: { status: 504, title: 'A service did not answer in time' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;
export const errorCodeSchema = z.enum(Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]]);

/** The shape of every error on the bus: `{code, message, details}`. */
export const busErrorSchema = z.object({
  code: errorCodeSchema,
  message: z.string(),
  details: z.record(z.string(), z.unknown()).optional(),
});
export type BusErrorBody = z.infer<typeof busErrorSchema>;

export function httpStatusOf(code: ErrorCode): number {
  return ERROR_CODES[code].status;
}

/** Stable RFC 9457 problem type URI for a code. */
export function problemTypeOf(code: ErrorCode): string {
  return `https://strongroom.dev/problems/${code.toLowerCase().replaceAll('_', '-')}`;
}
