import { randomUUID } from 'node:crypto';
import { type BusIdentity, busIdentityOfInbox, HEADERS, REQUEST_ID_PATTERN } from '@strongroom/contracts';
import type { Principal } from '../credentials/principal';

/** What a handler learns about the call besides its payload. */
export interface BusRequestContext {
  readonly subject: string;
  readonly requestId: string;
  /** The caller's credential as sent (`Bearer <jwt>`): forward it when calling on the caller's behalf. */
  readonly credential: string | undefined;
  readonly headers: Readonly<Record<string, string>>;
  /**
   * Who is calling, from the credential `@Handles` verified before the handler ran, with the
   * contract's permission checked. Undefined only in the handler of a public contract
   * (`authentication: 'none'`).
   */
  readonly principal: Principal | undefined;
  /**
   * The bus identity whose reply inbox (`_INBOX.<identity>.…`) the answer goes to, or undefined
   * when the reply subject is no identity's inbox. Only that identity can read the answer; it is
   * not proof of who sent the request (a caller may name another identity's inbox).
   */
  readonly replyIdentity: BusIdentity | undefined;
}

export interface RequestContextParts {
  principal?: Principal;
  replyTo?: string;
}

export function requestContextOf(
  subject: string,
  headers: Record<string, string>,
  parts: RequestContextParts = {},
): BusRequestContext {
  const offered = headers[HEADERS.requestId];
  const requestId = offered !== undefined && REQUEST_ID_PATTERN.test(offered) ? offered : randomUUID();
  return {
    subject,
    requestId,
    credential: headers[HEADERS.authorization],
    headers,
    principal: parts.principal,
    replyIdentity: busIdentityOfInbox(parts.replyTo),
  };
}
