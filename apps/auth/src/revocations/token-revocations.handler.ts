import { Controller } from '@nestjs/common';
import { type RequestOf, type ResponseOf, revokeTokens } from '@strongroom/contracts';
import { assertMayActOnTenant, type BusRequestContext, Handles } from '@strongroom/platform';
import { TokenRevocationsRepository } from './token-revocations.repository';

@Controller()
export class TokenRevocationsHandler {
  constructor(private readonly revocations: TokenRevocationsRepository) {}

  /** NOT_FOUND for a user or client outside the tenant; nothing is revoked unless every target is found. */
  @Handles(revokeTokens)
  async revoke(
    input: RequestOf<typeof revokeTokens>,
    context: BusRequestContext,
  ): Promise<ResponseOf<typeof revokeTokens>> {
    assertMayActOnTenant(context.principal, input.tenantId);
    const now = new Date();
    const grantsRevoked = await this.revocations.revoke(input.tenantId, input.targets, now);
    return { revokedAt: now.toISOString(), grantsRevoked };
  }
}
