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

/** The query parameters present, as given (absent ones stay absent so the contract's defaults apply). */
export function presentQuery(request: FastifyRequest, names: readonly string[]): Record<string, string> {
  const query = queryObject(request);
  return Object.fromEntries(names.flatMap((name) => (query[name] !== undefined ? [[name, query[name]]] : [])));
}

/** A page: `limit` read as a number, the other parameters as strings. */
export function pageOf(request: FastifyRequest, names: readonly string[]) {
  const { limit, ...rest } = presentQuery(request, ['limit', ...names]);
  return { ...rest, ...(limit !== undefined ? { limit: numberIn(limit) } : {}) };
}
