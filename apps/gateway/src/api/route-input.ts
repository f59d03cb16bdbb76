import { environmentSchema } from '@strongroom/contracts';
import type { FastifyRequest } from 'fastify';

/** How routes read their input from a request. */
export const params = (request: FastifyRequest) => request.params as Record<string, string>;
export const bodyObject = (request: FastifyRequest): Record<string, unknown> =>
  typeof request.body === 'object' && request.body !== null && !Array.isArray(request.body)
    ? (request.body as Record<string, unknown>)
    : {};
export const queryObject = (request: FastifyRequest) => request.query as Record<string, string | undefined>;
export const environmentIn = (value: unknown) => {
  const parsed = environmentSchema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
};
export const cardOf = (request: FastifyRequest) => ({
  tenantId: params(request).tenantId,
  cardId: params(request).cardId,
});
export const numberIn = (value: string | undefined) => (value === undefined ? undefined : Number(value));
