import { Controller } from '@nestjs/common';
import { exchangeOidcHttp, type RequestOf, type ResponseOf } from '@strongroom/contracts';
import { type BusRequestContext, Handles } from '@strongroom/platform';
import { exchangeOriginOf } from './exchange-origin';
import { OidcProviderHost } from './oidc-provider-host';

@Controller()
export class OidcExchangeHandler {
  constructor(private readonly host: OidcProviderHost) {}

  /** Public on the bus: the OAuth endpoints authenticate the client themselves (RFC 6749 §2.3). */
  @Handles(exchangeOidcHttp)
  exchange(
    input: RequestOf<typeof exchangeOidcHttp>,
    context: BusRequestContext,
  ): Promise<ResponseOf<typeof exchangeOidcHttp>> {
    return this.host.exchange(input, exchangeOriginOf(context, input));
  }
}
