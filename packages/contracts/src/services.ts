/** Every process on the bus. A service's client certificate carries its name as CN. */
export const SERVICE_NAMES = ['gateway', 'auth', 'tenants', 'ledger', 'kyc', 'consent', 'audit'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** The services that own a database and serve subjects; the gateway only calls. */
export const BACKEND_SERVICES = [
  'auth',
  'tenants',
  'ledger',
  'kyc',
  'consent',
  'audit',
] as const satisfies readonly ServiceName[];
export type BackendServiceName = (typeof BACKEND_SERVICES)[number];

export function isServiceName(value: string): value is ServiceName {
  return (SERVICE_NAMES as readonly string[]).includes(value);
}

/** Services are released together from this monorepo; one version for all. */
export const PLATFORM_VERSION = '0.1.0';
