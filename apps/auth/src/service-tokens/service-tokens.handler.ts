import { Controller } from '@nestjs/common';
import { issueServiceToken, type ServiceToken } from '@strongroom/contracts';
import { type BusRequestContext, Handles, PlatformError } from '@strongroom/platform';
import { ServiceTokenIssuer } from './service-token-issuer';

@Controller()
export class ServiceTokensHandler {
  constructor(private readonly issuer: ServiceTokenIssuer) {}

  /**
   * The token names the identity whose reply inbox the answer goes to: only that identity can
   * subscribe there, so whoever sent the request, only that identity ever reads its token.
   * UNAUTHENTICATED when the reply subject is no identity's inbox.
   */
  @Handles(issueServiceToken)
  async issue(_input: object, context: BusRequestContext): Promise<ServiceToken> {
    if (context.replyIdentity === undefined) {
      throw PlatformError.unauthenticated('Ask for a service token from your own reply inbox');
    }
    return this.issuer.issue(context.replyIdentity);
  }
}
