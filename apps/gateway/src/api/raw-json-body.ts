import type { FastifyInstance, FastifyRequest } from 'fastify';

const RAW_BODY = Symbol('strongroom.raw-body');

/**
 * JSON bodies parsed by Fastify's own secure parser (prototype poisoning refused), with the
 * exact bytes kept: a signed request's body digest is over what the client sent, not over a
 * re-serialisation.
 */
export function keepRawJsonBodies(fastify: FastifyInstance, bodyLimitBytes: number): void {
  const parseJson = fastify.getDefaultJsonParser('error', 'error');
  if (fastify.hasContentTypeParser('application/json')) fastify.removeContentTypeParser('application/json');
  fastify.addContentTypeParser(
    'application/json',
    { parseAs: 'buffer', bodyLimit: bodyLimitBytes },
    (request, body, done) => {
      (request as unknown as Record<symbol, Buffer>)[RAW_BODY] = body as Buffer;
      if ((body as Buffer).length === 0) return done(null, undefined);
      parseJson(request, (body as Buffer).toString('utf8'), done);
    },
  );
}

/** The body bytes as received (empty when there was no body). */
export function rawBodyOf(request: FastifyRequest): Buffer {
  return (request as unknown as Record<symbol, Buffer | undefined>)[RAW_BODY] ?? Buffer.alloc(0);
}
