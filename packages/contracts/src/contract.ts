import type { z } from 'zod';
import type { Permission } from './permissions';
import type { BackendServiceName } from './services';

/** `<service>.v1.<aggregate>.<verb>` */
export type RequestSubject<S extends BackendServiceName = BackendServiceName> = `${S}.v1.${string}.${string}`;
/** `evt.<service>.v1.<aggregate>.<past-tense>` */
export type EventSubject<S extends BackendServiceName = BackendServiceName> = `evt.${S}.v1.${string}.${string}`;

/**
 * Who may call a request contract. `'access-token'` (the default, deny by default): a verified
 * access token holding the contract's `permission`. `'none'`: public on the bus (nats-server's
 * permission map still decides which identities may publish the subject at all).
 */
export type RequestAuthentication = 'access-token' | 'none';

const REQUEST_SUBJECT = /^(auth|tenants|ledger|kyc|consent|audit)\.v1\.[a-z][a-z0-9-]*\.[a-z][a-z0-9-]*$/;
const EVENT_SUBJECT = /^evt\.(auth|tenants|ledger|kyc|consent|audit)\.v1\.[a-z][a-z0-9-]*\.[a-z][a-z0-9-]*$/;

export interface RequestContract<
  Subject extends string = string,
  Req extends z.ZodType = z.ZodType,
  Res extends z.ZodType = z.ZodType,
> {
  readonly kind: 'request';
  readonly subject: Subject;
  readonly service: BackendServiceName;
  readonly request: Req;
  readonly response: Res;
  /** The permission the caller's credential must carry (not checked when `authentication` is `'none'`). */
  readonly permission: Permission;
  readonly authentication: RequestAuthentication;
  readonly summary: string;
}

export interface EventContract<Subject extends string = string, Payload extends z.ZodType = z.ZodType> {
  readonly kind: 'event';
  readonly subject: Subject;
  readonly service: BackendServiceName;
  readonly payload: Payload;
  readonly summary: string;
}

export type RequestOf<C extends RequestContract> = z.infer<C['request']>;
/** What a caller may send: fields with a default may be left out (the schema fills them in). */
export type RequestInputOf<C extends RequestContract> = z.input<C['request']>;
export type ResponseOf<C extends RequestContract> = z.infer<C['response']>;
export type PayloadOf<C extends EventContract> = z.infer<C['payload']>;

function serviceOfSubject(subject: string, pattern: RegExp, kind: string): BackendServiceName {
  const match = pattern.exec(subject);
  if (!match) throw new Error(`${kind} subject "${subject}" does not follow the naming scheme of DESIGN.md`);
  return match[1] as BackendServiceName;
}

export function defineRequest<Subject extends RequestSubject, Req extends z.ZodType, Res extends z.ZodType>(spec: {
  subject: Subject;
  request: Req;
  response: Res;
  permission: Permission;
  /** Omit it (deny by default); `'none'` only for calls that must work before a caller can hold a token. */
  authentication?: RequestAuthentication;
  summary: string;
}): RequestContract<Subject, Req, Res> {
  return {
    kind: 'request',
    service: serviceOfSubject(spec.subject, REQUEST_SUBJECT, 'Request'),
    ...spec,
    authentication: spec.authentication ?? 'access-token',
  };
}

export function defineEvent<Subject extends EventSubject, Payload extends z.ZodType>(spec: {
  subject: Subject;
  payload: Payload;
  summary: string;
}): EventContract<Subject, Payload> {
  return { kind: 'event', service: serviceOfSubject(spec.subject, EVENT_SUBJECT, 'Event'), ...spec };
}
