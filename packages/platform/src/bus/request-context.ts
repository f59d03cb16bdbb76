import { randomUUID } from 'node:crypto';
import { HEADERS, REQUEST_ID_PATTERN } from '@strongroom/contracts';

/** What a handler learns about the call besides its payload. */
export interface BusRequestContext {
  readonly subject: string;
  readonly requestId: string;
  /** The caller's credential as sent (`Bearer <jwt>`), verified by the service itself (zero trust). */
  readonly credential: string | undefined;
  readonly headers: Readonly<Record<string, string>>;
}

export function requestContextOf(subject: string, headers: Record<string, string>): BusRequestContext {
  const offered = headers[HEADERS.requestId];
  const requestId = offered !== undefined && REQUEST_ID_PATTERN.test(offered) ? offered : randomUUID();
  return { subject, requestId, credential: headers[HEADERS.authorization], headers };
}
