import type { createClient, RequestOf } from '@strongroom/contracts';
import { PlatformError } from '@strongroom/platform';
import { registerClient, registrationViolations } from '../src/clients/client-registration';
import { permissionsOfToken } from '../src/oidc/oidc-configuration';

type Request = RequestOf<typeof createClient>;

const creator = new Set(['tenants.tenants.read', 'auth.clients.create']);
const base: Request = {
  tenantId: '5b1d8a0e-2f43-4c6a-9d1e-0a1b2c3d4e5f',
  environment: 'sandbox',
  name: 'Back office',
  grantTypes: ['client_credentials'],
  tokenEndpointAuthMethod: 'client_secret_basic',
  redirectUris: [],
  permissions: ['tenants.tenants.read'],
};

describe('client registration rules', () => {
  it('registers a confidential client: a fresh id, a 256-bit secret, metadata for oidc-provider', () => {
    const registration = registerClient(base, creator);
    expect(registration.client.clientId).toMatch(/^sr_client_[A-Za-z0-9_-]{22}$/);
    expect(registration.clientSecret).toMatch(/^sr_secret_[A-Za-z0-9_-]{43}$/);
    expect(registration.metadata).toMatchObject({
      client_id: registration.client.clientId,
      client_secret: registration.clientSecret,
      grant_types: ['client_credentials'],
      response_types: [],
      scope: 'tenants.tenants.read',
      tenant_id: base.tenantId,
      environment: 'sandbox',
    });
    expect(registerClient(base, creator).client.clientId).not.toBe(registration.client.clientId);
  });

  it('gives a public authorization-code client no secret and the openid scopes', () => {
    const registration = registerClient(
      {
        ...base,
        grantTypes: ['authorization_code', 'refresh_token'],
        tokenEndpointAuthMethod: 'none',
        redirectUris: ['https://app.example/callback'],
      },
      creator,
    );
    expect(registration.clientSecret).toBeUndefined();
    expect(registration.metadata.response_types).toEqual(['code']);
    expect(registration.metadata.scope).toBe('tenants.tenants.read openid offline_access');
  });

  it.each<[string, Partial<Request>, string]>([
    ['a code client without redirect URIs', { grantTypes: ['authorization_code'] }, 'redirect URI'],
    [
      'redirect URIs without the code grant',
      { redirectUris: ['https://app.example/cb'] },
      'only for the authorization_code',
    ],
    ['refresh tokens for client credentials', { grantTypes: ['client_credentials', 'refresh_token'] }, 'refresh_token'],
    ['a public client using client credentials', { tokenEndpointAuthMethod: 'none' }, 'public client'],
    ['private_key_jwt without keys', { tokenEndpointAuthMethod: 'private_key_jwt' }, 'needs the client public keys'],
    ['keys for a secret client', { jwks: { keys: [{ kty: 'EC' }] } }, 'only for private_key_jwt'],
    ['a permission the creator lacks', { permissions: ['tenants.tenants.create'] }, 'tenants.tenants.create'],
  ])('refuses %s', (_case, change, expected) => {
    const request = { ...base, ...change };
    expect(registrationViolations(request, creator).join('; ')).toContain(expected);
    expect(() => registerClient(request, creator)).toThrow(PlatformError);
  });

  it('accepts every valid shape without violations', () => {
    expect(registrationViolations(base, creator)).toEqual([]);
  });
});

describe('permissions of a token', () => {
  const client = ['tenants.tenants.read', 'auth.clients.create'];
  it('carries all of the client’s permissions when no scope was asked', () => {
    expect(permissionsOfToken(client, undefined)).toEqual(client);
    expect(permissionsOfToken(client, '')).toEqual(client);
  });
  it('narrows to the requested scope and never widens', () => {
    expect(permissionsOfToken(client, 'auth.clients.create')).toEqual(['auth.clients.create']);
    expect(permissionsOfToken(client, 'auth.clients.create tenants.tenants.create openid')).toEqual([
      'auth.clients.create',
    ]);
  });
});
