import { z } from 'zod';
import type { BusIdentity } from './bus-access';
import { defineRequest } from './contract';

/** Short-lived: a service renews its token well before this, and a leaked one is soon worthless. */
export const SERVICE_TOKEN_TTL_SECONDS = 5 * 60;

/** The `sub` and `client_id` of a bus identity's own token. */
export function serviceSubjectOf(identity: BusIdentity): `service:${BusIdentity}` {
  return `service:${identity}`;
}

export const serviceTokenSchema = z
  .object({
    /** A JWT access token (RFC 9068) for the calling identity, sent as `Bearer <accessToken>`. */
    accessToken: z.string().min(1).max(8_192),
    tokenType: z.literal('Bearer'),
    expiresInSeconds: z.number().int().positive().max(SERVICE_TOKEN_TTL_SECONDS),
  })
  .strict();
export type ServiceToken = z.infer<typeof serviceTokenSchema>;

/**
 * Public, and yet only the caller can read the answer: auth names the identity by the reply
 * subject (`_INBOX.<identity>.…`), which nats-server lets that identity alone subscribe to. A
 * request naming another identity's inbox sends that identity its own token, never the caller.
 */
export const issueServiceToken = defineRequest({
  subject: 'auth.v1.service-tokens.issue',
  request: z.object({}).strict(),
  response: serviceTokenSchema,
  permission: 'auth.service-tokens.issue',
  authentication: 'none',
  summary: "An access token for the calling bus identity, with that identity's least-privilege permissions",
});
