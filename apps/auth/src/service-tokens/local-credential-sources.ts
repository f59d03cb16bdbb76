import type { CredentialSources, ServiceResources } from '@strongroom/platform';
import { publishedKeys } from '../signing-keys/signing-key-ring';
import { SigningKeyStore } from '../signing-keys/signing-key-store';
import { ServiceTokenIssuer } from './service-token-issuer';

/**
 * Auth verifies tokens and signs its own from the key ring it holds, without the bus: its
 * permissions do not let it call its own subjects, and a round trip to itself would add nothing.
 */
export function localCredentialSources(resources: ServiceResources): CredentialSources {
  const keys = new SigningKeyStore(resources);
  const issuer = new ServiceTokenIssuer(keys, resources);
  return {
    fetchJwks: async () => {
      const now = new Date();
      return { keys: publishedKeys(await keys.keys(now), now) };
    },
    fetchServiceToken: () => issuer.issue('auth'),
  };
}
