import type { Pool } from 'pg';
import type { Logger } from 'pino';
import {
  type RateLimiterAbstract,
  RateLimiterMemory,
  RateLimiterPostgres,
  RateLimiterRes,
} from 'rate-limiter-flexible';
import type { Budget, RateLimitChoice, RateLimitState } from './rate-limit-policy';

export interface RateLimitDecision {
  allowed: boolean;
  state: RateLimitState;
}

/** The table of migrations/1764201600100-rate-limit-counters.ts. */
const COUNTERS_TABLE = 'rate_limit_counters';
const FALLBACK_LOG_INTERVAL_MS = 10_000;
/**
 * A replica takes 1/20 of a budget from the store at a time (at least 1): one upsert serves up to
 * 25 requests of a standard plan, 250 of a premium one. The cost: points a replica took and did
 * not spend are lost when the window ends, so a credential spread over R replicas may get up to
 * R × 5% less than its budget; it never gets more. Budgets of 20 or less are counted exactly.
 */
const LEASE_FRACTION_DIVISOR = 20;
/** Bound on remembered leases (STYLE: a limit on everything); expired ones are dropped beyond it. */
const LEASES_MAX = 50_000;

/** Points this replica took from a shared counter for the rest of its window. */
interface Lease {
  points: number;
  /** What the store had left when the lease was taken (for RateLimit-Remaining). */
  storeRemaining: number;
  expiresAtMs: number;
}

/** A store-backed limiter, or the in-memory one in tests. */
export type CounterStore = (budget: Budget) => RateLimiterAbstract;

/**
 * Budgets counted in the gateway database, so every replica draws from the same counters
 * (rate-limiter-flexible's RateLimiterPostgres), in leases (LEASE_FRACTION_DIVISOR).
 *
 * When the store fails or is slower than RATE_LIMIT_STORE_TIMEOUT_MS, the lease is taken from
 * this replica's in-memory insurance limiter with the same budget: traffic stays limited (at worst
 * replicas × budget while the store is away), never unlimited and never a 500. Logged every 10 s.
 */
export class SharedRateLimits {
  private readonly limiters = new Map<string, RateLimiterAbstract>();
  private readonly leases = new Map<string, Lease>();
  private readonly leasing = new Map<string, Promise<Lease>>();

  constructor(private readonly counterStore: CounterStore) {}

  static inPostgres(pool: Pool, logger: Logger): SharedRateLimits {
    let fallbacks = 0;
    let lastLogMs = 0;
    const noteFallback = (budget: Budget) => {
      fallbacks += 1;
      if (Date.now() - lastLogMs < FALLBACK_LOG_INTERVAL_MS) return;
      logger.warn({ budget: budget.name, leases: fallbacks }, 'rate-limit store unavailable: counting in this replica');
      lastLogMs = Date.now();
      fallbacks = 0;
    };
    return new SharedRateLimits((budget) => {
      const options = { keyPrefix: budget.name, points: budget.points, duration: budget.durationSeconds };
      return new RateLimiterPostgres({
        ...options,
        storeClient: pool,
        storeType: 'pool',
        tableName: COUNTERS_TABLE,
        // The migration created it (owner role): the runtime role may not create tables.
        tableCreated: true,
        clearExpiredByTimeout: true,
        insuranceLimiter: new InsuranceLimiter(options, () => noteFallback(budget)),
      });
    });
  }

  async consume(choice: RateLimitChoice): Promise<RateLimitDecision> {
    // A few rounds at most: a lease emptied by concurrent requests is renewed, then refused if spent.
    for (let round = 0; round < 3; round += 1) {
      const lease = await this.leaseOf(choice);
      if (lease.points > 0) {
        lease.points -= 1;
        return { allowed: true, state: stateOf(choice.budget, lease) };
      }
      if (lease.storeRemaining === 0 || round === 2) return { allowed: false, state: stateOf(choice.budget, lease) };
    }
    throw new Error('unreachable');
  }

  /** Gives a counted request back to this replica's lease (an OAuth client that failed to authenticate). */
  refund(choice: RateLimitChoice): void {
    const lease = this.leases.get(leaseIdOf(choice));
    if (lease !== undefined && lease.expiresAtMs > Date.now()) lease.points += 1;
  }

  private leaseOf(choice: RateLimitChoice): Promise<Lease> {
    const id = leaseIdOf(choice);
    const lease = this.leases.get(id);
    if (lease !== undefined && lease.expiresAtMs > Date.now() && (lease.points > 0 || lease.storeRemaining === 0))
      return Promise.resolve(lease);
    // One request to the store per key at a time; the others wait for its lease.
    let pending = this.leasing.get(id);
    if (pending === undefined) {
      pending = this.takeLease(id, choice).finally(() => this.leasing.delete(id));
      this.leasing.set(id, pending);
    }
    return pending;
  }

  private async takeLease(id: string, { budget, key }: RateLimitChoice): Promise<Lease> {
    const wanted = Math.max(1, Math.floor(budget.points / LEASE_FRACTION_DIVISOR));
    let granted = wanted;
    let result: RateLimiterRes;
    try {
      result = await this.limiterOf(budget).consume(key, wanted);
    } catch (outcome) {
      if (!(outcome instanceof RateLimiterRes)) throw outcome;
      // Over budget after adding `wanted`: what was left before it is still ours.
      result = outcome;
      granted = Math.max(0, Math.min(wanted, budget.points - (outcome.consumedPoints - wanted)));
    }
    const lease: Lease = {
      points: granted,
      storeRemaining: Math.max(0, result.remainingPoints),
      expiresAtMs: Date.now() + Math.max(1, result.msBeforeNext),
    };
    if (this.leases.size >= LEASES_MAX) this.dropExpiredLeases();
    this.leases.set(id, lease);
    return lease;
  }

  private dropExpiredLeases(): void {
    const nowMs = Date.now();
    for (const [id, lease] of this.leases) if (lease.expiresAtMs <= nowMs) this.leases.delete(id);
  }

  private limiterOf(budget: Budget): RateLimiterAbstract {
    const name = `${budget.name}:${budget.points}/${budget.durationSeconds}`;
    let limiter = this.limiters.get(name);
    if (limiter === undefined) {
      limiter = this.counterStore(budget);
      this.limiters.set(name, limiter);
    }
    return limiter;
  }
}

function leaseIdOf(choice: RateLimitChoice): string {
  return `${choice.budget.name}:${choice.budget.points}/${choice.budget.durationSeconds}:${choice.key}`;
}

/** The per-replica limiter used while the store is unreachable, telling us when it is. */
class InsuranceLimiter extends RateLimiterMemory {
  constructor(
    options: { keyPrefix: string; points: number; duration: number },
    private readonly onUse: () => void,
  ) {
    super(options);
  }

  override consume(key: string | number, points?: number, options?: Record<string, unknown>) {
    this.onUse();
    return super.consume(key, points, options);
  }
}

function stateOf(budget: Budget, lease: Lease): RateLimitState {
  return {
    limit: budget.points,
    remaining: Math.min(budget.points, lease.storeRemaining + lease.points),
    resetSeconds: Math.max(1, Math.ceil((lease.expiresAtMs - Date.now()) / 1000)),
    windowSeconds: budget.durationSeconds,
  };
}
