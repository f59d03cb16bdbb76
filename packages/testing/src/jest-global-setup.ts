import './workspace-resolution';
import { acquireTestPostgres, TEST_ADMIN_URL_VARIABLE } from './postgres';

declare global {
  // eslint-disable-next-line no-var
  var strongroomTestPostgres: { stop(): Promise<void> } | undefined;
}

/** One Postgres for the whole run; workers inherit its URL through the environment. */
export default async function globalSetup(): Promise<void> {
  const postgres = await acquireTestPostgres();
  process.env[TEST_ADMIN_URL_VARIABLE] = postgres.adminUrl;
  globalThis.strongroomTestPostgres = postgres;
}
