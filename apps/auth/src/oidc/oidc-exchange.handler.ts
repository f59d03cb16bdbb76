import { Controller } from '@nestjs/common';
import { exchangeOidcHttp, type RequestOf, type ResponseOf } from '@strongroom/contracts';
import { Handles } from '@strongroom/platform';
import { OidcProviderHost } from './oidc-provider-host';

@Controller()
export class OidcExchangeHandler {
  constructor(private readonly host: OidcProviderHost) {}

  /** Public on the bus: the OAuth endpoints authenticate the client themselves (RFC 6749 §2.3). */
  @Handles(exchangeOidcHttp)
  exchange(input: RequestOf<typeof exchangeOidcHttp>): Promise<ResponseOf<typeof exchangeOidcHttp>> {
    return this.host.exchange(input);
  }
}
