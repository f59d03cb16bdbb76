import type { loginAttempted, PayloadOf } from '@strongroom/contracts';
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
