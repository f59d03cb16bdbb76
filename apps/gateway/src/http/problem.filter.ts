import { type ArgumentsHost, Catch, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { problemFromError } from './problem-details';

/** Every error leaving the gateway is `application/problem+json` (RFC 9457). */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  constructor(private readonly logger: Logger) {}

  catch(error: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    const problem = problemFromError(error, String(request.id));
    if (problem.status >= 500) this.logger.error({ err: error, requestId: request.id }, 'request failed');
    void reply.status(problem.status).header('content-type', 'application/problem+json').send(problem);
  }
}
