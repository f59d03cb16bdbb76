import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AuditEventInput, auditEventSchema, permissionsOfRoles } from '@strongroom/contracts';
import { createLogger, LocalSecretsProvider, PepperedHasher } from '@strongroom/platform';
import type { LoginAccount, LoginAccounts } from '../src/login/login-accounts';
import { loginAuditEvents, loginRecordOf } from '../src/login/login-audit';
import { LoginService } from '../src/login/login-service';
import type { StoredRecoveryCode } from '../src/mfa/recovery-codes';
import { totpCodeAt } from '../src/mfa/totp';
import { hashPassword } from '../src/passwords/password-hashing';
import { InMemoryAttemptStore } from '../src/throttling/attempt-store';
import { LoginThrottle } from '../src/throttling/login-throttle';

const tenantId = '5b1d8a0e-2f43-4c6a-9d1e-0a1b2c3d4e5f';
const password = 'correct horse battery staple';

class InMemoryAccounts implements LoginAccounts {
  readonly accounts = new Map<string, LoginAccount>();
  async findByEmail(_tenantId: string, email: string) {
    const account = this.accounts.get(email);
    return account === undefined ? undefined : { ...account };
  }
  async savePendingTotp(_tenantId: string, userId: string, secret: string) {
    this.byId(userId).totpPendingSecret = secret;
  }
  async confirmTotp(_tenantId: string, userId: string, timeStep: number, recoveryCodes: StoredRecoveryCode[]) {
    const account = this.byId(userId);
    account.totpSecret = account.totpPendingSecret;
    account.totpPendingSecret = null;
    account.totpLastStep = timeStep;
    account.recoveryCodes = recoveryCodes;
  }
  async replaceRecoveryCodes(
    _tenantId: string,
    userId: string,
    expected: StoredRecoveryCode[],
    next: StoredRecoveryCode[],
  ) {
    const account = this.byId(userId);
    if (JSON.stringify(account.recoveryCodes) !== JSON.stringify(expected)) return false;
    account.recoveryCodes = next;
    return true;
  }
  async recordTotpStep(_tenantId: string, userId: string, timeStep: number) {
    const account = this.byId(userId);
    if (account.totpLastStep !== null && account.totpLastStep >= timeStep) return false;
    account.totpLastStep = timeStep;
    return true;
  }
  private byId(id: string) {
    return [...this.accounts.values()].find((account) => account.id === id)!;
  }
}

const stateDir = mkdtempSync(join(tmpdir(), 'strongroom-login-'));
const logger = createLogger({ service: 'auth', level: 'silent' });
afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

describe('login (password, TOTP, throttle)', () => {
  let accounts: InMemoryAccounts;
  let service: LoginService;
  const anomalies: string[] = [];
  let records: Array<ReturnType<typeof loginRecordOf>> = [];
  let audit: AuditEventInput[] = [];
  const ORIGIN = { requestId: 'req-login', userAgent: 'Mozilla/5.0 (test)' };
  const now = new Date('2026-11-25T12:00:00Z');
  const attempt = (email: string, overrides: Partial<Parameters<LoginService['login']>[0]> = {}) =>
    service.login({ tenantId, email, password, totpCode: undefined, ip: '198.51.100.7', now, ...overrides });

  beforeEach(async () => {
    records = [];
    audit = [];
    accounts = new InMemoryAccounts();
    const passwordHash = await hashPassword(password);
    for (const [email, roles] of [
      ['officer@mfi.test', ['partner_user']],
      ['admin@mfi.test', ['admin']],
    ] as const) {
      accounts.accounts.set(email, {
        id: `user-${accounts.accounts.size}`,
        tenantId,
        email,
        passwordHash,
        roles: [...roles],
        permissions: permissionsOfRoles(roles),
        totpSecret: null,
        totpPendingSecret: null,
        totpLastStep: null,
        recoveryCodes: [],
      });
    }
    const store = new InMemoryAttemptStore({ retentionSeconds: 7_200, eventsPerKeyMax: 100, keysMax: 1_000 });
    service = new LoginService({
      accounts,
      recoveryCodeHasher: new PepperedHasher(new LocalSecretsProvider({ stateDir, logger, nodeEnv: 'test' }), {
        domain: 'mfa-recovery-code',
      }),
      throttle: new LoginThrottle(store),
      reportAnomaly: (anomaly) => anomalies.push(anomaly.kind),
      recordAttempt: (attempt, outcome, userId) => {
        records.push(loginRecordOf(attempt, outcome, userId));
        audit.push(...loginAuditEvents(attempt, outcome, userId, ORIGIN));
      },
    });
  });

  const summary = () => audit.map((event) => [event.action, event.outcome, event.reason ?? null, event.actor.type]);

  it('audits a success as the user, a wrong password and an unknown account as anonymous failures, a throttled one as denied', async () => {
    await attempt('officer@mfi.test');
    await attempt('officer@mfi.test', { password: 'wrong password here' });
    await attempt('nobody@mfi.test');
    // Five guesses from one address, then a sixth: refused before any password is checked.
    for (let i = 0; i < 6; i += 1) await attempt(`guess${i}@mfi.test`, { ip: '198.51.100.9' });
    expect(summary()).toEqual([
      ['auth.login.attempt', 'success', null, 'user'],
      ['auth.login.attempt', 'failure', 'invalid_credentials', 'anonymous'],
      ['auth.login.attempt', 'failure', 'invalid_credentials', 'anonymous'],
      ...Array.from({ length: 5 }, () => ['auth.login.attempt', 'failure', 'invalid_credentials', 'anonymous']),
      ['auth.login.attempt', 'denied', 'rate_limited_ip', 'anonymous'],
    ]);
    expect(audit[0]).toMatchObject({
      tenantId,
      actor: { type: 'user', id: 'user-0' },
      resource: { type: 'user', id: 'user-0' },
      requestId: 'req-login',
      userAgent: 'Mozilla/5.0 (test)',
      // The address the attempt came from, when the bus call carried none.
      sourceIp: '198.51.100.7',
      details: { amr: ['pwd'] },
    });
    // A wrong password and an unknown email alike name no account (and never the email).
    expect(audit[1]?.resource).toEqual({ type: 'user', id: 'unknown' });
    expect(audit[2]?.resource).toEqual({ type: 'user', id: 'unknown' });
    for (const event of audit) {
      expect(auditEventSchema.safeParse(event).success).toBe(true);
      expect(JSON.stringify(event)).not.toMatch(/@mfi\.test|correct horse|wrong password/);
    }
  });

  it('audits an MFA enrolment confirmed by a sign-in', async () => {
    await attempt('admin@mfi.test');
    const secret = accounts.accounts.get('admin@mfi.test')!.totpPendingSecret!;
    await attempt('admin@mfi.test', { totpCode: totpCodeAt(secret, now), ip: '203.0.113.30' });
    expect(summary()).toEqual([
      ['auth.login.attempt', 'failure', 'mfa_enrolment_required', 'anonymous'],
      ['auth.login.attempt', 'success', null, 'user'],
      ['auth.mfa.enrol', 'success', null, 'user'],
    ]);
    expect(audit[2]).toMatchObject({ resource: { type: 'user', id: 'user-1' }, details: { method: 'totp' } });
    expect(JSON.stringify(audit)).not.toContain(secret);
  });

  it('authenticates a user without MFA duty by password', async () => {
    await expect(attempt('officer@mfi.test')).resolves.toEqual({
      outcome: 'authenticated',
      userId: 'user-0',
      amr: ['pwd'],
    });
  });

  it('answers a wrong password and an unknown account alike', async () => {
    await expect(attempt('officer@mfi.test', { password: 'wrong password here' })).resolves.toEqual({
      outcome: 'invalid_credentials',
    });
    await expect(attempt('nobody@mfi.test')).resolves.toEqual({ outcome: 'invalid_credentials' });
  });

  it('throttles the 6th attempt on an account within a minute, with a truthful Retry-After', async () => {
    for (let i = 0; i < 5; i += 1)
      await attempt('officer@mfi.test', { password: `wrong password ${i}`, ip: `203.0.113.${i}` });
    const refused = await attempt('officer@mfi.test', { ip: '203.0.113.99' });
    expect(refused).toMatchObject({ outcome: 'throttled', reason: 'rate_limited_account' });
    expect((refused as { retryAfterSeconds: number }).retryAfterSeconds).toBeGreaterThan(0);
    const later = new Date(now.getTime() + 61_000 * 60);
    await expect(attempt('officer@mfi.test', { now: later, ip: '203.0.113.99' })).resolves.toMatchObject({
      outcome: 'authenticated',
    });
  });

  it('throttles one address trying many accounts', async () => {
    for (let i = 0; i < 5; i += 1) await attempt(`guess${i}@mfi.test`);
    await expect(attempt('officer@mfi.test')).resolves.toMatchObject({
      outcome: 'throttled',
      reason: 'rate_limited_ip',
    });
  });

  it('makes the holder of a custom role with an administrator-only permission enrol TOTP too', async () => {
    const officer = accounts.accounts.get('officer@mfi.test')!;
    accounts.accounts.set('officer@mfi.test', {
      ...officer,
      roles: ['user_manager'],
      permissions: new Set(['tenants.tenants.read', 'auth.memberships.update'] as const),
    });
    const enrolment = await attempt('officer@mfi.test');
    expect(enrolment.outcome).toBe('mfa_enrolment_required');
  });

  it('makes an administrator enrol TOTP: no login until a first code proves the new secret', async () => {
    const enrolment = await attempt('admin@mfi.test');
    expect(enrolment.outcome).toBe('mfa_enrolment_required');
    const secret = accounts.accounts.get('admin@mfi.test')!.totpPendingSecret!;
    expect((enrolment as { otpauthUri: string }).otpauthUri).toContain(`secret=${secret}`);
    await expect(attempt('admin@mfi.test', { totpCode: '000000', ip: '203.0.113.1' })).resolves.toEqual({
      outcome: 'invalid_credentials',
    });
    await expect(
      attempt('admin@mfi.test', { totpCode: totpCodeAt(secret, now), ip: '203.0.113.2' }),
    ).resolves.toMatchObject({ outcome: 'authenticated', amr: ['pwd', 'otp'] });
    expect(accounts.accounts.get('admin@mfi.test')!.totpSecret).toBe(secret);
  });

  it('gives ten recovery codes at enrolment; each stands in for a TOTP code once', async () => {
    await attempt('admin@mfi.test');
    const secret = accounts.accounts.get('admin@mfi.test')!.totpPendingSecret!;
    const enrolled = await attempt('admin@mfi.test', { totpCode: totpCodeAt(secret, now), ip: '203.0.113.20' });
    const codes = (enrolled as { enrolledMfa: { recoveryCodes: string[] } }).enrolledMfa.recoveryCodes;
    expect(codes).toHaveLength(10);
    expect(JSON.stringify(accounts.accounts.get('admin@mfi.test')!.recoveryCodes)).not.toContain(
      codes[0]!.replace('-', ''),
    );
    const later = new Date(now.getTime() + 120_000);
    await expect(
      attempt('admin@mfi.test', { totpCode: codes[0]!.toLowerCase(), ip: '203.0.113.21', now: later }),
    ).resolves.toMatchObject({ outcome: 'authenticated', recoveryCodesRemaining: 9 });
    await expect(attempt('admin@mfi.test', { totpCode: codes[0]!, ip: '203.0.113.22', now: later })).resolves.toEqual({
      outcome: 'invalid_credentials',
    });
  });

  it('asks an enrolled user for a code, refuses a replayed one, accepts the next', async () => {
    const account = accounts.accounts.get('officer@mfi.test')!;
    account.totpSecret = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
    await expect(attempt('officer@mfi.test')).resolves.toEqual({ outcome: 'mfa_code_required' });
    const code = totpCodeAt(account.totpSecret, now);
    await expect(attempt('officer@mfi.test', { totpCode: code, ip: '203.0.113.3' })).resolves.toMatchObject({
      outcome: 'authenticated',
    });
    await expect(attempt('officer@mfi.test', { totpCode: code, ip: '203.0.113.4' })).resolves.toEqual({
      outcome: 'invalid_credentials',
    });
  });

  it('lets one of two sign-ins racing with the same code through, never both', async () => {
    const account = accounts.accounts.get('officer@mfi.test')!;
    account.totpSecret = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
    const code = totpCodeAt(account.totpSecret, now);
    const outcomes = await Promise.all(
      ['203.0.113.5', '203.0.113.6'].map((ip) => attempt('officer@mfi.test', { totpCode: code, ip })),
    );
    expect(outcomes.map((outcome) => outcome.outcome).sort()).toEqual(['authenticated', 'invalid_credentials']);
  });

  it('records every attempt for the audit trail, without the email or any credential', async () => {
    await attempt('officer@mfi.test');
    await attempt('officer@mfi.test', { password: 'wrong password here', ip: '203.0.113.5' });
    await attempt('nobody@mfi.test', { ip: '203.0.113.6' });
    expect(records.map((record) => [record.outcome, record.reason, record.userId])).toEqual([
      ['succeeded', undefined, 'user-0'],
      ['failed', 'invalid_credentials', undefined],
      ['failed', 'invalid_credentials', undefined],
    ]);
    const serialised = JSON.stringify(records);
    expect(serialised).not.toContain('@mfi.test');
    expect(serialised).not.toContain(password);
  });
});
