import type { AuditEmitter, AuditEvent, AuditOutcome } from '@strongroom/contracts';

/**
 * One audit event as an RFC 5424 syslog message, framed for RFC 5425 (syslog over TLS) with
 * octet counting (RFC 6587 §3.4.1). Pure: the forwarder (syslog-forwarder.ts) only writes what
 * this returns.
 *
 *   <PRI>1 TIMESTAMP HOSTNAME APP-NAME - MSGID [strongroom@PEN eventId="…" …] BOM{…json…}
 */

/** RFC 5424 §6.2.1 Table 1: facility 13 is "log audit", the one facility named for audit records. */
export const SYSLOG_FACILITY_LOG_AUDIT = 13;
export const SYSLOG_FACILITY_MAX = 23;

/** RFC 5424 §6.2.1 Table 2. */
export const SYSLOG_SEVERITY = { warning: 4, notice: 5 } as const;

/**
 * A success is a normal but significant condition (notice); a failure or a refusal is worth a
 * look (warning). Nothing an audit event records is an error of the platform itself.
 */
const SEVERITY_OF_OUTCOME: Readonly<Record<AuditOutcome, number>> = {
  success: SYSLOG_SEVERITY.notice,
  failure: SYSLOG_SEVERITY.warning,
  denied: SYSLOG_SEVERITY.warning,
};

/**
 * RFC 5612's documentation enterprise number, the default of the SD-ID `strongroom@<PEN>`: it
 * names nobody's registry, so it never collides with a real enterprise's SD-ID. An operator with
 * an IANA Private Enterprise Number sets AUDIT_SYSLOG_ENTERPRISE_NUMBER (docs/siem.md).
 */
export const SYSLOG_ENTERPRISE_NUMBER_DEFAULT = '32473';
export const SYSLOG_SD_NAME = 'strongroom';

/** RFC 5425 §4.3.1: every receiver takes 2048 octets; it SHOULD take 8192. */
export const SYSLOG_MESSAGE_BYTES_MIN = 2_048;
export const SYSLOG_MESSAGE_BYTES_DEFAULT = 8_192;
export const SYSLOG_MESSAGE_BYTES_MAX = 65_536;

/** RFC 5424 §6: field lengths, in PRINTUSASCII characters. */
export const SYSLOG_HOSTNAME_LENGTH_MAX = 255;
export const SYSLOG_APP_NAME_LENGTH_MAX = 48;
export const SYSLOG_MSGID_LENGTH_MAX = 32;
const SD_ID_LENGTH_MAX = 32;

/** PRINTUSASCII (%d33-126), 1 to `max` characters. */
export function isPrintUsAscii(value: string, max: number): boolean {
  return value.length >= 1 && value.length <= max && /^[\x21-\x7e]+$/.test(value);
}

/** An enterprise number as RFC 5424 §7.2.2 writes one: digits, optionally dotted sub-identifiers. */
export const ENTERPRISE_NUMBER_PATTERN = /^[1-9][0-9]{0,9}(\.[0-9]{1,10}){0,4}$/;

export interface SyslogFormat {
  /** 0–23; SYSLOG_FACILITY_LOG_AUDIT by default. */
  readonly facility: number;
  /** PRINTUSASCII, ≤ 255: the host the forwarder runs on (RFC 5424 §6.2.4). */
  readonly hostname: string;
  /** PRINTUSASCII, ≤ 48. */
  readonly appName: string;
  /** The PEN of the SD-ID `strongroom@<enterpriseNumber>`. */
  readonly enterpriseNumber: string;
  /** The largest SYSLOG-MSG (without its length prefix), in octets. */
  readonly messageBytesMax: number;
}

export type SyslogFormatErrorCode = 'SYSLOG_FORMAT_INVALID' | 'SYSLOG_MESSAGE_TOO_LARGE';

export class SyslogFormatError extends Error {
  override readonly name = 'SyslogFormatError';
  constructor(
    readonly code: SyslogFormatErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Refuses a format whose fields RFC 5424 does not allow (config checks the same at start). */
export function checkSyslogFormat(format: SyslogFormat): void {
  const problems: string[] = [];
  if (!Number.isInteger(format.facility) || format.facility < 0 || format.facility > SYSLOG_FACILITY_MAX) {
    problems.push(`facility must be an integer from 0 to ${SYSLOG_FACILITY_MAX}`);
  }
  if (!isPrintUsAscii(format.hostname, SYSLOG_HOSTNAME_LENGTH_MAX)) {
    problems.push(`hostname must be 1–${SYSLOG_HOSTNAME_LENGTH_MAX} printable US-ASCII characters`);
  }
  if (!isPrintUsAscii(format.appName, SYSLOG_APP_NAME_LENGTH_MAX)) {
    problems.push(`appName must be 1–${SYSLOG_APP_NAME_LENGTH_MAX} printable US-ASCII characters`);
  }
  if (
    !ENTERPRISE_NUMBER_PATTERN.test(format.enterpriseNumber) ||
    sdIdOf(format.enterpriseNumber).length > SD_ID_LENGTH_MAX
  ) {
    problems.push('enterpriseNumber must be a private enterprise number such as 32473 (RFC 5424 §7.2.2)');
  }
  if (
    !Number.isInteger(format.messageBytesMax) ||
    format.messageBytesMax < SYSLOG_MESSAGE_BYTES_MIN ||
    format.messageBytesMax > SYSLOG_MESSAGE_BYTES_MAX
  ) {
    problems.push(`messageBytesMax must be an integer from ${SYSLOG_MESSAGE_BYTES_MIN} to ${SYSLOG_MESSAGE_BYTES_MAX}`);
  }
  if (problems.length > 0) throw new SyslogFormatError('SYSLOG_FORMAT_INVALID', problems.join('; '));
}

/** RFC 5424 §6.2.1: PRI = facility × 8 + severity. */
export function syslogPriorityOf(facility: number, outcome: AuditOutcome): number {
  return facility * 8 + SEVERITY_OF_OUTCOME[outcome];
}

export function sdIdOf(enterpriseNumber: string): string {
  return `${SYSLOG_SD_NAME}@${enterpriseNumber}`;
}

/** RFC 5424 §6.3.3: inside PARAM-VALUE, '"', '\' and ']' MUST be escaped with a backslash. */
export function escapeSdParamValue(value: string): string {
  return value.replace(/["\\\]]/g, '\\$&');
}

/**
 * The SD-PARAMs of an event: who did what to which resource, with what outcome, and the
 * correlation ids (seed 003), so a SIEM can filter without parsing MSG. Absent fields are
 * omitted (RFC 5424 has no null value).
 */
function sdParamsOf(event: AuditEvent, emitter: AuditEmitter): Array<readonly [string, string | undefined]> {
  return [
    ['eventId', event.id],
    ['tenantId', event.tenantId],
    ['environment', event.environment],
    ['emitter', emitter],
    ['action', event.action],
    ['actorType', event.actor.type],
    ['actorId', event.actor.id],
    ['resourceType', event.resource.type],
    ['resourceId', event.resource.id],
    ['outcome', event.outcome],
    ['reason', event.reason],
    ['requestId', event.requestId],
    ['traceId', event.traceId],
    ['sourceIp', event.sourceIp],
  ];
}

function structuredDataOf(event: AuditEvent, emitter: AuditEmitter, enterpriseNumber: string): string {
  const params = sdParamsOf(event, emitter)
    .filter((param): param is readonly [string, string] => param[1] !== undefined)
    .map(([name, value]) => `${name}="${escapeSdParamValue(value)}"`);
  return `[${[sdIdOf(enterpriseNumber), ...params].join(' ')}]`;
}

function headerOf(event: AuditEvent, format: SyslogFormat): string {
  // RFC 5424 §6.2.7: MSGID is at most 32 characters; every catalogue action fits (tested), and
  // the action is in the structured data whatever MSGID holds.
  const msgId = isPrintUsAscii(event.action, SYSLOG_MSGID_LENGTH_MAX) ? event.action : '-';
  // occurredAt is RFC 3339 UTC with milliseconds (auditInstantSchema): a valid RFC 5424 TIMESTAMP.
  // PROCID is NILVALUE: the event's own process is the emitter, named in the structured data.
  return `<${syslogPriorityOf(format.facility, event.outcome)}>1 ${event.occurredAt} ${format.hostname} ${format.appName} - ${msgId}`;
}

/** RFC 5424 §6.4: a UTF-8 MSG SHOULD start with the BOM. */
const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/**
 * The SYSLOG-MSG of one event, at most `format.messageBytesMax` octets. MSG is the event as JSON
 * (already redacted by the schema: no secrets, personal data only as tokens); when that does not
 * fit, the details are left out (`"detailsOmitted":true`), and when that does not fit either,
 * MSG is omitted: the header and structured data always fit within 2048 octets for an event
 * the schema accepts (tested with every field at its longest).
 */
export function syslogMessageOf(event: AuditEvent, emitter: AuditEmitter, format: SyslogFormat): Buffer {
  const head = Buffer.from(
    `${headerOf(event, format)} ${structuredDataOf(event, emitter, format.enterpriseNumber)}`,
    'utf8',
  );
  const { details, ...withoutDetails } = event;
  const bodies = [JSON.stringify(event), JSON.stringify({ ...withoutDetails, detailsOmitted: true })];
  for (const body of bodies) {
    const message = Buffer.concat([head, Buffer.from(' ', 'utf8'), UTF8_BOM, Buffer.from(body, 'utf8')]);
    if (message.length <= format.messageBytesMax) return message;
  }
  if (head.length > format.messageBytesMax) {
    throw new SyslogFormatError(
      'SYSLOG_MESSAGE_TOO_LARGE',
      `the header and structured data of event ${event.id} take ${head.length} octets, over ${format.messageBytesMax}`,
    );
  }
  return head;
}

/** RFC 5425 §4.3 (RFC 6587 §3.4.1 octet counting): `MSG-LEN SP SYSLOG-MSG`, MSG-LEN in octets. */
export function octetCountedFrameOf(message: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${message.length} `, 'ascii'), message]);
}

/** The frames of one AUDIT message's events, in order, as one buffer: one socket write per message. */
export function syslogFramesOf(events: readonly AuditEvent[], emitter: AuditEmitter, format: SyslogFormat): Buffer {
  return Buffer.concat(events.map((event) => octetCountedFrameOf(syslogMessageOf(event, emitter, format))));
}
