import {
  ACCESS_TOKEN_TTL_SECONDS_DEFAULT,
  type Environment,
  OIDC_ROUTES,
  PERMISSIONS,
  type Permission,
} from '@strongroom/contracts';
import type { JWK } from 'jose';
import { type Adapter, type ClientMetadata, type Configuration, errors, type KoaContextWithOIDC } from 'oidc-provider';
import { type UserAccess, waitOutAccessChange } from '../roles/user-access';
import type { SigningAlgorithm } from '../signing-keys/signing-key-ring';
import type { TenantPolicy } from '../tenant-policies/tenant-policies';

/** Seed 001: refresh tokens live 7 days; seed 003: never more than 90 days, re-authentication after. */
export const REFRESH_TOKEN_TTL_SECONDS = 7 * 86_400;
export const REFRESH_TOKEN_ABSOLUTE_TTL_SECONDS_MAX = 90 * 86_400;
const AUTHORIZATION_CODE_TTL_SECONDS = 60;
const INTERACTION_TTL_SECONDS = 10 * 60;
const SESSION_TTL_SECONDS = 8 * 3_600;

/** Our client metadata besides the standard members: whose the client is and what its tokens may do. */
export interface StrongroomClientMetadata extends ClientMetadata {
  tenant_id: string;
  environment: Environment;
  permissions: Permission[];
}

export interface OidcConfigurationInput {
  audience: string;
  /** The signing keys, current first: JWKS publishes them all, tokens are signed with `signingKid`. */
  privateJwks: JWK[];
  signingKid: string;
  signingAlg: SigningAlgorithm;
  adapter: new (model: string) => Adapter;
  /** Keys of the signed cookies of interactions (Koa keygrip), newest first. */
  cookieKeys: string[];
  /** A tenant's status and token settings (cached ≤ 1 s); `peek` answers from the cache only. */
  tenantPolicyOf(tenantId: string): Promise<TenantPolicy>;
  peekTenantPolicy(tenantId: string): TenantPolicy | undefined;
  /** Whether the tenant environment's IP allowlist lets a client at `address` in (cached ≤ 1 s). */
  addressAllowed(tenantId: string, environment: Environment, address: string): Promise<boolean>;
  /**
   * A user's roles and the permissions of its predefined and custom roles in a tenant, or
   * undefined when the user is gone (its grants then stop working).
   */
  accessOf(tenantId: string, userId: string): Promise<UserAccess | undefined>;
}

type ClientWithMetadata = { clientId: string; metadata(): StrongroomClientMetadata };
const metadataOf = (ctx: KoaContextWithOIDC) =>
  (ctx.oidc.client as unknown as ClientWithMetadata | undefined)?.metadata();

/** The permissions a token carries: the requested scope within the client's own, or all of the client's. */
export function permissionsOfToken(clientPermissions: readonly string[], scope: string | undefined): string[] {
  const requested = (scope ?? '').split(' ').filter((value) => value !== '');
  if (requested.length === 0) return [...clientPermissions];
  const allowed = new Set(clientPermissions);
  return requested.filter((value) => allowed.has(value));
}

/**
 * oidc-provider's configuration, every option we depend on stated (STYLE: do not trust
 * defaults). Access tokens are RFC 9068 JWTs for one audience, the platform API.
 */
export function oidcConfiguration(input: OidcConfigurationInput): Configuration {
  const catalogue = Object.keys(PERMISSIONS).join(' ');
  return {
    adapter: input.adapter,
    jwks: { keys: input.privateJwks as Configuration['jwks'] extends { keys: infer K } ? K : never },
    cookies: { keys: input.cookieKeys },
    routes: {
      authorization: OIDC_ROUTES.authorization,
      token: OIDC_ROUTES.token,
      introspection: OIDC_ROUTES.introspection,
      revocation: OIDC_ROUTES.revocation,
      userinfo: OIDC_ROUTES.userinfo,
      jwks: OIDC_ROUTES.jwks,
      pushed_authorization_request: OIDC_ROUTES.pushedAuthorizationRequest,
      end_session: OIDC_ROUTES.endSession,
    },
    // Authorization code only: no implicit or hybrid flows (RFC 9700 §2.1.2).
    responseTypes: ['code'],
    clientDefaults: {
      grant_types: ['client_credentials'],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: input.signingAlg,
    },
    extraClientMetadata: { properties: ['tenant_id', 'environment', 'permissions'] },
    enabledJWA: {
      idTokenSigningAlgValues: ['RS256', 'ES256'],
      clientAuthSigningAlgValues: ['ES256', 'RS256', 'PS256', 'EdDSA'],
      requestObjectSigningAlgValues: ['ES256', 'RS256', 'PS256', 'EdDSA'],
      dPoPSigningAlgValues: ['ES256', 'EdDSA'],
    },
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'],
    // RFC 9700 §2.1.1: PKCE for every authorization-code client, S256 only (oidc-provider 9 knows no `plain`).
    pkce: { required: () => true },
    // Permissions are scopes too: a client's registered `scope` may only name known scopes.
    scopes: ['openid', 'offline_access', ...Object.keys(PERMISSIONS)],
    claims: { openid: ['sub'], email: ['email'] },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: false },
      // Off until every resource server checks DPoP proofs: a bound token accepted as a bearer is a downgrade.
      dPoP: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => input.audience,
        useGrantedResource: () => true,
        // Every access token of every grant passes here: a suspended tenant gets none, and each
        // tenant's tokens live as long as its settings say (15–60 min).
        getResourceServerInfo: async (ctx: KoaContextWithOIDC, resource: string, client) => {
          if (resource !== input.audience) throw new errors.InvalidTarget('unknown resource indicator');
          const metadata = client.metadata() as StrongroomClientMetadata;
          const tenantId = metadata.tenant_id;
          const policy = await input.tenantPolicyOf(tenantId);
          if (policy.status !== 'active') throw new errors.UnauthorizedClient('the tenant is suspended');
          // No token for a client outside its environment's IP allowlist (the gateway would refuse its calls anyway).
          if (!(await input.addressAllowed(tenantId, metadata.environment, ctx.ip)))
            throw new errors.UnauthorizedClient('requests from this address are not allowed in this environment');
          return {
            scope: catalogue,
            audience: input.audience,
            accessTokenTTL: policy.settings.accessTokenTtlSeconds,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: input.signingAlg, kid: input.signingKid } },
          };
        },
      },
    },
    // A user's token may do what the user's roles allow, within the client's permissions and the scope.
    extraTokenClaims: async (ctx, token) => {
      const metadata = metadataOf(ctx);
      if (metadata === undefined) return undefined;
      let permissions = permissionsOfToken(metadata.permissions, token.scope);
      if ('accountId' in token && typeof token.accountId === 'string') {
        // Read afresh, after oidc-provider fixed this token's `iat`: a role change committed before
        // the read is in these permissions, and one committed after it revokes this token.
        const access = await input.accessOf(metadata.tenant_id, token.accountId);
        permissions = permissions.filter((permission) => access?.permissions.has(permission as Permission) ?? false);
      }
      return { tenant_id: metadata.tenant_id, env: metadata.environment, permissions };
    },
    // Accounts are the users of the client's tenant (RLS scopes the lookup to it).
    findAccount: async (ctx, sub) => {
      const metadata = metadataOf(ctx);
      const access = metadata === undefined ? undefined : await input.accessOf(metadata.tenant_id, sub);
      if (access === undefined) return undefined;
      // Runs before the token's `iat` is stamped: right after the user's access narrowed, wait for
      // the next second so the new token is not covered by that revocation (docs/identity.md).
      await waitOutAccessChange(access.accessChangedAt);
      return { accountId: sub, roles: access.roles, claims: () => ({ sub }) };
    },
    // Clients are registered by their tenant's administrators (first party): signing in grants
    // what the client may do, no consent screen. The user's roles narrow it in the token.
    loadExistingGrant: async (ctx) => {
      const { client, session, provider } = ctx.oidc;
      if (client === undefined || session?.accountId === undefined) return undefined;
      const grantId = ctx.oidc.result?.consent?.grantId ?? session.grantIdFor(client.clientId);
      if (grantId !== undefined) return provider.Grant.find(grantId);
      const grant = new provider.Grant({ clientId: client.clientId, accountId: session.accountId });
      const permissions = (metadataOf(ctx)?.permissions ?? []).join(' ');
      // Permissions are both OIDC scopes (known to the provider) and the API resource's scopes.
      grant.addOIDCScope(`openid offline_access ${permissions}`);
      grant.addResourceScope(input.audience, permissions);
      await grant.save();
      return grant;
    },
    // The token's `scope` says what `permissions` says: a user's token never claims, in `scope`,
    // a permission its user's roles do not hold (the grant is the client's, first party).
    formats: {
      customizers: {
        jwt: (_ctx, _token, jwt) => {
          const permissions = jwt.payload.permissions;
          if (Array.isArray(permissions))
            jwt.payload.scope = permissions.length > 0 ? permissions.join(' ') : undefined;
        },
      },
    },
    // Refresh tokens for clients allowed the grant, without the offline_access consent dance.
    issueRefreshToken: (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    ttl: {
      // The tenant's setting, carried by the resource server getResourceServerInfo answered.
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? ACCESS_TOKEN_TTL_SECONDS_DEFAULT,
      ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? ACCESS_TOKEN_TTL_SECONDS_DEFAULT,
      AuthorizationCode: AUTHORIZATION_CODE_TTL_SECONDS,
      Interaction: INTERACTION_TTL_SECONDS,
      Session: SESSION_TTL_SECONDS,
      Grant: REFRESH_TOKEN_ABSOLUTE_TTL_SECONDS_MAX,
      IdToken: ACCESS_TOKEN_TTL_SECONDS_DEFAULT,
      // A rotated refresh token never outlives the family's first one by more than 90 days.
      RefreshToken: (_ctx, token, client) => {
        const tenantId = (client.metadata() as StrongroomClientMetadata).tenant_id;
        // Resolved moments before by getResourceServerInfo in the same request, so known here.
        const lifetimeSeconds =
          input.peekTenantPolicy(tenantId)?.settings.refreshTokenTtlSeconds ?? REFRESH_TOKEN_TTL_SECONDS;
        const nowSeconds = Math.floor(Date.now() / 1000);
        // `iiat`: when the family's first refresh token was issued (oidc-provider keeps it through rotations).
        const familyAgeSeconds = nowSeconds - (token.iiat ?? token.iat ?? nowSeconds);
        return Math.max(1, Math.min(lifetimeSeconds, REFRESH_TOKEN_ABSOLUTE_TTL_SECONDS_MAX - familyAgeSeconds));
      },
    },
    rotateRefreshToken: true,
    // Unknown or expired interactions answer with the provider's error page, which never echoes input.
    interactions: { url: (_ctx, interaction) => `${OIDC_ROUTES.interaction}/${interaction.uid}` },
    conformIdTokenClaims: true,
    renderError: (ctx, out) => {
      ctx.type = 'application/json';
      ctx.body = { error: out.error, error_description: out.error_description };
    },
  };
}
