import { RateLimiterMemory } from 'rate-limiter-flexible';
import type { Budget } from '../src/rate-limits/rate-limit-policy';
import { type CounterStore, SharedRateLimits } from '../src/rate-limits/shared-rate-limits';

/** One in-memory counter per budget, shared by every "replica" built on it (the database's role). */
function sharedStore(): { store: CounterStore; upserts: () => number } {
  const limiters = new Map<string, RateLimiterMemory>();
  let upserts = 0;
  const store: CounterStore = (budget) => {
    let limiter = limiters.get(budget.name);
    if (limiter === undefined) {
      limiter = new RateLimiterMemory({ points: budget.points, duration: budget.durationSeconds });
      limiters.set(budget.name, limiter);
    }
    const counted = limiter;
    return new Proxy(counted, {
      get(target, property, receiver) {
        if (property === 'consume')
          return (key: string, points: number) => {
            upserts += 1;
            return counted.consume(key, points);
          };
        return Reflect.get(target, property, receiver);
      },
    });
  };
  return { store, upserts: () => upserts };
}

const standard: Budget = { name: 'api-standard', points: 500, durationSeconds: 60 };
const signIn: Budget = { name: 'sign-in', points: 5, durationSeconds: 60 };

async function count(limits: SharedRateLimits[], budget: Budget, requests: number) {
  let allowed = 0;
  const decisions = [];
  for (let index = 0; index < requests; index += 1) {
    const decision = await limits[index % limits.length]!.consume({ budget, key: 'tenant:key:k1' });
    if (decision.allowed) allowed += 1;
    decisions.push(decision);
  }
  return { allowed, decisions };
}

describe('shared rate limits', () => {
  it('never lets more than the budget through, however the requests spread over replicas', async () => {
    const { store } = sharedStore();
    const replicas = [new SharedRateLimits(store), new SharedRateLimits(store), new SharedRateLimits(store)];
    const { allowed, decisions } = await count(replicas, standard, 700);
    expect(allowed).toBeLessThanOrEqual(500);
    // Leases of 25: at most (replicas × 24) points taken and not spent.
    expect(allowed).toBeGreaterThanOrEqual(500 - 3 * 24);
    const refused = decisions.at(-1)!;
    expect(refused).toEqual({
      allowed: false,
      state: { limit: 500, remaining: 0, resetSeconds: expect.any(Number), windowSeconds: 60 },
    });
    expect(refused.state.resetSeconds).toBeGreaterThan(0);
    expect(refused.state.resetSeconds).toBeLessThanOrEqual(60);
  });

  it('takes the budget from the store in leases of 1/20: one upsert for many requests', async () => {
    const { store, upserts } = sharedStore();
    const { allowed } = await count([new SharedRateLimits(store)], standard, 500);
    expect(allowed).toBe(500);
    expect(upserts()).toBe(20);
  });

  it('counts small budgets exactly (5 sign-ins a minute over two replicas), with the remaining count', async () => {
    const { store } = sharedStore();
    const { allowed, decisions } = await count([new SharedRateLimits(store), new SharedRateLimits(store)], signIn, 7);
    expect(allowed).toBe(5);
    expect(decisions.map((decision) => decision.state.remaining)).toEqual([4, 3, 2, 1, 0, 0, 0]);
  });

  it('grants what is left when a lease asks for more than remains', async () => {
    const { store } = sharedStore();
    const [first, second] = [new SharedRateLimits(store), new SharedRateLimits(store)];
    // 19 leases of 25 by the first replica (475), then the second asks for 25 of the 25 left, and so on.
    await count([first], standard, 475);
    const { allowed } = await count([second], standard, 40);
    expect(allowed).toBe(25);
  });

  it('asks the store once for concurrent requests of one key', async () => {
    const { store, upserts } = sharedStore();
    const limits = new SharedRateLimits(store);
    const decisions = await Promise.all(
      Array.from({ length: 20 }, () => limits.consume({ budget: standard, key: 'tenant:key:k2' })),
    );
    expect(decisions.every((decision) => decision.allowed)).toBe(true);
    expect(upserts()).toBe(1);
  });

  it('gives a refunded request back to the lease', async () => {
    const { store } = sharedStore();
    const limits = new SharedRateLimits(store);
    const choice = { budget: signIn, key: '203.0.113.9' };
    for (let attempt = 0; attempt < 5; attempt += 1) await limits.consume(choice);
    expect((await limits.consume(choice)).allowed).toBe(false);
    limits.refund(choice);
    expect((await limits.consume(choice)).allowed).toBe(true);
  });
});
