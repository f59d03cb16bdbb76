import { ANONYMOUS_ACTOR, type AuditEventInput, type loginAttempted, type PayloadOf } from '@strongroom/contracts';
import type { AuditOrigin } from '@strongroom/platform';
import { type AuditTrail, type AuthAuditFact, authAuditEvent } from '../auth-audit';
import type { LoginAttempt, LoginOutcome } from './login-service';

type LoginRecord = PayloadOf<typeof loginAttempted>;

/** The audit record of one sign-in attempt: its outcome and who, never the email or the credentials. */
export function loginRecordOf(attempt: LoginAttempt, outcome: LoginOutcome, userId: string | undefined): LoginRecord {
  const base = {
    tenantId: attempt.tenantId,
    ...(userId !== undefined ? { userId } : {}),
    ...(attempt.clientId !== undefined ? { clientId: attempt.clientId } : {}),
    sourceIp: attempt.ip.slice(0, 64),
    occurredAt: attempt.now.toISOString(),
  };
  switch (outcome.outcome) {
    case 'authenticated':
      return { ...base, outcome: 'succeeded', amr: outcome.amr };
    case 'throttled':
      return { ...base, outcome: 'throttled', reason: outcome.reason };
    case 'invalid_credentials':
      return { ...base, outcome: 'failed', reason: 'invalid_credentials' };
    case 'mfa_code_required':
    case 'mfa_enrolment_required':
      return { ...base, outcome: outcome.outcome };
  }
}

/**
 * The audit events of one sign-in attempt (issue 7): `auth.login.attempt` as a success, a
 * failure (wrong email, password or code; a second factor still missing) or denied (throttled,
 * backed off, locked out), and `auth.mfa.enrol` when the sign-in confirmed a TOTP enrolment. The
 * actor is the user only once signed in: before that, nobody is proven. The email is never in
 * it; the user id is, when the account exists.
 */
export function loginAuditEvents(
  attempt: LoginAttempt,
  outcome: LoginOutcome,
  userId: string | undefined,
  origin: AuditOrigin,
): AuditEventInput[] {
  const trail: AuditTrail = {
    actor: outcome.outcome === 'authenticated' ? { type: 'user', id: outcome.userId } : ANONYMOUS_ACTOR,
    origin: { ...origin, ...(origin.sourceIp === undefined ? sourceIpOf(attempt.ip) : {}) },
  };
  const common = {
    tenantId: attempt.tenantId,
    occurredAt: attempt.now.toISOString(),
    resource: { type: 'user', id: userId ?? 'unknown' },
  };
  const details = attempt.clientId !== undefined ? { clientId: attempt.clientId } : {};
  const login = (fact: Pick<AuthAuditFact, 'outcome' | 'reason' | 'details'>) =>
    authAuditEvent(trail, { ...common, action: 'auth.login.attempt', ...fact });
  switch (outcome.outcome) {
    case 'authenticated':
      return [
        login({ details: { ...details, amr: outcome.amr } }),
        ...(outcome.enrolledMfa !== undefined
          ? [authAuditEvent(trail, { ...common, action: 'auth.mfa.enrol', details: { method: 'totp' } })]
          : []),
      ];
    case 'throttled':
      return [
        login({
          outcome: 'denied',
          reason: outcome.reason,
          details: { ...details, retryAfterSeconds: outcome.retryAfterSeconds },
        }),
      ];
    case 'invalid_credentials':
      return [login({ outcome: 'failure', reason: 'invalid_credentials', details })];
    case 'mfa_code_required':
    case 'mfa_enrolment_required':
      // The password was right; the sign-in did not complete without its second factor.
      return [login({ outcome: 'failure', reason: outcome.outcome, details })];
  }
}

const IP = /^[0-9A-Fa-f.:]{2,45}$/;

function sourceIpOf(ip: string): { sourceIp?: string } {
  return IP.test(ip) ? { sourceIp: ip } : {};
}
