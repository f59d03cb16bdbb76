import { randomBytes } from 'node:crypto';
import { mfaRequiredFor } from '../mfa/mfa-requirement';
import {
  canonicalRecoveryCode,
  generateRecoveryCodes,
  redeemRecoveryCode,
  type SecretHasher,
} from '../mfa/recovery-codes';
import { createTotpEnrolment, verifyTotp } from '../mfa/totp';
import { hashPassword, verifyPassword } from '../passwords/password-hashing';
import type { LoginAnomaly, LoginRefusal, LoginSubject, LoginThrottle } from '../throttling/login-throttle';
import { accountThrottleKey, ipThrottleKey } from '../throttling/throttle-keys';
import type { LoginAccount, LoginAccounts } from './login-accounts';

export interface LoginAttempt {
  tenantId: string;
  email: string;
  password: string;
  /** The 6-digit code of the user's authenticator app, when the form carried one. */
  totpCode: string | undefined;
  ip: string;
  now: Date;
  /** The application the user signs in to (for the audit record). */
  clientId?: string;
}

export type LoginOutcome =
  | {
      outcome: 'authenticated';
      userId: string;
      amr: string[];
      /** This sign-in confirmed a TOTP enrolment: the recovery codes, to show once. */
      enrolledMfa?: { recoveryCodes: string[] };
      /** A recovery code stood in for the TOTP code: how many are left. */
      recoveryCodesRemaining?: number;
    }
  | { outcome: 'throttled'; retryAfterSeconds: number; reason: LoginRefusal }
  /** Wrong email, password or code: one answer, so nobody learns which was wrong or whether the account exists. */
  | { outcome: 'invalid_credentials' }
  | { outcome: 'mfa_code_required' }
  /** An account whose roles require MFA and which has none: the password was right; enrol first (the URI is shown once). */
  | { outcome: 'mfa_enrolment_required'; otpauthUri: string };

export interface LoginServiceOptions {
  accounts: LoginAccounts;
  /** Peppered HMAC of recovery codes. */
  recoveryCodeHasher: SecretHasher;
  throttle: LoginThrottle;
  /** Called when the throttle sees an anomaly (seed 002 alerting); must not throw. */
  reportAnomaly(anomaly: LoginAnomaly, tenantId: string): void;
  /** Called with every attempt's outcome (audit: seed 001); must not throw. */
  recordAttempt(attempt: LoginAttempt, outcome: LoginOutcome, userId: string | undefined): void;
}

/**
 * An argon2id hash of a random password, made once per process: verified against when the
 * account does not exist, so an unknown email costs the same time as a wrong password.
 */
let absentAccountHash: Promise<string> | undefined;
const absentAccount = () => {
  absentAccountHash ??= hashPassword(randomBytes(24).toString('base64url'));
  return absentAccountHash;
};

/**
 * Password + TOTP login with the throttle of seed 001 (5 attempts a minute per account and per
 * IP, then 429), back-off and lockout, and MFA enforced for administrative roles (seed 000, 002).
 */
export class LoginService {
  constructor(private readonly options: LoginServiceOptions) {}

  async login(attempt: LoginAttempt): Promise<LoginOutcome> {
    const { outcome, userId } = await this.decide(attempt);
    this.options.recordAttempt(attempt, outcome, userId);
    return outcome;
  }

  private async decide(attempt: LoginAttempt): Promise<{ outcome: LoginOutcome; userId?: string }> {
    const { accounts, throttle } = this.options;
    const subject = {
      accountKey: accountThrottleKey(attempt.tenantId, attempt.email),
      ipKey: ipThrottleKey(attempt.ip),
    };
    const decision = await throttle.check(subject, attempt.now);
    if (decision.anomaly !== null) this.options.reportAnomaly(decision.anomaly, attempt.tenantId);
    if (!decision.allowed)
      return {
        outcome: { outcome: 'throttled', retryAfterSeconds: decision.retryAfterSeconds, reason: decision.reason! },
      };
    await throttle.recordAttempt(subject, attempt.now);

    const account = await accounts.findByEmail(attempt.tenantId, attempt.email);
    const passwordOk = await verifyPassword(account?.passwordHash ?? (await absentAccount()), attempt.password);
    if (account === undefined || !passwordOk) {
      await throttle.recordFailure(subject, attempt.now);
      return { outcome: { outcome: 'invalid_credentials' } };
    }
    const userId = account.id;

    if (account.totpSecret !== null) {
      if (attempt.totpCode === undefined || attempt.totpCode === '')
        return { outcome: { outcome: 'mfa_code_required' }, userId };
      if (canonicalRecoveryCode(attempt.totpCode) !== null) return this.redeem(account, attempt, subject);
      const verified = verifyTotp({
        secret: account.totpSecret,
        code: attempt.totpCode,
        lastUsedTimeStep: account.totpLastStep,
        now: attempt.now,
      });
      if (!verified.ok) {
        await throttle.recordFailure(subject, attempt.now);
        return { outcome: { outcome: 'invalid_credentials' }, userId };
      }
      if (!(await accounts.recordTotpStep(account.tenantId, account.id, verified.timeStep))) {
        // Another sign-in spent this code first (the check above read the step before it moved).
        await throttle.recordFailure(subject, attempt.now);
        return { outcome: { outcome: 'invalid_credentials' }, userId };
      }
      await throttle.recordSuccess(subject);
      return { outcome: { outcome: 'authenticated', userId, amr: ['pwd', 'otp'] }, userId };
    }

    if (mfaRequiredFor(account.roles, account.permissions)) {
      // Enrolment is confirmed by a first code of the pending secret, sent with the password again.
      if (account.totpPendingSecret !== null && attempt.totpCode !== undefined && attempt.totpCode !== '') {
        const verified = verifyTotp({
          secret: account.totpPendingSecret,
          code: attempt.totpCode,
          lastUsedTimeStep: null,
          now: attempt.now,
        });
        if (verified.ok) {
          const recovery = await generateRecoveryCodes(this.options.recoveryCodeHasher);
          await accounts.confirmTotp(account.tenantId, account.id, verified.timeStep, recovery.stored);
          await throttle.recordSuccess(subject);
          const enrolledMfa = { recoveryCodes: recovery.codes };
          return { outcome: { outcome: 'authenticated', userId, amr: ['pwd', 'otp'], enrolledMfa }, userId };
        }
        await throttle.recordFailure(subject, attempt.now);
        return { outcome: { outcome: 'invalid_credentials' }, userId };
      }
      const enrolment = createTotpEnrolment(account.email);
      await accounts.savePendingTotp(account.tenantId, account.id, enrolment.secret);
      return { outcome: { outcome: 'mfa_enrolment_required', otpauthUri: enrolment.otpauthUri }, userId };
    }

    await throttle.recordSuccess(subject);
    return { outcome: { outcome: 'authenticated', userId, amr: ['pwd'] }, userId };
  }

  /** A recovery code in place of the TOTP code: single use, redeemed with a compare-and-set. */
  private async redeem(
    account: LoginAccount,
    attempt: LoginAttempt,
    subject: LoginSubject,
  ): Promise<{ outcome: LoginOutcome; userId?: string }> {
    const { accounts, throttle, recoveryCodeHasher } = this.options;
    const userId = account.id;
    const redemption = await redeemRecoveryCode(
      recoveryCodeHasher,
      account.recoveryCodes,
      attempt.totpCode!,
      attempt.now,
    );
    const saved =
      redemption.ok &&
      (await accounts.replaceRecoveryCodes(account.tenantId, userId, account.recoveryCodes, redemption.stored));
    if (!redemption.ok || !saved) {
      await throttle.recordFailure(subject, attempt.now);
      return { outcome: { outcome: 'invalid_credentials' }, userId };
    }
    await throttle.recordSuccess(subject);
    const recoveryCodesRemaining = redemption.remaining;
    return { outcome: { outcome: 'authenticated', userId, amr: ['pwd', 'otp'], recoveryCodesRemaining }, userId };
  }
}
