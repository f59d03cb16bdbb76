import { NO_RESPONDERS_REASON, PlatformError } from '@strongroom/platform';
import type { CallerCredential } from '../src/api/api-credentials';
import {
  idempotencyKeyOf,
  idempotencyScopeOf,
  keyHashOf,
  openResponse,
  requestFingerprintOf,
  sealResponse,
  settlementOfFailure,
} from '../src/idempotency/idempotency-key';

const scope = { tenantId: '8d0f6d0e-3c1a-4a4e-9a51-7f6c1d2e3b4a', credential: 'client:c1', key: 'order-42' };

describe('the Idempotency-Key header', () => {
  it('is optional, and taken as sent when 1–255 printable ASCII characters', () => {
    expect(idempotencyKeyOf(undefined)).toBeUndefined();
    expect(idempotencyKeyOf('a')).toBe('a');
    expect(idempotencyKeyOf(' spaced ~ key ')).toBe(' spaced ~ key ');
    expect(idempotencyKeyOf('k'.repeat(255))).toHaveLength(255);
  });

  it.each([[''], ['k'.repeat(256)], ['tab\there'], ['é'], ['new\nline'], [['a', 'b']]])(
    'refuses %j with a validation problem',
    (value) => {
      expect(() => idempotencyKeyOf(value as string)).toThrow(PlatformError);
      try {
        idempotencyKeyOf(value as string);
      } catch (error) {
        expect((error as PlatformError).code).toBe('VALIDATION');
      }
    },
  );
});

describe('the record of a key', () => {
  it('is identified by a hash of tenant, credential and key: the same key of another credential or tenant is another record', () => {
    const id = keyHashOf(scope);
    expect(id).toHaveLength(32);
    expect(keyHashOf({ ...scope })).toEqual(id);
    expect(keyHashOf({ ...scope, credential: 'client:c2' })).not.toEqual(id);
    expect(keyHashOf({ ...scope, tenantId: '00000000-0000-0000-0000-000000000001' })).not.toEqual(id);
    // Length-prefixed fields: moving a character between fields changes the hash.
    expect(keyHashOf({ ...scope, credential: 'client:c1o', key: 'rder-42' })).not.toEqual(id);
  });

  it('scopes a key to the user as well as the client: two users of one app never share a record', () => {
    const userOf = (subject: string) =>
      ({
        authorization: 'Bearer x',
        principal: {
          subject,
          tenantId: scope.tenantId,
          environment: 'production',
          clientId: 'c1',
          tokenId: subject,
          issuedAt: new Date(),
          expiresAt: new Date(),
          permissions: new Set(),
        },
      }) as unknown as CallerCredential;
    const first = keyHashOf(idempotencyScopeOf(userOf('user-a'), 'order-42'));
    expect(keyHashOf(idempotencyScopeOf(userOf('user-a'), 'order-42'))).toEqual(first);
    expect(keyHashOf(idempotencyScopeOf(userOf('user-b'), 'order-42'))).not.toEqual(first);
  });

  it('fingerprints method, path with query, and the exact body bytes', () => {
    const body = Buffer.from('{"a":1}');
    const fingerprint = requestFingerprintOf('POST', '/v1/x', body);
    expect(requestFingerprintOf('POST', '/v1/x', Buffer.from('{"a":1}'))).toEqual(fingerprint);
    expect(requestFingerprintOf('POST', '/v1/x', Buffer.from('{"a": 1}'))).not.toEqual(fingerprint);
    expect(requestFingerprintOf('POST', '/v1/y', body)).not.toEqual(fingerprint);
    expect(requestFingerprintOf('POST', '/v1/x?b=1', body)).not.toEqual(fingerprint);
  });

  it('seals the stored response so only the holder of the key opens it', () => {
    const response = { status: 201, body: '{"secret":"sr_live_abc"}' };
    const sealed = sealResponse(scope, response);
    expect(sealed.toString('utf8')).not.toContain('sr_live_abc');
    expect(openResponse(scope, sealed)).toEqual(response);
    expect(() => openResponse({ ...scope, key: 'order-43' }, sealed)).toThrow();
  });
});

describe('what a failed forward does to its key', () => {
  it('frees it only when nothing can have run: no service was listening, or a rate refusal', () => {
    expect(
      settlementOfFailure(
        PlatformError.unavailable('No service is serving ledger.v1.x', { subject: 'x', reason: NO_RESPONDERS_REASON }),
      ),
    ).toBe('release');
    // The same words without the reason BusClient gives a no-responders failure decide nothing.
    expect(settlementOfFailure(PlatformError.unavailable('No service is serving ledger.v1.x'))).toBe('keep');
    expect(settlementOfFailure(new PlatformError('RATE_LIMITED', 'slow down'))).toBe('release');
  });

  it('keeps it when the outcome is unknown or was decided: timeout, dropped connection, 5xx, 4xx, a bug', () => {
    for (const error of [
      PlatformError.timeout('x did not answer within 5000 ms'),
      PlatformError.unavailable('The bus connection is closed'),
      PlatformError.internal(),
      PlatformError.badReply('broken'),
      PlatformError.conflict('exists'),
      PlatformError.validation('bad'),
      new Error('bug'),
    ]) {
      expect(settlementOfFailure(error)).toBe('keep');
    }
  });

  it('frees it when the request was never sent: larger than the bus carries', () => {
    expect(settlementOfFailure(new PlatformError('PAYLOAD_TOO_LARGE', 'too large'))).toBe('release');
  });

  it('frees it after a timeout only on a route whose service applies a repeat once (ledger transfers)', () => {
    const timeout = PlatformError.timeout('ledger.v1.transfers.create did not answer within 5000 ms');
    expect(settlementOfFailure(timeout, { retrySafe: true })).toBe('release');
    expect(settlementOfFailure(timeout, { retrySafe: false })).toBe('keep');
    // A decided answer stays decided, retry-safe or not.
    expect(settlementOfFailure(PlatformError.conflict('insufficient funds'), { retrySafe: true })).toBe('keep');
  });
});
