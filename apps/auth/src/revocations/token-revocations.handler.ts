import { Controller } from '@nestjs/common';
import { type RequestOf, type ResponseOf, revokeTokens } from '@strongroom/contracts';
import { assertMayActOnTenant, type BusRequestContext, Handles } from '@strongroom/platform';
import { AuthAuditPublisher, auditTrailOf, authAuditEvent, refusalTenantOf } from '../auth-audit';
import { TokenRevocationsRepository } from './token-revocations.repository';

@Controller()
export class TokenRevocationsHandler {
  constructor(
    private readonly revocations: TokenRevocationsRepository,
    private readonly audit: AuthAuditPublisher,
  ) {}

  /** NOT_FOUND for a user or client outside the tenant; nothing is revoked unless every target is found. */
  @Handles(revokeTokens)
  async revoke(
    input: RequestOf<typeof revokeTokens>,
    context: BusRequestContext,
  ): Promise<ResponseOf<typeof revokeTokens>> {
    assertMayActOnTenant(context.principal, input.tenantId);
    const now = new Date();
    const trail = auditTrailOf(context);
    const grantsRevoked = await this.audit.refusals(
      () => this.revocations.revoke(input.tenantId, input.targets, now, trail),
      (refusal) => [
        authAuditEvent(trail, {
          tenantId: refusalTenantOf(context),
          action: 'auth.token.revoke',
          resource: { type: 'tenant', id: input.tenantId },
          details: { targets: input.targets.length },
          ...refusal,
        }),
      ],
    );
    return { revokedAt: now.toISOString(), grantsRevoked };
  }
}
