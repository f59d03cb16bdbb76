import { AUDIT_ACTIONS, type AuditAction, type AuditEvent, auditEventSchema } from '@strongroom/contracts';
import {
  checkSyslogFormat,
  escapeSdParamValue,
  octetCountedFrameOf,
  SYSLOG_MESSAGE_BYTES_MIN,
  type SyslogFormat,
  SyslogFormatError,
  syslogFramesOf,
  syslogMessageOf,
  syslogPriorityOf,
} from '../src/siem/syslog-format';
import { parseSyslogMessage, splitOctetCountedFrames } from './siem-support';

const format: SyslogFormat = {
  facility: 13,
  hostname: 'audit-1.example.net',
  appName: 'strongroom-audit',
  enterpriseNumber: '32473',
  messageBytesMax: 8_192,
};

const event: AuditEvent = auditEventSchema.parse({
  id: '6f1c2a4e-8b3d-4c5e-9f7a-1b2c3d4e5f60',
  tenantId: '0b7c6f1e-2f0a-4d8e-9a51-3c2d1e0f9a8b',
  occurredAt: '2026-03-01T12:00:00.123Z',
  actor: { type: 'user', id: 'user-1' },
  action: 'ledger.transfer.allocation',
  resource: { type: 'transfer', id: '33333333-3333-4333-8333-333333333333' },
  outcome: 'success',
  requestId: 'req-1',
  details: { amountMinor: '1050', currency: 'USD' },
});

/** Every field at the longest the schema allows: what bounds the header and structured data. */
function longestEvent(): AuditEvent {
  const detailValue = 'x'.repeat(1_000);
  return auditEventSchema.parse({
    id: '6f1c2a4e-8b3d-4c5e-9f7a-1b2c3d4e5f60',
    tenantId: '0b7c6f1e-2f0a-4d8e-9a51-3c2d1e0f9a8b',
    environment: 'production',
    occurredAt: '2026-03-01T12:00:00.123Z',
    actor: { type: 'anonymous', id: 'a'.repeat(128) },
    action: 'ledger.transfer.disbursement',
    resource: { type: `r${'x'.repeat(63)}`, id: 'i'.repeat(200) },
    outcome: 'failure',
    reason: 'R'.repeat(64),
    requestId: 'q'.repeat(128),
    traceId: 'f'.repeat(32),
    sourceIp: '1'.repeat(45),
    userAgent: 'u'.repeat(256),
    details: { a: detailValue, b: detailValue, c: detailValue, d: 'x'.repeat(1_000) },
  });
}

describe('RFC 5424 priority', () => {
  it('is facility × 8 + severity: notice for a success, warning for a failure or a refusal', () => {
    expect(syslogPriorityOf(13, 'success')).toBe(109);
    expect(syslogPriorityOf(13, 'failure')).toBe(108);
    expect(syslogPriorityOf(13, 'denied')).toBe(108);
    expect(syslogPriorityOf(10, 'denied')).toBe(84);
    expect(syslogPriorityOf(0, 'success')).toBe(5);
    expect(syslogPriorityOf(23, 'failure')).toBe(188);
  });
});

describe('RFC 5424 message of an audit event', () => {
  it('writes the header, the structured data and the event as BOM-prefixed JSON, exactly', () => {
    const message = syslogMessageOf(event, 'ledger', format);

    const bom = '\uFEFF';
    expect(message.toString('utf8')).toBe(
      '<109>1 2026-03-01T12:00:00.123Z audit-1.example.net strongroom-audit - ledger.transfer.allocation ' +
        '[strongroom@32473 eventId="6f1c2a4e-8b3d-4c5e-9f7a-1b2c3d4e5f60" tenantId="0b7c6f1e-2f0a-4d8e-9a51-3c2d1e0f9a8b" ' +
        'emitter="ledger" action="ledger.transfer.allocation" actorType="user" actorId="user-1" resourceType="transfer" ' +
        'resourceId="33333333-3333-4333-8333-333333333333" outcome="success" requestId="req-1"] ' +
        `${bom}${JSON.stringify(event)}`,
    );
    expect(message.subarray(message.indexOf('] ') + 2, message.indexOf('] ') + 5)).toEqual(
      Buffer.from([0xef, 0xbb, 0xbf]),
    );
  });

  it('names a denied attempt a warning and carries its reason and correlation ids', () => {
    const denied: AuditEvent = {
      ...event,
      outcome: 'denied',
      reason: 'FORBIDDEN',
      traceId: '0af7651916cd43dd8448eb211c80319c',
      sourceIp: '2001:db8::1',
      environment: 'sandbox',
    };

    const parsed = parseSyslogMessage(syslogMessageOf(denied, 'gateway', { ...format, facility: 10 }));

    expect(parsed.pri).toBe(84);
    expect(parsed.params).toEqual({
      eventId: event.id,
      tenantId: event.tenantId,
      environment: 'sandbox',
      emitter: 'gateway',
      action: 'ledger.transfer.allocation',
      actorType: 'user',
      actorId: 'user-1',
      resourceType: 'transfer',
      resourceId: event.resource.id,
      outcome: 'denied',
      reason: 'FORBIDDEN',
      requestId: 'req-1',
      traceId: '0af7651916cd43dd8448eb211c80319c',
      sourceIp: '2001:db8::1',
    });
    expect(JSON.parse(parsed.msg as string)).toEqual(denied);
  });

  it('names its SD-ID after the configured enterprise number', () => {
    const parsed = parseSyslogMessage(syslogMessageOf(event, 'ledger', { ...format, enterpriseNumber: '4242.1' }));

    expect(parsed.sdId).toBe('strongroom@4242.1');
    expect(parsed.procId).toBe('-');
    expect(parsed.version).toBe('1');
  });

  it('escapes ", \\ and ] inside parameter values (RFC 5424 §6.3.3), and only those', () => {
    expect(escapeSdParamValue('a"b\\c]d[e=f')).toBe('a\\"b\\\\c\\]d[e=f');
    // The schema refuses these characters in ids; the formatter must not rely on it.
    const hostile = { ...event, actor: { type: 'user', id: 'x"] [evil@1 a="b\\' } } as AuditEvent;

    const message = syslogMessageOf(hostile, 'auth', format).toString('utf8');

    expect(message).toContain('actorId="x\\"\\] [evil@1 a=\\"b\\\\"');
    expect(parseSyslogMessage(Buffer.from(message)).params.actorId).toBe('x"] [evil@1 a="b\\');
  });

  it('fits every catalogue action in MSGID (at most 32 printable characters)', () => {
    for (const action of Object.keys(AUDIT_ACTIONS) as AuditAction[]) {
      const parsed = parseSyslogMessage(syslogMessageOf({ ...event, action }, 'ledger', format));
      expect(parsed.msgId).toBe(action);
      expect(parsed.msgId.length).toBeLessThanOrEqual(32);
    }
  });

  it('drops the details, then MSG, to stay within the maximum size, never the structured data', () => {
    const longest = longestEvent();
    const wide = { ...format, hostname: 'h'.repeat(255), appName: 'a'.repeat(48) };

    const roomy = parseSyslogMessage(syslogMessageOf(longest, 'ledger', { ...wide, messageBytesMax: 65_536 }));
    const lean = syslogMessageOf(longest, 'ledger', { ...wide, messageBytesMax: 4_096 });
    const smallest = syslogMessageOf(longest, 'ledger', { ...wide, messageBytesMax: SYSLOG_MESSAGE_BYTES_MIN });

    expect(JSON.parse(roomy.msg as string)).toEqual(longest);
    expect(lean.length).toBeLessThanOrEqual(4_096);
    const { details: _details, ...withoutDetails } = longest;
    expect(JSON.parse(parseSyslogMessage(lean).msg as string)).toEqual({ ...withoutDetails, detailsOmitted: true });
    expect(smallest.length).toBeLessThanOrEqual(SYSLOG_MESSAGE_BYTES_MIN);
    const bare = parseSyslogMessage(smallest);
    expect(bare.msg).toBeUndefined();
    expect(bare.params.eventId).toBe(longest.id);
    expect(bare.params.sourceIp).toBe(longest.sourceIp);
  });

  it('refuses to exceed the maximum size rather than send a message a receiver may cut', () => {
    const huge = { ...event, resource: { type: 'transfer', id: 'i'.repeat(3_000) } } as AuditEvent;

    expect(() => syslogMessageOf(huge, 'ledger', { ...format, messageBytesMax: 2_048 })).toThrow(
      expect.objectContaining({ code: 'SYSLOG_MESSAGE_TOO_LARGE' }),
    );
  });

  it('counts octets, not characters, in multi-byte UTF-8', () => {
    const withAccent = { ...event, details: { label: 'café €' } };

    const message = syslogMessageOf(withAccent, 'ledger', format);

    expect(Buffer.byteLength(message.toString('utf8'), 'utf8')).toBe(message.length);
    expect(message.length).toBeGreaterThan(message.toString('utf8').length);
  });
});

describe('RFC 5425 octet-counting framing', () => {
  it('prefixes each message with its length in octets and a space', () => {
    expect(octetCountedFrameOf(Buffer.from('<13>1 - - - - - -')).toString()).toBe('17 <13>1 - - - - - -');
    expect(octetCountedFrameOf(Buffer.from('é', 'utf8')).toString('utf8')).toBe('2 é');
  });

  it('frames the events of one AUDIT message in their order, one syslog message each', () => {
    const events = [event, { ...event, id: '7f1c2a4e-8b3d-4c5e-9f7a-1b2c3d4e5f61', details: { note: 'ünïcödé' } }];

    const frames = splitOctetCountedFrames(syslogFramesOf(events, 'ledger', format));

    expect(frames.map((frame) => parseSyslogMessage(frame).params.eventId)).toEqual(events.map(({ id }) => id));
  });
});

describe('syslog format settings', () => {
  it('accepts the defaults and refuses what RFC 5424 does not allow', () => {
    expect(() => checkSyslogFormat(format)).not.toThrow();
    for (const bad of [
      { facility: 24 },
      { facility: -1 },
      { hostname: 'has space' },
      { hostname: '' },
      { hostname: 'h'.repeat(256) },
      { appName: 'a'.repeat(49) },
      { enterpriseNumber: 'example' },
      { enterpriseNumber: '0' },
      { messageBytesMax: 1_024 },
    ]) {
      expect(() => checkSyslogFormat({ ...format, ...bad })).toThrow(SyslogFormatError);
    }
  });
});
