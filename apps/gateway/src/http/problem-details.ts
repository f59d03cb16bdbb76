import { ERROR_CODES, type ErrorCode, httpStatusOf, problemTypeOf } from '@strongroom/contracts';
import { PlatformError } from '@strongroom/platform';

/** RFC 9457 problem details, with our stable `code` and the request id as extensions. */
export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  code: ErrorCode;
  requestId: string;
  [extension: string]: unknown;
}

const CODE_BY_STATUS: Record<number, ErrorCode> = {
  400: 'VALIDATION',
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'NOT_FOUND',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'VALIDATION',
  429: 'RATE_LIMITED',
  503: 'UNAVAILABLE',
  504: 'TIMEOUT',
};

function problemOf(code: ErrorCode, detail: string, requestId: string, status = httpStatusOf(code)): ProblemDetails {
  return { type: problemTypeOf(code), title: ERROR_CODES[code].title, status, detail, code, requestId };
}

/** Any error → a problem. Only client errors keep their message; a 5xx never leaks internals. */
export function problemFromError(error: unknown, requestId: string): ProblemDetails {
  if (error instanceof PlatformError) {
    const problem = problemOf(error.code, error.message, requestId);
    return error.details === undefined ? problem : { ...error.details, ...problem };
  }
  const status = statusOf(error);
  if (status !== undefined && status >= 400 && status < 500) {
    const code = CODE_BY_STATUS[status] ?? 'VALIDATION';
    const message = error instanceof Error ? clientMessageOf(error) : ERROR_CODES[code].title;
    return problemOf(code, message, requestId, status);
  }
  return problemOf('INTERNAL', 'The gateway could not complete the request', requestId);
}

function statusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const candidate = error as { getStatus?: () => number; statusCode?: unknown; status?: unknown };
  if (typeof candidate.getStatus === 'function') return candidate.getStatus();
  if (typeof candidate.statusCode === 'number') return candidate.statusCode;
  return undefined;
}

const CLIENT_MESSAGE_MAX = 200;

/** Framework messages for 4xx are about the request (bad JSON, too large), safe and useful to echo. */
function clientMessageOf(error: Error): string {
  return error.message.slice(0, CLIENT_MESSAGE_MAX);
}
