import { InMemoryAttemptStore } from '../src/throttling/attempt-store';
import {
  decideLogin,
  LOGIN_THROTTLE_POLICY,
  type LoginObservation,
  type LoginSubject,
  LoginThrottle,
} from '../src/throttling/login-throttle';
import { accountThrottleKey, ipThrottleKey } from '../src/throttling/throttle-keys';

const start = new Date('2030-01-01T00:00:00Z');
const at = (seconds: number) => new Date(start.getTime() + seconds * 1000);
const newStore = () => new InMemoryAttemptStore({ retentionSeconds: 86_400, eventsPerKeyMax: 1_000, keysMax: 10_000 });
const subject = (account = 'jane@bank.example', ip = '203.0.113.7'): LoginSubject => ({
  accountKey: accountThrottleKey('t_1', account),
  ipKey: ipThrottleKey(ip),
});

/** One login as the service runs it: check, record the attempt, then the failure. */
async function failedLogin(throttle: LoginThrottle, who: LoginSubject, now: Date) {
  const decision = await throttle.check(who, now);
  if (decision.allowed) {
    await throttle.recordAttempt(who, now);
    await throttle.recordFailure(who, now);
  }
  return decision;
}

describe('login throttling: 5 attempts per minute (seed 001)', () => {
  it('allows 5 attempts in a minute and refuses the 6th with Retry-After', async () => {
    const throttle = new LoginThrottle(newStore());
    const who = subject();
    for (let i = 0; i < 5; i += 1) {
      const decision = await throttle.check(who, at(i));
      expect(decision).toMatchObject({ allowed: true, retryAfterSeconds: 0, reason: null });
      await throttle.recordAttempt(who, at(i));
    }
    expect(await throttle.check(who, at(10))).toMatchObject({
      allowed: false,
      retryAfterSeconds: 50,
      reason: 'rate_limited_account',
    });
  });

  it('allows again once the oldest attempt leaves the window: Retry-After is truthful', async () => {
    const throttle = new LoginThrottle(newStore());
    const who = subject();
    for (let i = 0; i < 5; i += 1) await throttle.recordAttempt(who, at(i));
    const refused = await throttle.check(who, at(30));
    expect(refused.retryAfterSeconds).toBe(30);
    expect((await throttle.check(who, at(30 + refused.retryAfterSeconds))).allowed).toBe(true);
  });

  it('limits one IP across many accounts (credential stuffing)', async () => {
    const throttle = new LoginThrottle(newStore());
    for (let i = 0; i < 5; i += 1) await throttle.recordAttempt(subject(`user${i}@x.example`), at(i));
    expect(await throttle.check(subject('user99@x.example'), at(5))).toMatchObject({
      allowed: false,
      reason: 'rate_limited_ip',
    });
    expect((await throttle.check(subject('user99@x.example', '198.51.100.1'), at(5))).allowed).toBe(true);
  });

  it('limits one account across many IPs (distributed guessing)', async () => {
    const throttle = new LoginThrottle(newStore());
    for (let i = 0; i < 5; i += 1) await throttle.recordAttempt(subject('jane@bank.example', `198.51.100.${i}`), at(i));
    expect(await throttle.check(subject('jane@bank.example', '192.0.2.1'), at(5))).toMatchObject({
      allowed: false,
      reason: 'rate_limited_account',
    });
  });

  it('treats case and Unicode variants of an account as one account', async () => {
    const throttle = new LoginThrottle(newStore());
    for (let i = 0; i < 5; i += 1) await throttle.recordAttempt(subject('jane@bank.example'), at(i));
    expect((await throttle.check(subject(' JANE@ｂａｎｋ.example'), at(5))).allowed).toBe(false);
  });
});

describe('login throttling: back-off, lockout and anomaly', () => {
  it('slows an account down after 5 failures, doubling the wait each time', async () => {
    const policy = LOGIN_THROTTLE_POLICY;
    const base: LoginObservation = {
      accountAttempts: 0,
      accountOldestAttempt: null,
      ipAttempts: 0,
      ipOldestAttempt: null,
      accountFailures: 0,
      accountLastFailure: start,
      accountRecentFailures: 0,
      ipRecentFailures: 0,
    };
    expect(decideLogin({ ...base, accountFailures: 4 }, start, policy).allowed).toBe(true);
    expect(decideLogin({ ...base, accountFailures: 5 }, start, policy)).toMatchObject({
      retryAfterSeconds: 30,
      reason: 'backoff',
    });
    expect(decideLogin({ ...base, accountFailures: 6 }, start, policy).retryAfterSeconds).toBe(60);
    expect(decideLogin({ ...base, accountFailures: 7 }, start, policy).retryAfterSeconds).toBe(120);
    expect(decideLogin({ ...base, accountFailures: 19 }, start, policy).retryAfterSeconds).toBe(
      policy.backoffMaxSeconds,
    );
    expect(decideLogin({ ...base, accountFailures: 6 }, at(60), policy).allowed).toBe(true);
  });

  it('locks an account out for an hour after 20 failures, then lets it try again', () => {
    const base = {
      accountAttempts: 0,
      accountOldestAttempt: null,
      ipAttempts: 0,
      ipOldestAttempt: null,
      accountLastFailure: start,
      accountRecentFailures: 0,
      ipRecentFailures: 0,
    };
    const locked = decideLogin({ ...base, accountFailures: 20 }, at(1), LOGIN_THROTTLE_POLICY);
    expect(locked).toMatchObject({ allowed: false, reason: 'locked_out', retryAfterSeconds: 3_599 });
    expect(decideLogin({ ...base, accountFailures: 10_000 }, at(3_600), LOGIN_THROTTLE_POLICY).allowed).toBe(true);
  });

  it('answers the longest wait when several limits apply, and never less than 1 second', () => {
    const decision = decideLogin(
      {
        accountAttempts: 5,
        accountOldestAttempt: start,
        ipAttempts: 50,
        ipOldestAttempt: at(59.9),
        accountFailures: 5,
        accountLastFailure: start,
        accountRecentFailures: 5,
        ipRecentFailures: 0,
      },
      at(59.5),
      LOGIN_THROTTLE_POLICY,
    );
    expect(decision).toMatchObject({ allowed: false, reason: 'rate_limited_ip', retryAfterSeconds: 61 });
    const almost = decideLogin(
      { ...emptyObservation(), accountAttempts: 5, accountOldestAttempt: start },
      at(59.999),
      LOGIN_THROTTLE_POLICY,
    );
    expect(almost.retryAfterSeconds).toBe(1);
  });

  it('ends the back-off on a successful login', async () => {
    const throttle = new LoginThrottle(newStore());
    const who = subject();
    for (let i = 0; i < 5; i += 1) await failedLogin(throttle, who, at(i * 61));
    // The 5th failure was at 244 s: the account waits 30 s from there.
    expect(await throttle.check(who, at(245))).toMatchObject({
      allowed: false,
      reason: 'backoff',
      retryAfterSeconds: 29,
    });
    await throttle.recordSuccess(who);
    expect((await throttle.check(who, at(245))).allowed).toBe(true);
  });

  it('signals an anomaly when an account keeps failing, even while the attempts are allowed', async () => {
    const direct = new LoginThrottle(newStore());
    const who = subject();
    for (let i = 0; i < 9; i += 1) await direct.recordFailure(who, at(i));
    expect((await direct.check(who, at(10))).anomaly).toBeNull();
    await direct.recordFailure(who, at(10));
    expect((await direct.check(who, at(11))).anomaly).toEqual({
      kind: 'account_failures',
      failures: 10,
      windowSeconds: 300,
    });
    // Outside the 5-minute window the signal clears.
    expect((await direct.check(who, at(10 + 301))).anomaly).toBeNull();
  });

  it('signals an anomaly for one IP failing across many accounts (spraying)', async () => {
    const throttle = new LoginThrottle(newStore());
    for (let i = 0; i < 20; i += 1) await throttle.recordFailure(subject(`user${i}@x.example`), at(i));
    expect((await throttle.check(subject('fresh@x.example'), at(21))).anomaly).toEqual({
      kind: 'ip_failures',
      failures: 20,
      windowSeconds: 300,
    });
  });

  it('holds the 6th attempt in any minute for a hostile client hammering without pause', async () => {
    const throttle = new LoginThrottle(newStore());
    const who = subject();
    let allowed = 0;
    for (let ms = 0; ms < 60_000; ms += 100)
      if ((await failedLogin(throttle, who, at(ms / 1000))).allowed) allowed += 1;
    expect(allowed).toBeLessThanOrEqual(5);
  });
});

describe('throttle keys', () => {
  it('groups IPv6 by /64 and IPv4-mapped addresses with their IPv4', () => {
    expect(ipThrottleKey('2001:db8:1:2:aaaa::1')).toBe(ipThrottleKey('2001:0db8:0001:0002:ffff:ffff:ffff:ffff'));
    expect(ipThrottleKey('2001:db8:1:2::1')).toBe('ip6:2001:db8:1:2::/64');
    expect(ipThrottleKey('2001:db8:1:3::1')).not.toBe(ipThrottleKey('2001:db8:1:2::1'));
    expect(ipThrottleKey('::ffff:203.0.113.7')).toBe(ipThrottleKey('203.0.113.7'));
    expect(ipThrottleKey('::1')).toBe('ip6:0:0:0:0::/64');
    expect(ipThrottleKey('fe80::1%eth0')).toBe('ip6:fe80:0:0:0::/64');
  });

  it('puts unparsable addresses in one shared bucket', () => {
    for (const ip of ['', 'localhost', '999.1.1.1', '1:2:3:4:5:6:7:8:9', 'x'.repeat(100_000)]) {
      expect(ipThrottleKey(ip)).toBe('ip:invalid');
    }
  });

  it('bounds account keys built from attacker-chosen identifiers', () => {
    expect(accountThrottleKey('t_1', 'a'.repeat(1_000_000)).length).toBeLessThan(500);
    expect(accountThrottleKey('t_1', 'Jane@X')).not.toBe(accountThrottleKey('t_2', 'jane@x'));
  });
});

describe('in-memory attempt store', () => {
  it('keeps memory bounded per key and across keys', async () => {
    const store = new InMemoryAttemptStore({ retentionSeconds: 60, eventsPerKeyMax: 10, keysMax: 3 });
    for (let i = 0; i < 100; i += 1) await store.record('k', at(i / 10));
    expect(await store.countSince('k', start)).toBe(10);
    for (const key of ['a', 'b', 'c', 'd']) await store.record(key, start);
    expect(await store.countSince('k', start)).toBe(0);
    expect(await store.latest('d')).toEqual(start);
  });

  it('drops events older than its retention', async () => {
    const store = new InMemoryAttemptStore({ retentionSeconds: 60, eventsPerKeyMax: 10, keysMax: 3 });
    await store.record('k', start);
    await store.record('k', at(120));
    expect(await store.countSince('k', new Date(0))).toBe(1);
    expect(await store.oldestSince('k', new Date(0))).toEqual(at(120));
  });
});

function emptyObservation(): LoginObservation {
  return {
    accountAttempts: 0,
    accountOldestAttempt: null,
    ipAttempts: 0,
    ipOldestAttempt: null,
    accountFailures: 0,
    accountLastFailure: null,
    accountRecentFailures: 0,
    ipRecentFailures: 0,
  };
}
