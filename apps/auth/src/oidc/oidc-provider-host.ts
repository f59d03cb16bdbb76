import {
  type AccessTokenClaims,
  type AuditEventInput,
  type exchangeOidcHttp,
  OIDC_RESPONSE_HEADERS,
  type PayloadOf,
  type RequestOf,
  type ResponseOf,
  type tokenIssued,
} from '@strongroom/contracts';
import type { AuditOrigin, PepperedHasher, VersionedSecretKeys } from '@strongroom/platform';
import { inject } from 'light-my-request';
import Provider, { type KoaContextWithOIDC } from 'oidc-provider';
import type { Logger } from 'pino';
import type { AuditSink } from '../auth-audit';
import type { LoginService } from '../login/login-service';
import { currentKey, publishedKeys, type SigningKey } from '../signing-keys/signing-key-ring';
import type { TenantPolicies } from '../tenant-policies/tenant-policies';
import { currentExchangeOrigin, withExchangeOrigin } from './exchange-origin';
import { loginInteraction } from './login-interaction';
import { type OidcConfigurationInput, oidcConfiguration, type StrongroomClientMetadata } from './oidc-configuration';
import type { OidcStore } from './oidc-store';
import type { StructuredTokens } from './structured-tokens';
import { tokenIssuedAuditEvent, tokenRefusedAuditEvent } from './token-audit';

export interface OidcProviderHostOptions {
  issuer: string;
  audience: string;
  store: OidcStore;
  signingKeys: () => Promise<SigningKey[]>;
  clientSecrets: PepperedHasher;
  cookieKeys: VersionedSecretKeys;
  structuredTokens: StructuredTokens;
  accessOf: OidcConfigurationInput['accessOf'];
  tenantPolicies: TenantPolicies;
  /** The sign-in of the authorization-code flow. */
  login: LoginService;
  /** More pages of the sign-in surface under `/oauth/` (invitations). */
  pages: Array<(ctx: KoaContextWithOIDC, next: () => Promise<void>) => Promise<unknown>>;
  /**
   * A rotated refresh token came back: oidc-provider has revoked its grant; every access token
   * of the user at this client must go too, and an alert must be raised (issue 4).
   */
  onRefreshTokenReuse(
    reuse: { tenantId: string; accountId: string; clientId: string },
    origin: AuditOrigin,
  ): Promise<void>;
  /** Records an issuance (through the outbox) and its audit event; must not throw. */
  onTokenIssued(issued: PayloadOf<typeof tokenIssued>, audit: AuditEventInput): void;
  /** Sends audit events of refused token requests (they write nothing); must not throw. */
  auditRefusals: AuditSink;
  /** Publishes the revocation of one access token (through the outbox), for the client that asked (RFC 7009). */
  revokeAccessToken: (claims: AccessTokenClaims, revokedBy: { clientId: string }, origin: AuditOrigin) => Promise<void>;
  logger: Logger;
}

type Exchange = RequestOf<typeof exchangeOidcHttp>;
type ExchangeReply = ResponseOf<typeof exchangeOidcHttp>;

/** Separates client-secret hashes from every other peppered hash. */
export const CLIENT_SECRET_HASH_DOMAIN = 'oauth-client-secret';

/** How often the signing-key ring is re-read, so a rotation reaches the provider. */
const KEY_CHECK_INTERVAL_MS = 60_000;

/**
 * Owns the oidc-provider instance of this process: built from the current signing-key ring and
 * rebuilt when the ring changes (keys are published before use, so tokens signed by either
 * instance verify everywhere). HTTP exchanges forwarded by the gateway are injected into it.
 */
export class OidcProviderHost {
  private current: { provider: Provider; ringId: string } | undefined;
  private building: Promise<Provider> | undefined;
  private checkedAtMs = 0;

  constructor(private readonly options: OidcProviderHostOptions) {}

  /** One HTTP exchange; `origin` (the request's id, trace and client) is what its audit events carry. */
  async exchange(request: Exchange, origin: AuditOrigin = {}): Promise<ExchangeReply> {
    const provider = await this.provider();
    const issuer = new URL(this.options.issuer);
    const response = await withExchangeOrigin(origin, () => this.inject(provider, issuer, request));
    const headers: ExchangeReply['headers'] = {};
    for (const name of OIDC_RESPONSE_HEADERS) {
      const value = response.headers[name];
      if (typeof value === 'string') headers[name] = value;
      else if (Array.isArray(value)) headers[name] = value.map(String);
    }
    return { status: response.statusCode, headers, body: response.payload };
  }

  private inject(provider: Provider, issuer: URL, request: Exchange) {
    return inject(provider.callback(), {
      method: request.method,
      url: request.url,
      // The issuer, not the client's Host header, names every URL the provider writes.
      headers: {
        ...request.headers,
        host: issuer.host,
        'x-forwarded-proto': issuer.protocol.replace(':', ''),
        'x-forwarded-for': request.remoteAddress,
      },
      payload: request.body,
      remoteAddress: request.remoteAddress,
    });
  }

  private async provider(): Promise<Provider> {
    const now = Date.now();
    if (this.current !== undefined && now - this.checkedAtMs < KEY_CHECK_INTERVAL_MS) return this.current.provider;
    this.building ??= this.refresh().finally(() => {
      this.building = undefined;
    });
    return this.building;
  }

  private async refresh(): Promise<Provider> {
    const now = new Date();
    const keys = await this.options.signingKeys();
    const signing = currentKey(keys, now);
    if (signing === undefined) throw new Error('the signing-key ring has no active key');
    const published = publishedKeys(keys, now).map((key) => key.kid);
    const ringId = `${signing.kid}|${published.join(',')}`;
    this.checkedAtMs = now.getTime();
    if (this.current?.ringId === ringId) return this.current.provider;
    const privateJwks = [signing, ...keys.filter((key) => key.kid !== signing.kid && published.includes(key.kid))].map(
      (key) => key.privateJwk,
    );
    const cookieKey = (await this.options.cookieKeys.currentKey()).key.toString('base64url');
    const provider = new Provider(
      this.options.issuer,
      oidcConfiguration({
        audience: this.options.audience,
        privateJwks,
        signingKid: signing.kid,
        signingAlg: signing.alg,
        adapter: this.options.store.adapterClass(),
        cookieKeys: [cookieKey],
        accessOf: this.options.accessOf,
        tenantPolicyOf: (tenantId) => this.options.tenantPolicies.policyOf(tenantId),
        peekTenantPolicy: (tenantId) => this.options.tenantPolicies.peek(tenantId),
        addressAllowed: (tenantId, environment, address) =>
          this.options.tenantPolicies.addressAllowed(tenantId, environment, address),
      }),
    );
    // The gateway is the only way in; it sets X-Forwarded-* from the issuer and the client address.
    provider.proxy = true;
    this.useHashedClientSecrets(provider);
    provider.use(this.structuredTokenEndpoints());
    provider.use(loginInteraction(provider, this.options.login, this.options.tenantPolicies));
    for (const page of this.options.pages) provider.use(page);
    provider.on('grant.success', (ctx: KoaContextWithOIDC) => this.recordIssuance(ctx));
    provider.on('grant.error', (ctx: KoaContextWithOIDC, error: { error?: string; error_detail?: string }) => {
      this.detectRefreshTokenReuse(ctx, error);
      this.recordRefusal(ctx, error);
    });
    provider.on('server_error', (_ctx: unknown, error: Error) =>
      this.options.logger.error({ err: error }, 'oidc-provider server error'),
    );
    this.current = { provider, ringId };
    this.options.logger.info({ kid: signing.kid, published: published.length }, 'oidc provider ready');
    return provider;
  }

  /** An event listener of the provider: it must never break the token endpoint it listens to. */
  private recordIssuance(ctx: KoaContextWithOIDC): void {
    try {
      this.recordIssuanceOf(ctx);
    } catch (error) {
      this.options.logger.error({ err: error }, 'token issuance not recorded');
    }
  }

  private recordIssuanceOf(ctx: KoaContextWithOIDC): void {
    const token = ctx.oidc.entities.AccessToken ?? ctx.oidc.entities.ClientCredentials;
    const metadata = (ctx.oidc.client as unknown as { metadata(): StrongroomClientMetadata } | undefined)?.metadata();
    const grantType = ctx.oidc.params?.grant_type;
    if (token === undefined || metadata === undefined || typeof grantType !== 'string') return;
    const accountId = 'accountId' in token ? token.accountId : undefined;
    const issued: PayloadOf<typeof tokenIssued> = {
      tenantId: metadata.tenant_id,
      clientId: metadata.client_id,
      subject: typeof accountId === 'string' ? accountId : metadata.client_id,
      grantType: grantType as PayloadOf<typeof tokenIssued>['grantType'],
      tokenId: token.jti,
      expiresAt: new Date(Date.now() + token.expiration * 1000).toISOString(),
      occurredAt: new Date().toISOString(),
    };
    this.options.onTokenIssued(issued, tokenIssuedAuditEvent(issued, metadata.environment, currentExchangeOrigin()));
  }

  /** A refused token request is audited (published: nothing was written); never breaks the endpoint. */
  private recordRefusal(ctx: KoaContextWithOIDC, error: { error?: string }): void {
    try {
      const metadata = (
        ctx.oidc?.client as unknown as { metadata(): StrongroomClientMetadata } | undefined
      )?.metadata();
      const event = tokenRefusedAuditEvent(
        {
          error: error.error ?? 'server_error',
          client:
            metadata === undefined
              ? undefined
              : { clientId: metadata.client_id, tenantId: metadata.tenant_id, environment: metadata.environment },
          presentedClientId: ctx.oidc?.params?.client_id,
          grantType: ctx.oidc?.params?.grant_type,
        },
        currentExchangeOrigin(),
      );
      this.options.auditRefusals([event]);
    } catch (failure) {
      this.options.logger.error({ err: failure }, 'token refusal not audited');
    }
  }

  private detectRefreshTokenReuse(ctx: KoaContextWithOIDC, error: { error_detail?: string }): void {
    // oidc-provider's refresh_token grant: a consumed token presented again revokes the grant.
    if (error.error_detail !== 'refresh token already used') return;
    const token = ctx.oidc.entities.RefreshToken;
    const metadata = (ctx.oidc.client as unknown as { metadata(): StrongroomClientMetadata } | undefined)?.metadata();
    if (token?.accountId === undefined || metadata === undefined) return;
    this.options
      .onRefreshTokenReuse(
        { tenantId: metadata.tenant_id, accountId: token.accountId, clientId: metadata.client_id },
        currentExchangeOrigin(),
      )
      .catch((failure: unknown) => this.options.logger.error({ err: failure }, 'refresh-token reuse not published'));
  }

  /**
   * Client secrets are stored as HMAC-SHA256 under a pepper (DESIGN, seed 002): the metadata's
   * `client_secret` holds the hash, and the presented secret is hashed and compared in constant time.
   */
  private useHashedClientSecrets(provider: Provider): void {
    const hasher = this.options.clientSecrets;
    const clientClass = provider.Client as unknown as { prototype: { compareClientSecret(actual: string): unknown } };
    clientClass.prototype.compareClientSecret = function compareHashedSecret(this: { clientSecret?: string }, actual) {
      return this.clientSecret === undefined ? false : hasher.verify(actual, this.clientSecret);
    };
  }

  /**
   * oidc-provider answers `unsupported_token_type` for JWTs at introspection and revocation,
   * after it has authenticated the client. For our own access tokens we answer instead: RFC 7662
   * from the signature, claims and denylist; RFC 7009 by publishing a revocation every service applies.
   */
  private structuredTokenEndpoints() {
    const { structuredTokens, revokeAccessToken } = this.options;
    return async (ctx: KoaContextWithOIDC, next: () => Promise<void>) => {
      await next();
      const route = ctx.oidc?.route;
      if (route !== 'introspection' && route !== 'revocation') return;
      const refused =
        ctx.status === 400 && (ctx.body as { error?: string } | undefined)?.error === 'unsupported_token_type';
      const client = ctx.oidc.client as unknown as
        | { clientId: string; metadata(): StrongroomClientMetadata }
        | undefined;
      const token = ctx.oidc.params?.token;
      if (!refused || client === undefined || typeof token !== 'string') return;
      ctx.status = 200;
      ctx.type = 'application/json';
      if (route === 'introspection') {
        const metadata = client.metadata();
        ctx.body = await structuredTokens.introspect(token, {
          tenantId: metadata.tenant_id,
          environment: metadata.environment,
        });
        return;
      }
      const claims = await structuredTokens.revocable(token, client.clientId);
      // RFC 7009 §2.2: 200 whether or not there was anything to revoke.
      if (claims !== undefined) await revokeAccessToken(claims, { clientId: client.clientId }, currentExchangeOrigin());
      ctx.body = '';
    };
  }
}
