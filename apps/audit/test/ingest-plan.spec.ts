import { randomUUID } from 'node:crypto';
import {
  AUDIT_GENESIS_HASH,
  AUDIT_RECORD_FORMAT,
  type AuditEvent,
  auditEventSchema,
  auditSubjectOf,
  sha256Hex,
} from '@strongroom/contracts';
import { auditEventOf } from '@strongroom/platform';
import {
  decodeAuditMessage,
  type EmittedEvent,
  groupByTenant,
  planTenantChain,
  recordedAtOf,
} from '../src/ingest/ingest-plan';

const encode = (value: unknown) => new TextEncoder().encode(typeof value === 'string' ? value : JSON.stringify(value));

function eventOf(tenantId: string, id: string = randomUUID()): AuditEvent {
  return auditEventSchema.parse(
    auditEventOf({
      id,
      tenantId,
      actor: { type: 'user', id: 'u-1' },
      action: 'auth.login.attempt',
      resource: { type: 'user', id: 'u-1' },
      outcome: 'success',
    }),
  );
}

const emittedBy = (events: AuditEvent[], emitter: EmittedEvent['emitter'] = 'auth'): EmittedEvent[] =>
  events.map((event) => ({ event, emitter }));

describe('decodeAuditMessage', () => {
  const tenantId = randomUUID();

  it('reads the events of a message and takes the emitter from the subject', () => {
    const event = eventOf(tenantId);
    const decoded = decodeAuditMessage(auditSubjectOf('ledger'), encode({ events: [event] }));
    expect(decoded).toEqual({ ok: true, emitter: 'ledger', events: [event] });
  });

  it('refuses a payload that names an emitter itself: only the subject does', () => {
    const payload = { events: [eventOf(tenantId)], emitter: 'auth' };
    expect(decodeAuditMessage(auditSubjectOf('ledger'), encode(payload))).toEqual({
      ok: false,
      refusal: 'contract_broken',
    });
  });

  it.each([
    ['a subject naming no emitter', 'audit.events.nobody', { events: [] }, 'unknown_subject'],
    ['a subject outside the stream', 'evt.ledger.v1.x.y', { events: [] }, 'unknown_subject'],
    ['bytes that are not JSON', auditSubjectOf('auth'), '{"events": [', 'not_json'],
    ['invalid UTF-8', auditSubjectOf('auth'), new Uint8Array([0xff, 0xfe]), 'not_json'],
    ['no events', auditSubjectOf('auth'), { events: [] }, 'contract_broken'],
    ['an event with a secret in its details', auditSubjectOf('auth'), 'secret', 'contract_broken'],
    ['an action outside the catalogue', auditSubjectOf('auth'), 'action', 'contract_broken'],
  ])('refuses %s', (_name, subject, body, refusal) => {
    let data: Uint8Array;
    if (body instanceof Uint8Array) data = body;
    else if (body === 'secret') data = encode({ events: [{ ...eventOf(tenantId), details: { password: 'x' } }] });
    else if (body === 'action') data = encode({ events: [{ ...eventOf(tenantId), action: 'ledger.money.print' }] });
    else data = encode(body);
    expect(decodeAuditMessage(subject, data)).toEqual({ ok: false, refusal });
  });
});

describe('groupByTenant', () => {
  const [a, b] = [randomUUID(), randomUUID()].sort();

  it('groups by tenant in a fixed (sorted) order, each tenant in arrival order', () => {
    const events = [eventOf(b as string), eventOf(a as string), eventOf(b as string), eventOf(a as string)];
    const groups = groupByTenant(emittedBy(events));
    expect(groups.map(({ tenantId }) => tenantId)).toEqual([a, b]);
    expect(groups[0]?.events.map(({ event }) => event.id)).toEqual([events[1]?.id, events[3]?.id]);
    expect(groups[1]?.events.map(({ event }) => event.id)).toEqual([events[0]?.id, events[2]?.id]);
  });

  it('keeps the first of the same event id within a batch (a redelivery beside its first delivery)', () => {
    const first = eventOf(a as string);
    const again = { ...first, outcome: 'denied' as const };
    const groups = groupByTenant([...emittedBy([first]), ...emittedBy([again], 'ledger')]);
    expect(groups).toEqual([{ tenantId: a, events: [{ event: first, emitter: 'auth' }] }]);
  });

  it('spells every tenant id in lower case, the one spelling documents and verifiers compare', () => {
    const upper = (a as string).toUpperCase();
    const event = { ...eventOf(a as string), tenantId: upper };
    const [group] = groupByTenant(emittedBy([event]));
    expect(group?.tenantId).toBe(a);
    expect(group?.events[0]?.event.tenantId).toBe(a);
  });

  it('holds nothing for no events', () => {
    expect(groupByTenant([])).toEqual([]);
  });
});

describe('planTenantChain', () => {
  const tenantId = randomUUID();
  const recordedAt = '2026-03-01T10:00:00.000Z';

  it('chains new events from genesis: seqs 1.., each linked to the one before, the head moved to the last', () => {
    const events = emittedBy([eventOf(tenantId), eventOf(tenantId), eventOf(tenantId)]);
    const plan = planTenantChain({ seq: 0, hash: AUDIT_GENESIS_HASH }, events, new Set(), recordedAt);
    expect(plan.seqs).toEqual(['1', '2', '3']);
    const records = plan.documents.map((document) => JSON.parse(document));
    expect(records.map((record) => record.prevHash)).toEqual([AUDIT_GENESIS_HASH, plan.hashes[0], plan.hashes[1]]);
    expect(records[0]).toMatchObject({ format: AUDIT_RECORD_FORMAT, emitter: 'auth', seq: 1, tenantId, recordedAt });
    expect(plan.hashes).toEqual(plan.documents.map((document) => sha256Hex(document)));
    expect(plan.head).toEqual({ seq: 3, hash: plan.hashes[2] });
    expect(plan.duplicates).toBe(0);
  });

  it('drops events already stored and continues the chain from its head', () => {
    const events = [eventOf(tenantId), eventOf(tenantId), eventOf(tenantId)];
    const head = { seq: 41, hash: 'b'.repeat(64) };
    const plan = planTenantChain(head, emittedBy(events), new Set([events[1]?.id as string]), recordedAt);
    expect(plan.seqs).toEqual(['42', '43']);
    expect(plan.documents.map((document) => JSON.parse(document).id)).toEqual([events[0]?.id, events[2]?.id]);
    expect(JSON.parse(plan.documents[0] as string).prevHash).toBe(head.hash);
    expect(plan.duplicates).toBe(1);
  });

  it('leaves the head where it was when every event is stored already', () => {
    const events = [eventOf(tenantId)];
    const head = { seq: 7, hash: 'c'.repeat(64) };
    const plan = planTenantChain(head, emittedBy(events), new Set([events[0]?.id as string]), recordedAt);
    expect(plan).toEqual({ seqs: [], documents: [], hashes: [], head, duplicates: 1 });
  });
});

describe('recordedAtOf', () => {
  it('is now, in milliseconds UTC', () => {
    expect(recordedAtOf(Date.UTC(2026, 2, 1, 10, 0, 0, 5), null)).toBe('2026-03-01T10:00:00.005Z');
  });

  it("never goes back before the chain's last record (another replica's clock ran ahead)", () => {
    expect(recordedAtOf(Date.UTC(2026, 2, 1, 10), '2026-03-01T10:00:01.000Z')).toBe('2026-03-01T10:00:01.000Z');
    expect(recordedAtOf(Date.UTC(2026, 2, 1, 11), '2026-03-01T10:00:01.000Z')).toBe('2026-03-01T11:00:00.000Z');
  });
});
