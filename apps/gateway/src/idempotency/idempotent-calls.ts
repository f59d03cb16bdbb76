import { HEADERS } from '@strongroom/contracts';
import { PlatformError } from '@strongroom/platform';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { CallerCredential } from '../api/api-credentials';
import { rawBodyOf } from '../api/raw-json-body';
import { problemFromError } from '../http/problem-details';
import { sendProblem } from '../http/send-problem';
import {
  IDEMPOTENT_REPLAYED_HEADER,
  idempotencyScopeOf,
  keyHashOf,
  openResponse,
  requestFingerprintOf,
  type StoredResponse,
  sealResponse,
  settlementOfFailure,
} from './idempotency-key';
import type { IdempotencyRecords } from './idempotency-records';

export interface IdempotentCall {
  request: FastifyRequest;
  reply: FastifyReply;
  caller: CallerCredential;
  key: string;
  /** The route's success status. */
  status: number;
  /** The route's own bus timeout, when longer than the gateway's: the key is held at least that long. */
  timeoutMs?: number;
  /** The service dedupes the request itself: after a timeout the key is freed, and a retry runs it again safely. */
  retrySafe?: boolean;
  /** Forwards the request to its service (run at most once per key). */
  forward: () => Promise<unknown>;
}

const CLEANUP_INTERVAL_MS = 60_000;
const CLEANUP_BATCH_SIZE = 500;
const CLEANUP_BATCHES_MAX = 20;
/** Beyond the bus timeout, how long a reservation outlives its request (clock skew, a slow store). */
const LEASE_MARGIN_MS = 5_000;

/**
 * Idempotency-Key on POST API routes (draft-ietf-httpapi-idempotency-key-header): the first
 * request with a key runs and its answer is kept 24 h; the same request again gets that answer
 * (`Idempotent-Replayed: true`); another request with the key, or the same one while the first
 * runs, gets 409. Principle: nothing applied twice, nothing committed lost (settlementOfFailure).
 */
export class IdempotentCalls {
  private readonly leaseMs: number;
  private cleanupTimer: NodeJS.Timeout | undefined;
  private cleanupStopped = false;

  constructor(
    private readonly records: IdempotencyRecords,
    private readonly logger: Logger,
    busTimeoutMs: number,
  ) {
    this.leaseMs = busTimeoutMs + LEASE_MARGIN_MS;
  }

  async run(call: IdempotentCall): Promise<FastifyReply> {
    const { request, reply } = call;
    const requestId = String(request.id);
    const scope = idempotencyScopeOf(call.caller, call.key);
    const keyHash = keyHashOf(scope);
    const fingerprint = requestFingerprintOf(request.method, request.url, rawBodyOf(request));
    const leaseMs = Math.max(this.leaseMs, (call.timeoutMs ?? 0) + LEASE_MARGIN_MS);
    const reservation = await this.records.reserve(scope.tenantId, keyHash, fingerprint, leaseMs).catch((error) => {
      // Without the record we cannot promise "at most once": refuse rather than risk a second run.
      this.logger.error({ err: error }, 'idempotency store unavailable');
      void reply.header('retry-after', '1');
      throw PlatformError.unavailable('Requests with an Idempotency-Key cannot be accepted right now; retry later');
    });
    switch (reservation.kind) {
      case 'completed':
        return sendStored(reply, openResponse(scope, reservation.sealed), requestId, true);
      case 'in-flight':
        void reply.header('retry-after', '1');
        throw new PlatformError(
          'IDEMPOTENCY_KEY_IN_FLIGHT',
          'A request with this Idempotency-Key is still being processed; retry later',
        );
      case 'different-request':
        throw new PlatformError(
          'IDEMPOTENCY_KEY_REUSED',
          'This Idempotency-Key was used for a different request (method, path or body); use a new key',
        );
      case 'abandoned':
        throw PlatformError.timeout(
          'The first request with this Idempotency-Key did not finish and its outcome is unknown; check the resource, then use a new key',
        );
      case 'reserved':
        return this.runReserved(call, scope, keyHash, requestId);
    }
  }

  private async runReserved(
    call: IdempotentCall,
    scope: ReturnType<typeof idempotencyScopeOf>,
    keyHash: Buffer,
    requestId: string,
  ): Promise<FastifyReply> {
    let response: StoredResponse;
    let failure: { error: unknown } | undefined;
    try {
      const result = await call.forward();
      response = { status: call.status, body: result === undefined ? '' : JSON.stringify(result) };
    } catch (error) {
      if (settlementOfFailure(error, { retrySafe: call.retrySafe === true }) === 'release') {
        await this.records.release(scope.tenantId, keyHash).catch((releaseError) => {
          // The key stays reserved until its lease ends, then answers "outcome unknown": safe, only less helpful.
          this.logger.warn({ err: releaseError }, 'could not release an idempotency key');
        });
        throw error;
      }
      failure = { error };
      const problem = problemFromError(error, requestId);
      response = { status: problem.status, body: JSON.stringify(problem) };
    }
    // The answer reaches the client even if it cannot be stored (the lease then ends as "unknown").
    await this.records
      .complete(scope.tenantId, keyHash, response.status, sealResponse(scope, response))
      .catch((error) => this.logger.error({ err: error }, 'could not store an idempotent response'));
    if (failure !== undefined) return sendProblem(call.reply, failure.error, requestId);
    return sendStored(call.reply, response, requestId, false);
  }

  /** Deletes expired records in small batches, once a minute (DESIGN "Growth stays bounded"). */
  startCleanup(): void {
    const sweep = async () => {
      try {
        for (let batch = 0; batch < CLEANUP_BATCHES_MAX; batch += 1) {
          if ((await this.records.deleteExpired(CLEANUP_BATCH_SIZE)) < CLEANUP_BATCH_SIZE) break;
        }
      } catch (error) {
        this.logger.warn({ err: error }, 'idempotency cleanup failed; next sweep in a minute');
      }
      if (!this.cleanupStopped) this.cleanupTimer = setTimeout(sweep, CLEANUP_INTERVAL_MS).unref();
    };
    this.cleanupTimer = setTimeout(sweep, CLEANUP_INTERVAL_MS).unref();
  }

  stopCleanup(): void {
    this.cleanupStopped = true;
    clearTimeout(this.cleanupTimer);
  }
}

function sendStored(reply: FastifyReply, response: StoredResponse, requestId: string, replayed: boolean) {
  void reply
    .status(response.status)
    .header('cache-control', 'no-store')
    .header(HEADERS.requestId, requestId)
    .header('content-type', response.status >= 400 ? 'application/problem+json' : 'application/json; charset=utf-8');
  if (replayed) void reply.header(IDEMPOTENT_REPLAYED_HEADER, 'true');
  return response.body === '' ? reply.send() : reply.send(response.body);
}
