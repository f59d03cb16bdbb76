import { join } from 'node:path';
import { LocalCredentialStore } from '../up/local-credentials';
import { AuditCliError } from './audit-api';

/** `strongroom up`'s embedded Postgres (when DATABASE_URL is not set), as it derives it. */
const EMBEDDED_POSTGRES_PORT_DEFAULT = 54_329;
const DATABASE_PREFIX_DEFAULT = 'strongroom';

/**
 * The audit database as its admin (superuser) reaches it: DATABASE_URL's server and credentials,
 * database `<STRONGROOM_DB_PREFIX>_audit`, as `strongroom up` provisions it; without
 * DATABASE_URL, the embedded server of the local stack in STRONGROOM_STATE_DIR (`.strongroom`).
 */
export function auditDatabaseUrlOf(env: NodeJS.ProcessEnv): string {
  const prefix = env.STRONGROOM_DB_PREFIX ?? DATABASE_PREFIX_DEFAULT;
  if (!/^[a-z][a-z0-9_]{0,30}$/.test(prefix))
    throw new AuditCliError('AUDIT_DATABASE', 'STRONGROOM_DB_PREFIX must match [a-z][a-z0-9_]{0,30}');
  const adminUrl = env.DATABASE_URL || localStackAdminUrl(env);
  let url: URL;
  try {
    url = new URL(adminUrl);
  } catch {
    throw new AuditCliError('AUDIT_DATABASE', 'DATABASE_URL is not a URL');
  }
  if (!/^postgres(ql)?:$/.test(url.protocol))
    throw new AuditCliError('AUDIT_DATABASE', 'DATABASE_URL must be a postgres:// URL');
  url.pathname = `/${prefix}_audit`;
  return url.toString();
}

function localStackAdminUrl(env: NodeJS.ProcessEnv): string {
  const stateDir = env.STRONGROOM_STATE_DIR ?? '.strongroom';
  const password = new LocalCredentialStore(stateDir).valueOf('postgres-admin');
  if (password === undefined) {
    throw new AuditCliError(
      'AUDIT_DATABASE',
      `set DATABASE_URL to the Postgres admin URL (no local stack in ${join(stateDir, 'credentials.json')})`,
    );
  }
  const port = Number(env.POSTGRES_PORT ?? EMBEDDED_POSTGRES_PORT_DEFAULT);
  return `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
}
