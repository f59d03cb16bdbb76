import { EnvelopeEncryption, PgDataKeyRepository, type ServiceResources, Tokenizer } from '@strongroom/platform';
import type { DataSource } from 'typeorm';
import { AUTH_KEK_NAME } from '../auth-secrets';
import type { CardNumberTokens } from './cards.service';

/** Auth's own key (Vault policy: a service reads only `<service>/*`); cards live in auth's database alone. */
export const CARD_TOKENIZATION_KEY_PATH = 'auth/card-tokenization';

/**
 * Card references are the platform Tokenizer's tokens (DESIGN "Secrets and keys": a deterministic
 * keyed token for lookups): HMAC-SHA256 under the tokenization key in the secrets provider,
 * separated by kind and tenant, so one card gives unrelated references in two tenants. Only
 * `lookupTokens` is used: the card number is not stored at all, not even encrypted (seed 001,
 * issue 4), so the envelope encryption the Tokenizer is built with never runs for cards.
 */
export function tokenizerCardNumberTokens(resources: ServiceResources, dataSource: DataSource): CardNumberTokens {
  const envelope = new EnvelopeEncryption({
    transit: resources.secrets,
    repository: new PgDataKeyRepository(dataSource),
    kekName: AUTH_KEK_NAME,
  });
  const tokenizer = new Tokenizer(resources.secrets, envelope, { path: CARD_TOKENIZATION_KEY_PATH });
  return {
    tokensOf: (tenantId, normalisedCardNumber) =>
      tokenizer.lookupTokens({ tenantId, kind: 'card_number', value: normalisedCardNumber }),
  };
}
