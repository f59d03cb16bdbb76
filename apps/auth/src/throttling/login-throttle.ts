import { SIGN_IN_ATTEMPTS_PER_MINUTE } from '@strongroom/contracts';
import type { AttemptStore } from './attempt-store';

/**
 * Seed 001: "Auth endpoints are rate-limited at 5 attempts per minute" — per account and per
 * IP (issue 4), then 429 with Retry-After. On top, failures slow the account down (OWASP
 * Authentication Cheat Sheet: back-off, then a temporary lockout rather than a permanent one,
 * which would hand attackers a way to lock anyone out), and seed 002's "automated alerting for
 * … authentication failures" becomes an anomaly signal the service publishes as
 * `evt.auth.v1.anomaly.detected`.
 */
export const LOGIN_THROTTLE_POLICY = {
  attemptsPerWindow: SIGN_IN_ATTEMPTS_PER_MINUTE,
  attemptWindowSeconds: 60,
  failureWindowSeconds: 60 * 60,
  backoffAfterFailures: 5,
  backoffBaseSeconds: 30,
  backoffMaxSeconds: 15 * 60,
  lockoutAfterFailures: 20,
  lockoutSeconds: 60 * 60,
  anomalyWindowSeconds: 5 * 60,
  anomalyAccountFailures: 10,
  anomalyIpFailures: 20,
} as const;
export type LoginThrottlePolicy = { readonly [K in keyof typeof LOGIN_THROTTLE_POLICY]: number };

export type LoginRefusal = 'rate_limited_account' | 'rate_limited_ip' | 'backoff' | 'locked_out';
export interface LoginAnomaly {
  kind: 'account_failures' | 'ip_failures';
  failures: number;
  windowSeconds: number;
}
export interface LoginDecision {
  allowed: boolean;
  /** 0 when allowed; else whole seconds for the Retry-After header, at least 1. */
  retryAfterSeconds: number;
  reason: LoginRefusal | null;
  anomaly: LoginAnomaly | null;
}

/** What the store knows about one login, gathered before the pure decision. */
export interface LoginObservation {
  accountAttempts: number;
  accountOldestAttempt: Date | null;
  ipAttempts: number;
  ipOldestAttempt: Date | null;
  accountFailures: number;
  accountLastFailure: Date | null;
  accountRecentFailures: number;
  ipRecentFailures: number;
}

/** The whole policy, pure: the longest applicable wait wins, and an anomaly is reported even when allowed. */
export function decideLogin(observation: LoginObservation, now: Date, policy: LoginThrottlePolicy): LoginDecision {
  const waits: Array<[LoginRefusal, number]> = [];
  const until = (from: Date | null, seconds: number) =>
    from === null ? 0 : from.getTime() + seconds * 1000 - now.getTime();
  if (observation.accountAttempts >= policy.attemptsPerWindow) {
    waits.push(['rate_limited_account', until(observation.accountOldestAttempt, policy.attemptWindowSeconds)]);
  }
  if (observation.ipAttempts >= policy.attemptsPerWindow) {
    waits.push(['rate_limited_ip', until(observation.ipOldestAttempt, policy.attemptWindowSeconds)]);
  }
  if (observation.accountFailures >= policy.lockoutAfterFailures) {
    waits.push(['locked_out', until(observation.accountLastFailure, policy.lockoutSeconds)]);
  } else if (observation.accountFailures >= policy.backoffAfterFailures) {
    const doublings = Math.min(observation.accountFailures - policy.backoffAfterFailures, 30);
    const delaySeconds = Math.min(policy.backoffBaseSeconds * 2 ** doublings, policy.backoffMaxSeconds);
    waits.push(['backoff', until(observation.accountLastFailure, delaySeconds)]);
  }
  const longest = waits.filter(([, ms]) => ms > 0).sort((a, b) => b[1] - a[1])[0];
  return {
    allowed: longest === undefined,
    retryAfterSeconds: longest === undefined ? 0 : Math.max(1, Math.ceil(longest[1] / 1000)),
    reason: longest?.[0] ?? null,
    anomaly: anomalyOf(observation, policy),
  };
}

function anomalyOf(observation: LoginObservation, policy: LoginThrottlePolicy): LoginAnomaly | null {
  const windowSeconds = policy.anomalyWindowSeconds;
  if (observation.accountRecentFailures >= policy.anomalyAccountFailures) {
    return { kind: 'account_failures', failures: observation.accountRecentFailures, windowSeconds };
  }
  if (observation.ipRecentFailures >= policy.anomalyIpFailures) {
    return { kind: 'ip_failures', failures: observation.ipRecentFailures, windowSeconds };
  }
  return null;
}

export interface LoginSubject {
  /** From accountThrottleKey. */
  accountKey: string;
  /** From ipThrottleKey. */
  ipKey: string;
}

/**
 * Binds the policy to a store. Order of use per login: `check` (answer 429 when refused),
 * `recordAttempt`, verify the credentials, then `recordFailure` or `recordSuccess`. Only
 * allowed attempts are recorded, so Retry-After is truthful: waiting that long works.
 */
export class LoginThrottle {
  constructor(
    private readonly store: AttemptStore,
    private readonly policy: LoginThrottlePolicy = LOGIN_THROTTLE_POLICY,
  ) {}

  async check(subject: LoginSubject, now: Date): Promise<LoginDecision> {
    const ago = (seconds: number) => new Date(now.getTime() - seconds * 1000);
    const attemptsSince = ago(this.policy.attemptWindowSeconds);
    const recentSince = ago(this.policy.anomalyWindowSeconds);
    const [accountAttempts, accountOldestAttempt, ipAttempts, ipOldestAttempt] = await Promise.all([
      this.store.countSince(attemptKey(subject.accountKey), attemptsSince),
      this.store.oldestSince(attemptKey(subject.accountKey), attemptsSince),
      this.store.countSince(attemptKey(subject.ipKey), attemptsSince),
      this.store.oldestSince(attemptKey(subject.ipKey), attemptsSince),
    ]);
    const [accountFailures, accountLastFailure, accountRecentFailures, ipRecentFailures] = await Promise.all([
      this.store.countSince(failureKey(subject.accountKey), ago(this.policy.failureWindowSeconds)),
      this.store.latest(failureKey(subject.accountKey)),
      this.store.countSince(failureKey(subject.accountKey), recentSince),
      this.store.countSince(failureKey(subject.ipKey), recentSince),
    ]);
    const observation = {
      ...{ accountAttempts, accountOldestAttempt, ipAttempts, ipOldestAttempt },
      ...{ accountFailures, accountLastFailure, accountRecentFailures, ipRecentFailures },
    };
    return decideLogin(observation, now, this.policy);
  }

  async recordAttempt(subject: LoginSubject, now: Date): Promise<void> {
    await Promise.all([
      this.store.record(attemptKey(subject.accountKey), now),
      this.store.record(attemptKey(subject.ipKey), now),
    ]);
  }

  async recordFailure(subject: LoginSubject, now: Date): Promise<void> {
    await Promise.all([
      this.store.record(failureKey(subject.accountKey), now),
      this.store.record(failureKey(subject.ipKey), now),
    ]);
  }

  /** A success ends the account's back-off; the IP's failures stay, one good password does not vouch for a botnet node. */
  async recordSuccess(subject: LoginSubject): Promise<void> {
    await this.store.clear(failureKey(subject.accountKey));
  }
}

const attemptKey = (key: string) => `login-attempt:${key}`;
const failureKey = (key: string) => `login-failure:${key}`;
