import { backendConfigSchema, ConfigError, loadConfig } from '../src';

const valid = { DATABASE_RUNTIME_URL: 'postgres://ledger_app@127.0.0.1:5432/strongroom_ledger' };

describe('service configuration', () => {
  it('fills documented defaults', () => {
    const config = loadConfig('ledger', backendConfigSchema('ledger'), valid);
    expect(config).toMatchObject({
      NODE_ENV: 'development',
      NATS_URL: 'tls://127.0.0.1:4223',
      OPS_PORT: 9103,
      BUS_TIMEOUT_MS: 5_000,
      MIGRATE_ON_START: true,
    });
  });

  it('stops at a missing variable, naming it', () => {
    expect(() => loadConfig('ledger', backendConfigSchema('ledger'), {})).toThrow(
      expect.objectContaining({ name: 'ConfigError', message: expect.stringContaining('DATABASE_RUNTIME_URL') }),
    );
  });

  it.each([
    ['NATS_URL', 'http://nats:4222'],
    ['OPS_PORT', 'ninety'],
    ['BUS_TIMEOUT_MS', '7'],
    ['NODE_ENV', 'staging'],
    ['MIGRATE_ON_START', 'maybe'],
    ['DATABASE_MIGRATION_URL', 'mysql://x@y/z'],
    ['OTEL_EXPORTER_OTLP_ENDPOINT', 'not a url'],
  ])('stops at a malformed %s, naming it and not echoing its value', (variable, value) => {
    let error: unknown;
    try {
      loadConfig('ledger', backendConfigSchema('ledger'), { ...valid, [variable]: value });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toContain(variable);
    expect((error as ConfigError).message).not.toContain(value);
  });

  it('never echoes a secret that sits in a malformed URL', () => {
    const secret = 'p4ssw0rd-that-must-not-leak';
    expect(() =>
      loadConfig('ledger', backendConfigSchema('ledger'), { DATABASE_RUNTIME_URL: `mysql://app:${secret}@db/x` }),
    ).toThrow(expect.not.objectContaining({ message: expect.stringContaining(secret) }));
  });
});
