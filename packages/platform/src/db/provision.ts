import { Client } from 'pg';
import { PlatformError } from '../errors/platform-error';
import { databaseRoles, quoteIdentifier, quoteLiteral } from './identifiers';

export interface ProvisionOptions {
  /** A superuser (or CREATEDB + CREATEROLE) URL; used for provisioning only, never by a service. */
  adminUrl: string;
  databaseName: string;
  /** Defaults to `<db>_owner`: roles are cluster-wide, so they are named after their database. */
  ownerRole?: string;
  /** Defaults to `<db>_app`; pass the same name to runMigrations. */
  runtimeRole?: string;
  /** Optional: trust auth in tests; `npm start` and deployments pass generated ones. */
  ownerPassword?: string;
  runtimePassword?: string;
}

export interface ServiceDatabaseUrls {
  /** The owner role: runs migrations. */
  ownerUrl: string;
  /** The runtime role: serves requests; owns nothing, NOBYPASSRLS, only the grants migrations give it. */
  runtimeUrl: string;
}

// Bounds for the runtime role's sessions (STYLE: a limit on everything), set on the role itself.
const RUNTIME_STATEMENT_TIMEOUT = '30s';
const RUNTIME_IDLE_IN_TRANSACTION_TIMEOUT = '60s';
const RUNTIME_LOCK_TIMEOUT = '10s';
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * Creates (idempotently) a service's database, its owner role and its runtime role. The
 * runtime role gets CONNECT and USAGE only; every table grant comes from migrations.
 */
export async function provisionServiceDatabase(options: ProvisionOptions): Promise<ServiceDatabaseUrls> {
  const database = quoteIdentifier(options.databaseName);
  const roles = {
    owner: options.ownerRole ?? databaseRoles(options.databaseName).owner,
    runtime: options.runtimeRole ?? databaseRoles(options.databaseName).runtime,
  };
  // DESIGN "Data": the runtime role is not the owner, or RLS and the append-only grants mean nothing.
  if (roles.owner === roles.runtime) throw PlatformError.validation('the runtime role must not be the owner role');
  const owner = quoteIdentifier(roles.owner);
  const runtime = quoteIdentifier(roles.runtime);

  const admin = new Client({ connectionString: options.adminUrl, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  await admin.connect();
  try {
    for (const [role, password] of [
      [roles.owner, options.ownerPassword],
      [roles.runtime, options.runtimePassword],
    ] as const) {
      await ensureLoginRole(admin, role, password);
    }
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [options.databaseName]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${database} OWNER ${owner}`);
    await admin.query(`REVOKE ALL ON DATABASE ${database} FROM PUBLIC`);
    await admin.query(`GRANT CONNECT ON DATABASE ${database} TO ${runtime}`);
    await admin.query(
      `ALTER ROLE ${runtime} IN DATABASE ${database} SET statement_timeout = '${RUNTIME_STATEMENT_TIMEOUT}'`,
    );
    await admin.query(
      `ALTER ROLE ${runtime} IN DATABASE ${database} SET idle_in_transaction_session_timeout = '${RUNTIME_IDLE_IN_TRANSACTION_TIMEOUT}'`,
    );
    await admin.query(`ALTER ROLE ${runtime} IN DATABASE ${database} SET lock_timeout = '${RUNTIME_LOCK_TIMEOUT}'`);
  } finally {
    await admin.end();
  }

  const inDatabase = new Client({
    connectionString: withDatabase(options.adminUrl, options.databaseName),
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
  });
  await inDatabase.connect();
  try {
    // The public schema belongs to the owner; nobody else may create objects in it.
    await inDatabase.query(`ALTER SCHEMA public OWNER TO ${owner}`);
    await inDatabase.query('REVOKE ALL ON SCHEMA public FROM PUBLIC');
    await inDatabase.query(`GRANT USAGE ON SCHEMA public TO ${runtime}`);
  } finally {
    await inDatabase.end();
  }

  return {
    ownerUrl: withCredentials(options.adminUrl, options.databaseName, roles.owner, options.ownerPassword),
    runtimeUrl: withCredentials(options.adminUrl, options.databaseName, roles.runtime, options.runtimePassword),
  };
}

async function ensureLoginRole(admin: Client, role: string, password: string | undefined): Promise<void> {
  const attributes = 'LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT';
  const passwordClause = password === undefined ? '' : ` PASSWORD ${quoteLiteral(password)}`;
  const exists = await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
  const verb = exists.rowCount === 0 ? 'CREATE' : 'ALTER';
  await admin.query(`${verb} ROLE ${quoteIdentifier(role)} ${attributes}${passwordClause}`);
}

/** Drops a service database and its roles (tests, and `strongroom` teardown). */
export async function dropServiceDatabase(
  adminUrl: string,
  databaseName: string,
  roles: { owner: string; runtime: string } = databaseRoles(databaseName),
): Promise<void> {
  const admin = new Client({ connectionString: adminUrl, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(databaseName)} WITH (FORCE)`);
    await admin.query(`DROP ROLE IF EXISTS ${quoteIdentifier(roles.runtime)}`);
    await admin.query(`DROP ROLE IF EXISTS ${quoteIdentifier(roles.owner)}`);
  } finally {
    await admin.end();
  }
}

export function withDatabase(url: string, databaseName: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${databaseName}`;
  return parsed.toString();
}

function withCredentials(url: string, databaseName: string, user: string, password: string | undefined): string {
  const parsed = new URL(withDatabase(url, databaseName));
  parsed.username = user;
  parsed.password = password === undefined ? '' : encodeURIComponent(password);
  return parsed.toString();
}
