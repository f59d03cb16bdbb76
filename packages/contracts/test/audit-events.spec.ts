import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import {
  AUDIT_DETAILS_BYTES_MAX,
  auditDetailsSchema,
  auditEmitterOfSubject,
  auditEventSchema,
  auditMessageSchema,
  auditSubjectOf,
} from '../src';

const event = (details: unknown) => ({
  id: randomUUID(),
  tenantId: randomUUID(),
  occurredAt: '2026-11-25T10:00:00.000Z',
  actor: { type: 'user', id: 'u-1' },
  action: 'ledger.transfer.allocation',
  resource: { type: 'transfer', id: randomUUID() },
  outcome: 'success',
  details,
});

const problemsOf = (details: unknown) => {
  const parsed = auditDetailsSchema.safeParse(details);
  return parsed.success ? [] : parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
};

describe('audit event details', () => {
  it('accepts small JSON details and treats an undefined value as absent', () => {
    expect(problemsOf({ type: 'immediate', amountsMinor: { USD: '100' }, retries: 2, ok: true, note: null })).toEqual(
      [],
    );
    expect(problemsOf({ clientId: undefined, amr: ['pwd', 'otp'] })).toEqual([]);
    expect(auditEventSchema.parse(event({ emailToken: 'tok_abc' })).details).toEqual({ emailToken: 'tok_abc' });
  });

  it('refuses keys that name secrets or raw personal data, however deep, but not their tokens', () => {
    expect(problemsOf({ password: 'x' })).toEqual(['password: detail "password" may hold a secret or personal data']);
    expect(problemsOf({ user: { contact: { Email: 'a@b.c' } } })).toEqual([
      'user.contact.Email: detail "user.contact.Email" may hold a secret or personal data',
    ]);
    expect(problemsOf({ list: [{ pin: '1234' }] })).toHaveLength(1);
    for (const key of ['clientSecret', 'cardNumber', 'national_id', 'iban', 'phone', 'authorization', 'totpCode'])
      expect([key, problemsOf({ [key]: 'v' }).length]).toEqual([key, 1]);
    for (const key of ['emailToken', 'phoneToken', 'nationalIdToken', 'wrongPins'])
      expect([key, problemsOf({ [key]: 'v' })]).toEqual([key, []]);
  });

  it('refuses what is not JSON, too big or too deep', () => {
    expect(problemsOf({ at: new Date() })).toEqual(['at: details hold JSON values only']);
    expect(problemsOf({ n: 1.5 })).toEqual(['n: numbers in details are safe integers']);
    expect(problemsOf({ s: 'x'.repeat(1_025) })).toEqual(['s: at most 1024 characters']);
    expect(problemsOf({ a: Array.from({ length: 65 }, () => 1) })).toEqual(['a: at most 64 items']);
    const wide = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`k${i}`, 'y'.repeat(1_000)]));
    expect(problemsOf(wide)).toEqual([`: details exceed ${AUDIT_DETAILS_BYTES_MAX} bytes`]);
    let deep: unknown = 'leaf';
    for (let level = 0; level < 10; level += 1) deep = { next: deep };
    expect(problemsOf(deep).some((problem) => problem.includes('nest at most'))).toBe(true);
    expect(problemsOf([1, 2])).toEqual([': details are a JSON object']);
    expect(problemsOf(null)).toEqual([': details are a JSON object']);
  });

  it('parses any JSON-ish input without throwing, and what it accepts fits the byte bound', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), fc.anything({ maxDepth: 3 }), (json, anything) => {
        for (const value of [json, anything, { nested: json }]) {
          const parsed = auditDetailsSchema.safeParse(value);
          if (parsed.success)
            expect(Buffer.byteLength(JSON.stringify(parsed.data), 'utf8')).toBeLessThanOrEqual(AUDIT_DETAILS_BYTES_MAX);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('audit messages and subjects', () => {
  it('names the emitter by subject only, for services', () => {
    expect(auditSubjectOf('ledger')).toBe('audit.events.ledger');
    expect(auditEmitterOfSubject('audit.events.ledger')).toBe('ledger');
    expect(auditEmitterOfSubject('audit.events.gateway')).toBe('gateway');
    for (const subject of ['audit.events.stranger', 'audit.events.ledger.x', 'evt.ledger.v1.a.b', 'audit.events.'])
      expect(auditEmitterOfSubject(subject)).toBeUndefined();
  });

  it('holds 1–1,000 events of the schema, strictly', () => {
    expect(auditMessageSchema.safeParse({ events: [] }).success).toBe(false);
    expect(auditMessageSchema.safeParse({ events: [event({})] }).success).toBe(true);
    expect(auditMessageSchema.safeParse({ events: [{ ...event({}), extra: 1 }] }).success).toBe(false);
    expect(auditMessageSchema.safeParse({ events: Array.from({ length: 1_001 }, () => event({})) }).success).toBe(
      false,
    );
  });
});
