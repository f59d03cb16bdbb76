import { Controller } from '@nestjs/common';
import { getJwks, type PublicJwks } from '@strongroom/contracts';
import { Handles } from '@strongroom/platform';
import { publishedKeys } from './signing-key-ring';
import { SigningKeyStore } from './signing-key-store';

@Controller()
export class JwksHandler {
  constructor(private readonly store: SigningKeyStore) {}

  /** Public keys only: the private halves never leave the secrets provider and this process. */
  @Handles(getJwks)
  async jwks(): Promise<PublicJwks> {
    const now = new Date();
    return { keys: publishedKeys(await this.store.keys(now), now) };
  }
}
