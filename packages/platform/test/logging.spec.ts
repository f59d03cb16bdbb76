import { Writable } from 'node:stream';
import { context, trace } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-node';
import { createLogger, REDACTED_KEYS, redactionPaths, redactString } from '../src/logging';
import { startTelemetry } from '../src/telemetry';

/** A logger writing into memory, so a test can read every line it produced. */
function capturedLogger(level: 'info' | 'debug' = 'info') {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      callback();
    },
  });
  const logger = createLogger({ service: 'auth', level, destination });
  return {
    logger,
    text: () => lines.join('\n'),
    records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

const SECRETS = {
  password: 'hunter2-correct-horse',
  pin: '482913',
  clientSecret: 'cs-4f1d8a0b9e',
  access_token: 'at-9b8c7d6e5f',
  refreshToken: 'rt-0a1b2c3d4e',
  authorization: 'Bearer opaque-token-77',
  cookie: 'sr_session=abc.def',
  xApiKey: 'sr_live_xk3J9d0sQ',
  privateKey: '-----BEGIN PRIVATE KEY-----MIIEv',
  cardNumber: '4111111111111111',
  nationalId: 'AB123456C',
  totp: '735112',
  recoveryCodes: ['rc-aaaa-1111', 'rc-bbbb-2222'],
};

describe('createLogger', () => {
  it('writes JSON lines with the service, a label level and an ISO time', () => {
    const { logger, records } = capturedLogger();
    logger.info({ tenantId: 't_1' }, 'tenant created');
    expect(records()[0]).toMatchObject({ service: 'auth', level: 'info', tenantId: 't_1', msg: 'tenant created' });
    expect(records()[0]!.time).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('never writes a secret found under a sensitive key, at the top or nested up to four levels', () => {
    const { logger, text } = capturedLogger();
    const { xApiKey, ...rest } = SECRETS;
    const withHeader = { ...rest, 'x-api-key': xApiKey };
    logger.info(withHeader, 'top level');
    logger.info({ body: withHeader }, 'one level');
    logger.info({ req: { headers: { authorization: SECRETS.authorization, cookie: SECRETS.cookie } } }, 'two levels');
    logger.info({ err: { config: { headers: { 'x-api-key': xApiKey } } } }, 'three levels');
    logger.info({ a: { b: { c: { d: { password: SECRETS.password } } } } }, 'four levels');
    logger.info({ users: [{ pin: SECRETS.pin }, { pin: SECRETS.pin }] }, 'inside an array');

    const out = text();
    for (const secret of Object.values(SECRETS).flat()) expect(out).not.toContain(secret);
    expect(out).toContain('"password":"[REDACTED]"');
    expect(out).toContain('"x-api-key":"[REDACTED]"');
  });

  it('keeps fields whose names merely resemble sensitive ones', () => {
    const { logger, records } = capturedLogger();
    logger.info({ passwordPolicy: 'min 12', tokenType: 'Bearer', code: 'ledger.insufficient_funds' }, 'ok');
    expect(records()[0]).toMatchObject({
      passwordPolicy: 'min 12',
      tokenType: 'Bearer',
      code: 'ledger.insufficient_funds',
    });
  });

  it('masks tokens, API keys and card numbers written into the message itself', () => {
    const { logger, text } = capturedLogger();
    logger.warn(`login failed with ${SECRETS.authorization} and key ${SECRETS.xApiKey} for card ${SECRETS.cardNumber}`);
    logger.warn('interpolated %s', SECRETS.authorization);
    const out = text();
    for (const secret of [SECRETS.authorization, SECRETS.xApiKey, SECRETS.cardNumber]) {
      expect(out).not.toContain(secret.replace('Bearer ', ''));
    }
  });

  it('masks secrets in the message and stack of a logged error', () => {
    const { logger, text, records } = capturedLogger();
    const error = new Error('connect failed: postgres://strongroom_ledger_app:s3cr3t-pw@db:5432/strongroom_ledger');
    logger.error({ err: error }, 'database unavailable');
    expect(text()).not.toContain('s3cr3t-pw');
    expect(records()[0]).toMatchObject({ err: { type: 'Error', message: expect.stringContaining('[REDACTED]@db') } });
  });

  it("keeps a failed statement's data out of the log: SQL, parameters and Postgres's detail", () => {
    const { logger, text, records } = capturedLogger();
    // As TypeORM's QueryFailedError carries them (the driver's error copied onto it).
    const error = Object.assign(new Error('duplicate key value violates unique constraint "ledger_accounts_code"'), {
      name: 'QueryFailedError',
      query: 'INSERT INTO ledger_accounts (code, name, metadata) VALUES ($1, $2, $3)',
      parameters: ['wallet-of-jane-doe', 'Jane Doe', '{"nationalId":"63-123456-X-42"}'],
      driverError: { detail: 'Key (code)=(wallet-of-jane-doe) already exists.' },
      detail: 'Key (code)=(wallet-of-jane-doe) already exists.',
      code: '23505',
      table: 'ledger_accounts',
      constraint: 'ledger_accounts_code',
    });
    logger.error({ err: error }, 'handler failed');
    for (const leaked of ['Jane Doe', 'wallet-of-jane-doe', '63-123456-X-42', 'INSERT INTO']) {
      expect(text()).not.toContain(leaked);
    }
    expect(records()[0]).toMatchObject({
      err: { code: '23505', table: 'ledger_accounts', constraint: 'ledger_accounts_code' },
    });
  });

  it('does not mutate the object it was given', () => {
    const { logger } = capturedLogger();
    const payload = { password: SECRETS.password };
    logger.info(payload, 'login');
    expect(payload.password).toBe(SECRETS.password);
  });

  it('adds trace_id and span_id of the active span, and none outside a span', async () => {
    const telemetry = startTelemetry({
      serviceName: 'auth',
      serviceVersion: '0.1.0',
      spanExporter: new InMemorySpanExporter(),
      instrumentations: false,
    });
    try {
      const { logger, records } = capturedLogger();
      const span = telemetry.tracer.startSpan('token');
      context.with(trace.setSpan(context.active(), span), () => logger.info('inside'));
      span.end();
      logger.info('outside');
      const [inside, outside] = records();
      expect(inside).toMatchObject({ trace_id: span.spanContext().traceId, span_id: span.spanContext().spanId });
      expect(outside).not.toHaveProperty('trace_id');
    } finally {
      await telemetry.shutdown();
    }
  });
});

describe('redactionPaths', () => {
  it('lists every key at every depth, with bracket notation for non-identifier keys', () => {
    const paths = redactionPaths(['password', 'x-api-key'], 2);
    expect(paths).toEqual([
      'password',
      '["x-api-key"]',
      '*.password',
      '*["x-api-key"]',
      '*.*.password',
      '*.*["x-api-key"]',
    ]);
    expect(redactionPaths()).toHaveLength(REDACTED_KEYS.length * 5);
  });
});

describe('redactString', () => {
  it.each([
    ['Authorization: Bearer abc.DEF-123_x', 'Authorization: Bearer [REDACTED]'],
    ['basic dXNlcjpwYXNz', 'basic [REDACTED]'],
    ['token eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1XzEifQ.c2lnbmF0dXJl end', 'token [REDACTED] end'],
    ['key=sr_live_AbC123_xyz', 'key=sr_live_[REDACTED]'],
    ['key=sr_test_q9', 'key=sr_test_[REDACTED]'],
    ['pan 4111 1111 1111 1111 ok', 'pan [REDACTED] ok'],
    ['pan 5500-0000-0000-0004', 'pan [REDACTED]'],
    ['national id 123456789012', 'national id [REDACTED]'],
    ['dial postgres://app:p%40ss@db:5432/x', 'dial postgres://app:[REDACTED]@db:5432/x'],
  ])('masks %j', (input, expected) => {
    expect(redactString(input)).toBe(expected);
  });

  it.each([
    'transfer 42 of 10000 minor units',
    'account acc_01HZX8 balance 99999999999',
    'request 550e8400-e29b-41d4-a716-446655440000 done',
    'phone +1 555 123 4567',
  ])('leaves ordinary text alone: %j', (input) => {
    expect(redactString(input)).toBe(input);
  });
});
