import { Controller, Inject } from '@nestjs/common';
import { ANONYMOUS_ACTOR, issueServiceToken, PLATFORM_AUDIT_TENANT_ID, type ServiceToken } from '@strongroom/contracts';
import {
  auditOriginOf,
  type BusRequestContext,
  Handles,
  PlatformError,
  SERVICE_RESOURCES,
  type ServiceResources,
} from '@strongroom/platform';
import { type AuditSink, authAuditEvent, publishingSink } from '../auth-audit';
import { ServiceTokenIssuer } from './service-token-issuer';

/**
 * Service tokens are audited (issue 7: token issuance includes service tokens), published: an
 * issuance writes nothing. A process asks for one every few minutes, so the trail stays small.
 */
@Controller()
export class ServiceTokensHandler {
  private readonly audit: AuditSink;

  constructor(
    private readonly issuer: ServiceTokenIssuer,
    @Inject(SERVICE_RESOURCES) resources: ServiceResources,
  ) {
    this.audit = publishingSink(resources);
  }

  /**
   * The token names the identity whose reply inbox the answer goes to: only that identity can
   * subscribe there, so whoever sent the request, only that identity ever reads its token.
   * UNAUTHENTICATED when the reply subject is no identity's inbox.
   */
  @Handles(issueServiceToken)
  async issue(_input: object, context: BusRequestContext): Promise<ServiceToken> {
    const origin = auditOriginOf(context);
    const common = { tenantId: PLATFORM_AUDIT_TENANT_ID, action: 'auth.token.issue' } as const;
    if (context.replyIdentity === undefined) {
      this.audit([
        authAuditEvent(
          { actor: ANONYMOUS_ACTOR, origin },
          {
            ...common,
            resource: { type: 'service_token', id: 'none' },
            outcome: 'denied',
            reason: 'NO_REPLY_IDENTITY',
          },
        ),
      ]);
      throw PlatformError.unauthenticated('Ask for a service token from your own reply inbox');
    }
    const { token, claims } = await this.issuer.issueWithClaims(context.replyIdentity);
    this.audit([
      authAuditEvent(
        { actor: { type: 'service', id: context.replyIdentity }, origin },
        {
          ...common,
          resource: { type: 'access_token', id: claims.jti },
          details: { grantType: 'service_token', expiresAt: new Date(claims.exp * 1000).toISOString() },
        },
      ),
    ]);
    return token;
  }
}
