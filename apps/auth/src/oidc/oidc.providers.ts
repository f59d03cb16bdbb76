import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit, type Provider } from '@nestjs/common';
import {
  ACCESS_TOKEN_TTL_SECONDS_MAX,
  anomalyDetected,
  loginAttempted,
  mfaEnrolled,
  tokensRevoked,
} from '@strongroom/contracts';
import {
  credentialsOf,
  dataSourceOf,
  enqueueAudit,
  enqueueEvent,
  PepperedHasher,
  SERVICE_RESOURCES,
  type ServiceResources,
  VersionedSecretKeys,
  withoutTenant,
} from '@strongroom/platform';
import type { EntityManager } from 'typeorm';
import { AUTH_AUDIT_EMITTER, AUTH_SERVICE_ACTOR, authAuditEvent, publishingSink } from '../auth-audit';
import { AUTH_PEPPER_PATH } from '../auth-secrets';
import { PgLoginAccounts } from '../login/login-accounts';
import { loginAuditEvents, loginRecordOf } from '../login/login-audit';
import { LoginService } from '../login/login-service';
import { UserAccessReader } from '../roles/user-access';
import { publishedKeys } from '../signing-keys/signing-key-ring';
import { SigningKeyStore } from '../signing-keys/signing-key-store';
import { TenantPolicies } from '../tenant-policies/tenant-policies';
import { LoginThrottle } from '../throttling/login-throttle';
import { PgAttemptStore } from '../throttling/pg-attempt-store';
import { invitationAcceptance } from '../users/invitation-page';
import { InvitationsRepository } from '../users/invitations.repository';
import { currentExchangeOrigin } from './exchange-origin';
import { IssuanceRecorder } from './issuance-recorder';
import { CLIENT_SECRET_HASH_DOMAIN, OidcProviderHost } from './oidc-provider-host';
import { OidcStore } from './oidc-store';
import { StructuredTokens } from './structured-tokens';
import { accessTokenRevokedAuditEvent, refreshReuseAuditEvents } from './token-audit';

const OIDC_COOKIE_KEY_PATH = 'auth/oidc-cookie-key';
const CLEANUP_INTERVAL_MS = 60_000;

/** The provider host of this process, wired to the platform's database, secrets, keys and revocation list. */
export const oidcProviders: Provider[] = [
  {
    provide: OidcStore,
    inject: [SERVICE_RESOURCES],
    useFactory: (resources: ServiceResources) =>
      new OidcStore({ dataSource: dataSourceOf(resources), secrets: resources.secrets }),
  },
  {
    provide: PgAttemptStore,
    inject: [SERVICE_RESOURCES],
    useFactory: (resources: ServiceResources) => new PgAttemptStore(dataSourceOf(resources), resources.secrets),
  },
  {
    provide: IssuanceRecorder,
    inject: [SERVICE_RESOURCES],
    useFactory: (resources: ServiceResources) => new IssuanceRecorder(dataSourceOf(resources), resources.logger),
  },
  {
    provide: OidcProviderHost,
    inject: [SERVICE_RESOURCES, SigningKeyStore, OidcStore, PgAttemptStore, IssuanceRecorder, TenantPolicies],
    useFactory: (
      resources: ServiceResources,
      signingKeys: SigningKeyStore,
      store: OidcStore,
      attempts: PgAttemptStore,
      issuances: IssuanceRecorder,
      tenantPolicies: TenantPolicies,
    ) => {
      const { config, logger } = resources;
      const dataSource = dataSourceOf(resources);
      const accounts = new PgLoginAccounts(dataSource, resources.secrets);
      const userAccess = new UserAccessReader(dataSource);
      const publish = (write: (manager: EntityManager) => Promise<unknown>) =>
        withoutTenant(dataSource, write).then(() => undefined);
      const login = new LoginService({
        accounts,
        recoveryCodeHasher: new PepperedHasher(resources.secrets, {
          domain: 'mfa-recovery-code',
          path: AUTH_PEPPER_PATH,
        }),
        throttle: new LoginThrottle(attempts),
        reportAnomaly: (anomaly, tenantId) => {
          const audit = authAuditEvent(
            { actor: AUTH_SERVICE_ACTOR, origin: currentExchangeOrigin() },
            {
              tenantId,
              action: 'auth.anomaly.detect',
              resource: { type: 'login_anomaly', id: anomaly.kind },
              details: { failures: anomaly.failures, windowSeconds: anomaly.windowSeconds },
            },
          );
          publish(async (manager) => {
            await enqueueEvent(
              manager,
              anomalyDetected,
              { ...anomaly, tenantId, detectedAt: new Date().toISOString() },
              { tenantId },
            );
            await enqueueAudit(manager, AUTH_AUDIT_EMITTER, [audit]);
          }).catch((error: unknown) => logger.error({ err: error }, 'login anomaly not published'));
        },
        // Every attempt is audited; an enrolment confirmed by this sign-in is an MFA change too.
        recordAttempt: (attempt, outcome, userId) => {
          const tenantId = attempt.tenantId;
          // Read now: the exchange's origin is in this call's async context, not the outbox write's.
          const audit = loginAuditEvents(attempt, outcome, userId, currentExchangeOrigin());
          publish(async (manager) => {
            await enqueueEvent(manager, loginAttempted, loginRecordOf(attempt, outcome, userId), { tenantId });
            await enqueueAudit(manager, AUTH_AUDIT_EMITTER, audit);
            if (outcome.outcome === 'authenticated' && outcome.enrolledMfa !== undefined)
              await enqueueEvent(
                manager,
                mfaEnrolled,
                { tenantId, userId: outcome.userId, method: 'totp', occurredAt: attempt.now.toISOString() },
                { tenantId },
              );
          }).catch((error: unknown) => logger.error({ err: error }, 'login audit not published'));
        },
      });
      return new OidcProviderHost({
        accessOf: (tenantId, userId) => userAccess.accessOf(tenantId, userId),
        tenantPolicies,
        login,
        pages: [invitationAcceptance(new InvitationsRepository(dataSource, resources.secrets))],
        // JWT access tokens are not stored: the record is written after the answer, not with a state change.
        onTokenIssued: (issued, audit) => issuances.record(issued, audit),
        auditRefusals: publishingSink(resources),
        // Theft of a refresh token is assumed: every token of the user goes, everywhere, and an alert is raised.
        onRefreshTokenReuse: ({ tenantId, accountId, clientId }, origin) =>
          publish(async (manager) => {
            const now = new Date();
            await enqueueAudit(
              manager,
              AUTH_AUDIT_EMITTER,
              refreshReuseAuditEvents({ tenantId, accountId, clientId }, origin, now),
            );
            await enqueueEvent(
              manager,
              tokensRevoked,
              {
                scope: 'subject',
                subject: accountId,
                revokedAt: now.toISOString(),
                expiresAt: new Date(now.getTime() + ACCESS_TOKEN_TTL_SECONDS_MAX * 1000).toISOString(),
              },
              { tenantId },
            );
            await enqueueEvent(
              manager,
              anomalyDetected,
              { kind: 'refresh_token_reuse', tenantId, subject: accountId, clientId, detectedAt: now.toISOString() },
              { tenantId },
            );
          }),
        issuer: config.PUBLIC_URL,
        audience: config.TOKEN_AUDIENCE,
        store,
        signingKeys: () => signingKeys.keys(),
        clientSecrets: new PepperedHasher(resources.secrets, {
          domain: CLIENT_SECRET_HASH_DOMAIN,
          path: AUTH_PEPPER_PATH,
        }),
        cookieKeys: new VersionedSecretKeys(resources.secrets, OIDC_COOKIE_KEY_PATH),
        structuredTokens: new StructuredTokens({
          issuer: config.PUBLIC_URL,
          audience: config.TOKEN_AUDIENCE,
          publicJwks: async () => {
            const now = new Date();
            return { keys: publishedKeys(await signingKeys.keys(now), now) };
          },
          // Fail closed: without the revocation list no token may be called active.
          isRevoked: (claims) => credentialsOf(resources).isRevoked(claims),
        }),
        revokeAccessToken: (claims, revokedBy, origin) =>
          publish(async (manager) => {
            await enqueueEvent(
              manager,
              tokensRevoked,
              {
                scope: 'token',
                tokenId: claims.jti,
                revokedAt: new Date().toISOString(),
                expiresAt: new Date(claims.exp * 1000).toISOString(),
              },
              { tenantId: claims.tenant_id },
            );
            await enqueueAudit(manager, AUTH_AUDIT_EMITTER, [
              accessTokenRevokedAuditEvent(
                { tokenId: claims.jti, tenantId: claims.tenant_id, environment: claims.env },
                revokedBy.clientId,
                origin,
              ),
            ]);
          }),
        logger,
      });
    },
  },
];

/** Expired codes, grants, sessions and login attempts leave in small batches (DESIGN "Growth stays bounded"). */
@Injectable()
export class OidcStoreCleanup implements OnModuleInit, OnModuleDestroy {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: OidcStore,
    private readonly attempts: PgAttemptStore,
    private readonly issuances: IssuanceRecorder,
    @Inject(SERVICE_RESOURCES) private readonly resources: ServiceResources,
  ) {}

  onModuleInit(): void {
    this.timer = setInterval(() => {
      const warn = (error: unknown) => this.resources.logger.warn({ err: error }, 'oidc cleanup');
      this.store.deleteExpired().catch(warn);
      this.attempts.deleteExpired().catch(warn);
    }, CLEANUP_INTERVAL_MS);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    await this.issuances.stop();
  }
}
