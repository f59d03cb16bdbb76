import { Controller, Inject } from '@nestjs/common';
import { createClient, type RequestOf, type ResponseOf } from '@strongroom/contracts';
import {
  assertMayActOnTenant,
  type BusRequestContext,
  Handles,
  isPlatformPrincipal,
  PepperedHasher,
  PlatformError,
  SERVICE_RESOURCES,
  type ServiceResources,
} from '@strongroom/platform';
import { AuthAuditPublisher, auditTrailOf, authAuditEvent, refusalTenantOf } from '../auth-audit';
import { AUTH_PEPPER_PATH } from '../auth-secrets';
import { CLIENT_SECRET_HASH_DOMAIN } from '../oidc/oidc-provider-host';
import { registerClient } from './client-registration';
import { ClientsRepository } from './clients.repository';

@Controller()
export class ClientsHandler {
  private readonly secrets: PepperedHasher;

  constructor(
    private readonly clients: ClientsRepository,
    private readonly audit: AuthAuditPublisher,
    @Inject(SERVICE_RESOURCES) resources: ServiceResources,
  ) {
    this.secrets = new PepperedHasher(resources.secrets, { domain: CLIENT_SECRET_HASH_DOMAIN, path: AUTH_PEPPER_PATH });
  }

  /**
   * VALIDATION naming every broken registration rule; the client never gets a permission its
   * creator lacks. The secret is returned once and stored as a peppered HMAC.
   */
  @Handles(createClient)
  async create(
    input: RequestOf<typeof createClient>,
    context: BusRequestContext,
  ): Promise<ResponseOf<typeof createClient>> {
    assertMayActOnTenant(context.principal, input.tenantId);
    const trail = auditTrailOf(context);
    return this.audit.refusals(
      () => this.register(input, context, trail),
      (refusal) => [
        authAuditEvent(trail, {
          tenantId: refusalTenantOf(context),
          environment: input.environment,
          action: 'auth.client.create',
          resource: { type: 'oauth_client', id: 'new' },
          ...refusal,
        }),
      ],
    );
  }

  private async register(
    input: RequestOf<typeof createClient>,
    context: BusRequestContext,
    trail: ReturnType<typeof auditTrailOf>,
  ): Promise<ResponseOf<typeof createClient>> {
    const principal = context.principal;
    // A sandbox credential never creates production clients, and the other way round.
    if (!isPlatformPrincipal(principal!) && principal!.environment !== input.environment)
      throw PlatformError.forbidden(
        `A ${principal!.environment} credential cannot register ${input.environment} clients`,
        {
          reason: 'WRONG_ENVIRONMENT',
        },
      );
    // The platform (operator seeding a tenant) may grant any catalogue permission.
    const creatorPermissions = isPlatformPrincipal(principal!)
      ? new Set<string>(input.permissions)
      : principal!.permissions;
    const registration = registerClient(input, creatorPermissions);
    const metadata =
      registration.clientSecret === undefined
        ? registration.metadata
        : { ...registration.metadata, client_secret: await this.secrets.hash(registration.clientSecret) };
    const created = await this.clients.create(registration.client, metadata, trail);
    return registration.clientSecret === undefined ? created : { ...created, clientSecret: registration.clientSecret };
  }
}
