/** Header names carried by every bus message (NATS headers) and accepted at the gateway. */
export const HEADERS = {
  traceparent: 'traceparent',
  tracestate: 'tracestate',
  requestId: 'x-request-id',
  /** The caller's credential: `Bearer <jwt>` of the end user or of the calling service. */
  authorization: 'authorization',
  /**
   * The HTTP client's address and user agent as the gateway saw them, for the audit trail
   * (issue 7). Set by the gateway on every call it forwards (a client's own values are replaced);
   * recorded as the gateway's statement, never used for a decision.
   */
  clientIp: 'x-strongroom-client-ip',
  userAgent: 'x-strongroom-user-agent',
} as const;

/** W3C trace-context `traceparent` (version 00). */
export const TRACEPARENT_PATTERN = /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
/** Request ids are opaque, printable and bounded so they are safe to log and echo. */
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;
