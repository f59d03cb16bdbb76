import {
  ConfigError,
  loadConfig,
  ROUTABLE_REGIONS,
  regionalDatabasesConfigSchema,
  regionDatabaseVariables,
} from '../src';

const KE_RUNTIME = 'postgres://ledger_app@ke-db.internal:5432/strongroom_ledger';
const KE_OWNER = 'postgres://ledger_owner@ke-db.internal:5432/strongroom_ledger';
const SECRET = 'p4ssw0rd-that-must-not-leak';

function parse(env: NodeJS.ProcessEnv) {
  return loadConfig('ledger', regionalDatabasesConfigSchema(), env);
}

function problemsOf(env: NodeJS.ProcessEnv): ConfigError {
  try {
    parse(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('regional database configuration', () => {
  it('names a region’s variables after the default ones, suffixed with the region', () => {
    expect(regionDatabaseVariables('ke')).toEqual({
      runtime: 'DATABASE_RUNTIME_URL_KE',
      migration: 'DATABASE_MIGRATION_URL_KE',
    });
    expect(ROUTABLE_REGIONS).not.toContain('default');
  });

  it('configures no regional database by default: every tenant uses the default one', () => {
    expect(parse({ DATABASE_RUNTIME_URL: 'postgres://app@127.0.0.1/strongroom_ledger', PATH: '/usr/bin' })).toEqual({});
  });

  it('reads a region’s runtime and migration URLs', () => {
    expect(parse({ DATABASE_RUNTIME_URL_KE: KE_RUNTIME, DATABASE_MIGRATION_URL_KE: KE_OWNER })).toEqual({
      ke: { runtimeUrl: KE_RUNTIME, migrationUrl: KE_OWNER },
    });
  });

  it('accepts a region with a runtime URL alone (migrated elsewhere), and treats an empty value as unset', () => {
    expect(
      parse({ DATABASE_RUNTIME_URL_ZA: KE_RUNTIME, DATABASE_RUNTIME_URL_NG: ' ', DATABASE_MIGRATION_URL_NG: '' }),
    ).toEqual({ za: { runtimeUrl: KE_RUNTIME } });
  });

  it.each(ROUTABLE_REGIONS)('accepts every region of the contracts: %s', (region) => {
    const variables = regionDatabaseVariables(region);
    expect(parse({ [variables.runtime]: KE_RUNTIME })).toEqual({ [region]: { runtimeUrl: KE_RUNTIME } });
  });

  it.each([
    ['DATABASE_RUNTIME_URL_XX', /names no region; the regions are ZW, ZM, KE/],
    ['DATABASE_MIGRATION_URL_KEN', /names no region/],
    ['DATABASE_RUNTIME_URL_ke', /names no region/],
    ['DATABASE_RUNTIME_URL_DEFAULT', /the default region's database is DATABASE_RUNTIME_URL/],
    ['DATABASE_MIGRATION_URL_DEFAULT', /the default region's database is DATABASE_MIGRATION_URL/],
  ])('stops at %s, naming it and not echoing its value', (variable, message) => {
    const error = problemsOf({ [variable]: `postgres://app:${SECRET}@db/x`, DATABASE_RUNTIME_URL_KE: KE_RUNTIME });
    expect(error.problems).toEqual([expect.stringMatching(new RegExp(`^${variable}: `))]);
    expect(error.message).toMatch(message);
    expect(error.message).not.toContain(SECRET);
  });

  it('stops at a malformed regional URL, naming it and not echoing its value', () => {
    const error = problemsOf({ DATABASE_RUNTIME_URL_KE: `mysql://app:${SECRET}@db/x` });
    expect(error.problems).toEqual(['DATABASE_RUNTIME_URL_KE: must be a postgres:// URL']);
    expect(error.message).not.toContain(SECRET);
  });

  it('stops at a migration URL without the runtime URL of its region', () => {
    expect(problemsOf({ DATABASE_MIGRATION_URL_SA: KE_OWNER }).problems).toEqual([
      'DATABASE_MIGRATION_URL_SA: needs DATABASE_RUNTIME_URL_SA too',
    ]);
  });

  it('reports every problem at once', () => {
    const error = problemsOf({ DATABASE_RUNTIME_URL_XX: KE_RUNTIME, DATABASE_RUNTIME_URL_KE: 'not a url' });
    expect(error.problems).toHaveLength(2);
  });
});
