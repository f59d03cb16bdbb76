import {
  type AuditAction,
  type AuditEventInput,
  HEADERS,
  PLATFORM_AUDIT_TENANT_ID,
  REQUEST_SIGNING_HEADERS,
} from '@strongroom/contracts';
import {
  auditActorOf,
  auditEventOf,
  auditOriginOf,
  type BusCallClient,
  clientHeadersOf,
  PlatformError,
  type Principal,
  type RefusalAudit,
} from '@strongroom/platform';
import type { FastifyRequest } from 'fastify';

/**
 * The gateway's audit of the requests it refuses before any service sees them (issue 7): a
 * credential refused (401: missing, invalid, expired, revoked, a refused API-key signature) is
 * `gateway.request.authenticate`; a verified credential refused (403: its permissions, its
 * environment, its address outside the IP allowlist) is `gateway.request.authorize`. Refusals
 * after the gateway let a request through are the services' to audit; 404s of unknown routes,
 * health checks and rate limiting are not refusals of a credential and are not recorded.
 */

/** The type of the resource a gateway refusal names: the route, `<METHOD>:<pattern>`. */
export const ROUTE_RESOURCE = 'route';

/** How the caller tried to authenticate (never the credential itself). */
export type CredentialKind = 'bearer' | 'api_key' | 'none';

export interface RefusedRequest {
  route: { method: string; url: string };
  requestId: string;
  client: BusCallClient;
  credential: CredentialKind;
  /** The verified caller, when the refusal came after verification (a 403). */
  principal?: Principal;
  error: unknown;
}

const ACTION_BY_CODE: Partial<Record<string, AuditAction>> = {
  UNAUTHENTICATED: 'gateway.request.authenticate',
  FORBIDDEN: 'gateway.request.authorize',
};

/** The credential a request presented, by kind. */
export function credentialKindOf(request: FastifyRequest): CredentialKind {
  if (request.headers[REQUEST_SIGNING_HEADERS.apiKey] !== undefined) return 'api_key';
  return request.headers[HEADERS.authorization] !== undefined ? 'bearer' : 'none';
}

/**
 * The audit event of a refused request, or undefined when the error is no refusal of the
 * credential (a bad body, a rate limit, a service down). The route is named by its pattern (the
 * audit resource id allows no space: `GET:/v1/tenants/:tenantId/ledger/accounts`), never by the
 * URL a client typed. The tenant is the verified principal's, the platform's before verification:
 * an unverified claim must not file records into a tenant's chain.
 */
export function gatewayRefusalEventOf(refused: RefusedRequest): AuditEventInput | undefined {
  const { error, principal } = refused;
  if (!(error instanceof PlatformError)) return undefined;
  const action = ACTION_BY_CODE[error.code];
  if (action === undefined) return undefined;
  const refusal = error.details?.reason;
  const permission = error.details?.permission;
  return auditEventOf({
    tenantId: principal?.tenantId ?? PLATFORM_AUDIT_TENANT_ID,
    ...(principal !== undefined ? { environment: principal.environment } : {}),
    actor: auditActorOf(principal),
    action,
    resource: { type: ROUTE_RESOURCE, id: `${refused.route.method}:${refused.route.url}` },
    outcome: 'denied',
    reason: error.code,
    // The gateway states its own client's address.
    ...auditOriginOf({
      requestId: refused.requestId,
      headers: clientHeadersOf(refused.client),
      replyIdentity: 'gateway',
    }),
    details: {
      credential: refused.credential,
      ...(typeof refusal === 'string' ? { refusal } : {}),
      ...(typeof permission === 'string' ? { permission } : {}),
    },
  });
}

/** Records a refused request's event without delaying the answer (bounded: see RefusalAudit). */
export function auditGatewayRefusal(audit: RefusalAudit, refused: RefusedRequest): void {
  const event = gatewayRefusalEventOf(refused);
  if (event !== undefined) audit.record(event);
}
