import { randomBytes } from 'node:crypto';
import {
  createClient,
  createTenant,
  createUser,
  getTenant,
  type Permission,
  PLATFORM_TENANT_ID,
  type Tenant,
} from '@strongroom/contracts';
import { type BusClient, PlatformError } from '@strongroom/platform';
import type { LocalCredentialStore } from './local-credentials';

export interface DemoTenant {
  tenantId: string;
  tenantSlug: string;
  adminEmail: string;
  adminPassword: string;
  /** A client_credentials client of the demo tenant's sandbox: `POST /oauth/token` with it. */
  clientId: string;
  clientSecret: string;
  /** A client_credentials client of the platform itself: tenant administration through the gateway. */
  platformClientId: string;
  platformClientSecret: string;
}

/** What the demo client's tokens may do: read its tenant, register clients, manage API keys, revoke tokens, cards, invite users. */
export const DEMO_CLIENT_PERMISSIONS: Permission[] = [
  'tenants.tenants.read',
  'auth.clients.create',
  'auth.api-keys.create',
  'auth.api-keys.read',
  'auth.api-keys.rotate',
  'auth.api-keys.revoke',
  'auth.tokens.revoke',
  'auth.cards.register',
  'auth.cards.verify-pin',
  'auth.cards.unlock',
  'auth.users.create',
  'tenants.environments.read',
  'tenants.environments.update',
  'ledger.accounts.create',
  'ledger.accounts.read',
  'ledger.transfers.create',
  'ledger.transfers.read',
  'ledger.transfers.reverse',
  'ledger.exports.create',
  'audit.records.read',
  'audit.records.export',
  'audit.legal-holds.manage',
];

/**
 * What the platform console client's tokens may do (a super_admin's tenant administration):
 * create, list, read, suspend and reconfigure tenants, and their environments. Its tokens name
 * the platform tenant, so they act on any tenant — keep its secret as you would a root password.
 */
export const PLATFORM_CLIENT_PERMISSIONS: Permission[] = [
  'tenants.tenants.create',
  'tenants.tenants.read',
  'tenants.tenants.list',
  'tenants.tenants.suspend',
  'tenants.settings.update',
  'tenants.environments.read',
  'tenants.environments.update',
];

const DEMO_ADMIN_EMAIL = 'admin@demo.strongroom.test';

/**
 * The demo tenant and its admin, created over the bus as the operator identity, once: a
 * second start finds them (ids and the generated password live in the local credentials).
 */
export async function seedDemoTenant(bus: BusClient, credentials: LocalCredentialStore): Promise<DemoTenant> {
  const tenant = (await knownTenant(bus, credentials)) ?? (await createDemoTenant(bus, credentials));
  const adminPassword = credentials.passwordFor('demo-admin');
  try {
    await bus.request(createUser, {
      tenantId: tenant.id,
      email: DEMO_ADMIN_EMAIL,
      password: adminPassword,
      roles: ['admin', 'partner_admin'],
    });
  } catch (error) {
    // Seeded by an earlier start: the same admin, the same password.
    if (!(error instanceof PlatformError && error.code === 'CONFLICT')) throw error;
  }
  const client = await registeredClient(bus, credentials, {
    key: 'demo',
    tenantId: tenant.id,
    environment: 'sandbox',
    name: 'Demo back office',
    permissions: DEMO_CLIENT_PERMISSIONS,
  });
  const platform = await registeredClient(bus, credentials, {
    key: 'platform',
    tenantId: PLATFORM_TENANT_ID,
    environment: 'production',
    name: 'Platform console',
    permissions: PLATFORM_CLIENT_PERMISSIONS,
  });
  return {
    tenantId: tenant.id,
    tenantSlug: tenant.slug,
    adminEmail: DEMO_ADMIN_EMAIL,
    adminPassword,
    ...client,
    platformClientId: platform.clientId,
    platformClientSecret: platform.clientSecret,
  };
}

interface ClientSpec {
  /** Names its entries in the local credentials (`<key>-client-id`, ...). */
  key: 'demo' | 'platform';
  tenantId: string;
  environment: 'sandbox' | 'production';
  name: string;
  permissions: Permission[];
}

/**
 * Registered once; its secret exists in clear only in the 0600 files of the state dir (the local
 * credentials, and demo.json which `strongroom up` writes for the developer).
 */
async function registeredClient(bus: BusClient, credentials: LocalCredentialStore, spec: ClientSpec) {
  const known = {
    clientId: credentials.valueOf(`${spec.key}-client-id`),
    clientSecret: credentials.valueOf(`${spec.key}-client-secret`),
  };
  if (
    known.clientId !== undefined &&
    known.clientSecret !== undefined &&
    credentials.valueOf(`${spec.key}-client-tenant`) === spec.tenantId
  )
    return { clientId: known.clientId, clientSecret: known.clientSecret };
  const created = await bus.request(createClient, {
    tenantId: spec.tenantId,
    environment: spec.environment,
    name: spec.name,
    grantTypes: ['client_credentials'],
    tokenEndpointAuthMethod: 'client_secret_basic',
    redirectUris: [],
    permissions: spec.permissions,
  });
  if (created.clientSecret === undefined) throw new Error(`the ${spec.key} client was registered without a secret`);
  credentials.rememberAll({
    [`${spec.key}-client-id`]: created.clientId,
    [`${spec.key}-client-secret`]: created.clientSecret,
    [`${spec.key}-client-tenant`]: spec.tenantId,
  });
  return { clientId: created.clientId, clientSecret: created.clientSecret };
}

async function knownTenant(bus: BusClient, credentials: LocalCredentialStore): Promise<Tenant | undefined> {
  const tenantId = credentials.valueOf('demo-tenant-id');
  if (tenantId === undefined) return undefined;
  try {
    return await bus.request(getTenant, { tenantId });
  } catch (error) {
    if (error instanceof PlatformError && error.code === 'NOT_FOUND') return undefined;
    throw error;
  }
}

async function createDemoTenant(bus: BusClient, credentials: LocalCredentialStore): Promise<Tenant> {
  for (const slug of ['demo', `demo-${randomBytes(3).toString('hex')}`]) {
    try {
      const tenant = await bus.request(createTenant, { slug, name: 'Demo Lender', region: 'default' });
      credentials.remember('demo-tenant-id', tenant.id);
      return tenant;
    } catch (error) {
      // `demo` is taken by a database this state dir does not know (e.g. a shared DATABASE_URL).
      if (!(error instanceof PlatformError && error.code === 'CONFLICT')) throw error;
    }
  }
  throw PlatformError.conflict('Could not pick a free slug for the demo tenant');
}
