import { PlatformError } from '../errors/platform-error';

// Postgres identifiers are at most 63 bytes; ours are plain lower-case words so they never need quoting tricks.
const IDENTIFIER = /^[a-z][a-z0-9_]{0,62}$/;

/** Refuses anything but a plain identifier, then double-quotes it for SQL text. */
export function quoteIdentifier(name: string): string {
  if (!IDENTIFIER.test(name)) throw PlatformError.validation(`"${name}" is not a plain SQL identifier`);
  return `"${name}"`;
}

/** A string literal for DDL, where bind parameters are not allowed (e.g. role passwords). */
export function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

export function serviceDatabaseName(service: string, prefix = 'strongroom'): string {
  const name = `${prefix}_${service}`;
  quoteIdentifier(name);
  return name;
}

/** Roles are cluster-wide, so they are named after their database: `<db>_owner` and `<db>_app`. */
export function databaseRoles(databaseName: string): { owner: string; runtime: string } {
  return { owner: `${databaseName}_owner`, runtime: `${databaseName}_app` };
}
