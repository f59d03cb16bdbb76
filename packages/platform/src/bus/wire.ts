import { type MsgHdrs, headers as natsHeaders } from 'nats';

/**
 * NestJS's NATS transport frames a request as `{pattern, data, id}` and a reply as
 * `{id, response | err, isDisposed}`; the typed caller speaks the same JSON so that a Nest
 * handler and a plain `nats` client interoperate.
 */
export interface RequestPacket {
  pattern: string;
  data: unknown;
  id: string;
}

export interface ReplyPacket {
  id?: string;
  response?: unknown;
  err?: unknown;
  isDisposed?: boolean;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeJson(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

export function decodeJson(bytes: Uint8Array): unknown {
  return JSON.parse(decoder.decode(bytes));
}

export function headersToRecord(hdrs: MsgHdrs | undefined): Record<string, string> {
  const record: Record<string, string> = {};
  if (!hdrs) return record;
  for (const [key, values] of hdrs) {
    const first = values[0];
    if (first !== undefined) record[key.toLowerCase()] = first;
  }
  return record;
}

export function recordToHeaders(record: Record<string, string>): MsgHdrs {
  const hdrs = natsHeaders();
  for (const [key, value] of Object.entries(record)) hdrs.set(key, value);
  return hdrs;
}
