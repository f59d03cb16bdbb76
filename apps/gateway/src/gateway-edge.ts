import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { GatewayConfig } from './gateway-config';
import { type GatewayDatabase, openGatewayDatabase } from './gateway-database';
import { IdempotencyRecords } from './idempotency/idempotency-records';
import { IdempotentCalls } from './idempotency/idempotent-calls';
import { limitEdgeRequests } from './rate-limits/edge-rate-limits';
import { SharedRateLimits } from './rate-limits/shared-rate-limits';

/** What the gateway keeps in its own database: shared rate limits and Idempotency-Key records. */
export interface GatewayEdge {
  /** Undefined when RATE_LIMITS_ENABLED=false. */
  rateLimits: SharedRateLimits | undefined;
  idempotency: IdempotentCalls;
  /** Counts every non-API request (API routes count per credential in their handler). */
  register(fastify: FastifyInstance): void;
  close(): Promise<void>;
}

export async function openGatewayEdge(config: GatewayConfig, logger: Logger): Promise<GatewayEdge> {
  if (!config.RATE_LIMITS_ENABLED) {
    // STYLE: a limit on everything; switching them off is for measuring raw capacity, never for production.
    if (config.NODE_ENV === 'production')
      throw new Error('RATE_LIMITS_ENABLED=false is refused when NODE_ENV=production');
    logger.warn('RATE LIMITS ARE OFF (RATE_LIMITS_ENABLED=false): development and benchmarks only');
  }
  const database: GatewayDatabase = await openGatewayDatabase(config, logger);
  const rateLimits = config.RATE_LIMITS_ENABLED ? SharedRateLimits.inPostgres(database.counters, logger) : undefined;
  const idempotency = new IdempotentCalls(new IdempotencyRecords(database.records), logger, config.BUS_TIMEOUT_MS);
  idempotency.startCleanup();
  return {
    rateLimits,
    idempotency,
    register(fastify) {
      if (rateLimits !== undefined)
        limitEdgeRequests(fastify, rateLimits, { publicPerSecond: config.RATE_LIMIT_PUBLIC_PER_SECOND });
    },
    async close() {
      idempotency.stopCleanup();
      await database.close();
    },
  };
}
