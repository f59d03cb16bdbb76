import {
  ANONYMOUS_ACTOR,
  type AuditActor,
  type AuditEventInput,
  type Environment,
  type PayloadOf,
  PLATFORM_AUDIT_TENANT_ID,
  type tokenIssued,
} from '@strongroom/contracts';
import type { AuditOrigin } from '@strongroom/platform';
import { AUTH_SERVICE_ACTOR, authAuditEvent } from '../auth-audit';

/**
 * The audit events of the OAuth token endpoint and of RFC 7009 revocation (issue 7): a token
 * issued (who got it, by which grant: the token itself never), a token request refused, a
 * rotated refresh token replayed and the revocation it causes, an access token revoked.
 */

const CLIENT_ID = /^[A-Za-z0-9._:@-]{1,128}$/;

/** client_credentials: the client acts for itself; the other grants act for the signed-in user. */
function holderOf(issued: PayloadOf<typeof tokenIssued>): AuditActor {
  return issued.grantType === 'client_credentials'
    ? { type: 'client', id: issued.clientId }
    : { type: 'user', id: issued.subject };
}

export function tokenIssuedAuditEvent(
  issued: PayloadOf<typeof tokenIssued>,
  environment: Environment | undefined,
  origin: AuditOrigin,
): AuditEventInput {
  return authAuditEvent(
    { actor: holderOf(issued), origin },
    {
      tenantId: issued.tenantId,
      environment,
      occurredAt: issued.occurredAt,
      action: 'auth.token.issue',
      resource: { type: 'access_token', id: issued.tokenId },
      details: { grantType: issued.grantType, clientId: issued.clientId, expiresAt: issued.expiresAt },
    },
  );
}

/** OAuth errors that refuse a credential (the client's secret, a code, a refresh token): `denied`; the rest are `failure`s. */
const CREDENTIAL_REFUSALS = new Set(['invalid_client', 'unauthorized_client', 'invalid_grant', 'access_denied']);

export interface TokenRefusal {
  /** The error code of RFC 6749 §5.2 (invalid_grant, invalid_client, …). */
  error: string;
  /** The authenticated client's, when client authentication got that far. */
  client: { clientId: string; tenantId: string; environment: Environment } | undefined;
  /** As presented (unverified), when the client was not authenticated. */
  presentedClientId: unknown;
  grantType: unknown;
}

/**
 * A refused token request. Nobody is proven (anonymous); the record goes to the chain of the
 * client that authenticated, else the platform's (a presented client id is not proof of a tenant).
 */
export function tokenRefusedAuditEvent(refusal: TokenRefusal, origin: AuditOrigin): AuditEventInput {
  const clientId = refusal.client?.clientId ?? refusal.presentedClientId;
  return authAuditEvent(
    { actor: ANONYMOUS_ACTOR, origin },
    {
      tenantId: refusal.client?.tenantId ?? PLATFORM_AUDIT_TENANT_ID,
      environment: refusal.client?.environment,
      action: 'auth.token.issue',
      resource: {
        type: 'oauth_client',
        id: typeof clientId === 'string' && CLIENT_ID.test(clientId) ? clientId : 'unknown',
      },
      outcome: CREDENTIAL_REFUSALS.has(refusal.error) ? 'denied' : 'failure',
      reason: /^[a-z_]{1,64}$/.test(refusal.error) ? refusal.error : 'invalid_request',
      details: {
        ...(typeof refusal.grantType === 'string' && /^[a-z_:.-]{1,64}$/.test(refusal.grantType)
          ? { grantType: refusal.grantType }
          : {}),
        authenticatedClient: refusal.client !== undefined,
      },
    },
  );
}

/**
 * A rotated refresh token presented again (issue 4): theft is assumed. The detection, and the
 * revocation of every token of the user it causes, done by auth itself within the request.
 */
export function refreshReuseAuditEvents(
  reuse: { tenantId: string; accountId: string; clientId: string },
  origin: AuditOrigin,
  now: Date,
): AuditEventInput[] {
  const trail = { actor: ANONYMOUS_ACTOR, origin };
  const common = { tenantId: reuse.tenantId, occurredAt: now.toISOString() };
  return [
    authAuditEvent(trail, {
      ...common,
      action: 'auth.token.reuse-detect',
      resource: { type: 'user', id: reuse.accountId },
      outcome: 'denied',
      reason: 'refresh_token_reused',
      details: { clientId: reuse.clientId },
    }),
    authAuditEvent(trail, {
      ...common,
      actor: AUTH_SERVICE_ACTOR,
      action: 'auth.token.revoke',
      resource: { type: 'user', id: reuse.accountId },
      details: { scope: 'subject', cause: 'refresh_token_reused' },
    }),
  ];
}

/** RFC 7009: a client revoked one of its own access tokens. */
export function accessTokenRevokedAuditEvent(
  token: { tokenId: string; tenantId: string; environment: Environment | undefined },
  clientId: string,
  origin: AuditOrigin,
): AuditEventInput {
  return authAuditEvent(
    { actor: { type: 'client', id: clientId }, origin },
    {
      tenantId: token.tenantId,
      environment: token.environment,
      action: 'auth.token.revoke',
      resource: { type: 'access_token', id: token.tokenId },
      details: { scope: 'token' },
    },
  );
}
