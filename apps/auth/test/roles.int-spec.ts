import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { Module } from '@nestjs/common';
import {
  createRole,
  deleteRole,
  listMemberships,
  listRoles,
  ROLE_PERMISSIONS,
  revokeTokens,
  setUserRoles,
  updateRole,
} from '@strongroom/contracts';
import { BusClient } from '@strongroom/platform';
import type { NatsConnection } from 'nats';
import { AuthAuditPublisher } from '../src/auth-audit';
import { MembershipsHandler } from '../src/memberships/memberships.handler';
import { MembershipsRepository } from '../src/memberships/memberships.repository';
import { TokenRevocationsHandler } from '../src/revocations/token-revocations.handler';
import { TokenRevocationsRepository } from '../src/revocations/token-revocations.repository';
import { CustomRolesRepository } from '../src/roles/custom-roles.repository';
import { RolesHandler } from '../src/roles/roles.handler';
import { ServiceTokensModule } from '../src/service-tokens/service-tokens.module';
import { JwksHandler } from '../src/signing-keys/jwks.handler';
import { SigningKeyStore } from '../src/signing-keys/signing-key-store';
import { about, readAuditStream, readStream } from './support/audit-stream';
import { type AuthSlice, startAuthSlice } from './support/auth-slice';

@Module({
  imports: [ServiceTokensModule],
  controllers: [JwksHandler, RolesHandler, MembershipsHandler, TokenRevocationsHandler],
  providers: [
    SigningKeyStore,
    AuthAuditPublisher,
    CustomRolesRepository,
    MembershipsRepository,
    TokenRevocationsRepository,
  ],
})
class RolesSliceModule {}

const ARGON2_PLACEHOLDER = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNo';

describe('roles and memberships (real mTLS bus, real Postgres, revocations through JetStream)', () => {
  const tenantId = randomUUID();
  const otherTenantId = randomUUID();
  let slice: AuthSlice;
  let bus: BusClient;
  let admin: string;
  let otherAdmin: string;
  /** The audit service's identity, which reads every stream. */
  let auditReader: NatsConnection;

  async function insertUser(roles: string[], tenant = tenantId): Promise<string> {
    const id = randomUUID();
    await slice.superuser.query(
      'INSERT INTO users (id, tenant_id, email, password_hash, roles) VALUES ($1, $2, $3, $4, $5)',
      [id, tenant, `${id}@roles.test`, ARGON2_PLACEHOLDER, roles],
    );
    return id;
  }

  /**
   * The `count` events of `subject` whose `key` is `value`, and any more that came, as the relay
   * published them to EVT_AUTH (read from the stream: the relay may delete the outbox rows it published).
   */
  async function eventsOf(subject: string, key: string, value: string, count = 1) {
    const matching = (payloads: readonly Record<string, unknown>[]) =>
      payloads.filter((payload) => payload[key] === value);
    return matching(
      await readStream(auditReader, {
        stream: 'EVT_AUTH',
        subject,
        parse: (payload) => [payload as Record<string, unknown>],
        done: (payloads) => matching(payloads).length >= count,
        thenOneMoreFetch: true,
      }),
    );
  }

  /** Sorted: a relayed change and a refusal published directly reach the stream in either order. */
  const outcomesOf = (events: ReadonlyArray<{ action: string; outcome: string; reason?: string | undefined }>) =>
    events.map((event) => [event.action, event.outcome, event.reason].filter(Boolean).join(' ')).sort();

  /** Auth's audit events about `resourceId` on the AUDIT stream: written with a change (relayed) or published for a refusal. */
  function auditAbout(resourceId: string, count: number) {
    return readAuditStream(auditReader, {
      emitter: 'auth',
      done: (events) => events.filter(about(resourceId)).length >= count,
      thenOneMoreFetch: true,
    }).then((events) => events.filter(about(resourceId)));
  }

  /** Polls every 10 ms until `credential` is refused; the milliseconds it took. */
  async function msUntilRefused(credential: string, sinceMs: number): Promise<number> {
    for (;;) {
      try {
        await bus.request(listRoles, { tenantId }, { credential });
      } catch (error) {
        expect(error).toMatchObject({ code: 'UNAUTHENTICATED' });
        return Date.now() - sinceMs;
      }
      if (Date.now() - sinceMs > 5_000) throw new Error('the token still works after 5 s');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  beforeAll(async () => {
    slice = await startAuthSlice({ label: 'roles', module: RolesSliceModule, outboxRelay: true });
    bus = new BusClient(await slice.connect('gateway'), { defaultTimeoutMs: 10_000 });
    auditReader = await slice.connect('audit');
    admin = await slice.userToken({ tenantId, permissions: ROLE_PERMISSIONS.admin, subject: 'admin-a' });
    otherAdmin = await slice.userToken({
      tenantId: otherTenantId,
      permissions: ROLE_PERMISSIONS.admin,
      subject: 'admin-b',
    });
  });

  afterAll(async () => {
    await slice?.stop();
  });

  it('defines a custom role, lists it after the predefined ones, and audits the creation', async () => {
    const created = await bus.request(
      createRole,
      { tenantId, name: 'auditor', description: 'Reads the audit trail', permissions: ['audit.records.read'] },
      { credential: admin },
    );
    expect(created).toMatchObject({ name: 'auditor', kind: 'custom', permissions: ['audit.records.read'] });
    const { roles } = await bus.request(listRoles, { tenantId }, { credential: admin });
    expect(roles.map((role) => role.name)).toEqual([
      'super_admin',
      'partner_admin',
      'partner_user',
      'farmer',
      'dealer',
      'admin',
      'developer',
      'viewer',
      'auditor',
    ]);
    expect(await eventsOf('evt.auth.v1.roles.created', 'name', 'auditor')).toEqual([
      expect.objectContaining({ tenantId, actor: 'admin-a', permissions: ['audit.records.read'] }),
    ]);
    expect(await auditAbout('auditor', 1)).toEqual([
      expect.objectContaining({
        tenantId,
        action: 'auth.role.create',
        outcome: 'success',
        actor: { type: 'user', id: 'admin-a' },
        resource: { type: 'role', id: 'auditor' },
        details: { permissions: ['audit.records.read'] },
      }),
    ]);
  });

  it('refuses a taken name, a predefined name, and a permission the caller does not hold', async () => {
    await expect(
      bus.request(
        createRole,
        { tenantId, name: 'auditor', permissions: ['ledger.accounts.read'] },
        { credential: admin },
      ),
    ).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(
      bus.request(
        createRole,
        { tenantId, name: 'admin', permissions: ['ledger.accounts.read'] },
        { credential: admin },
      ),
    ).rejects.toMatchObject({ code: 'VALIDATION' });
    await expect(
      bus.request(
        createRole,
        { tenantId, name: 'tenant_maker', permissions: ['tenants.tenants.create'] },
        { credential: admin },
      ),
    ).rejects.toMatchObject({ code: 'FORBIDDEN', details: { permissions: ['tenants.tenants.create'] } });
    const viewer = await slice.userToken({ tenantId, permissions: ROLE_PERMISSIONS.viewer, subject: 'viewer-a' });
    await expect(
      bus.request(
        createRole,
        { tenantId, name: 'reader', permissions: ['ledger.accounts.read'] },
        { credential: viewer },
      ),
    ).rejects.toMatchObject({ code: 'FORBIDDEN' });
    // The taken name rolled its transaction back: still the one creation of `auditor`, and its refusal published.
    expect(outcomesOf(await auditAbout('auditor', 2))).toEqual([
      'auth.role.create failure CONFLICT',
      'auth.role.create success',
    ]);
    expect(await auditAbout('tenant_maker', 1)).toEqual([
      expect.objectContaining({
        action: 'auth.role.create',
        outcome: 'denied',
        reason: 'FORBIDDEN',
        actor: { type: 'user', id: 'admin-a' },
      }),
    ]);
  });

  it('never shows or changes another tenant’s roles or users (NOT_FOUND)', async () => {
    const userOfA = await insertUser(['viewer']);
    await expect(bus.request(listRoles, { tenantId }, { credential: otherAdmin })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    await expect(
      bus.request(
        updateRole,
        { tenantId, name: 'auditor', permissions: ['audit.records.read'] },
        { credential: otherAdmin },
      ),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(
      bus.request(listMemberships, { tenantId, limit: 50 }, { credential: otherAdmin }),
    ).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    // B's admin naming its own tenant: A's user and A's role are simply not there (RLS).
    await expect(
      bus.request(
        setUserRoles,
        { tenantId: otherTenantId, userId: userOfA, roles: ['viewer'] },
        { credential: otherAdmin },
      ),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(
      bus.request(deleteRole, { tenantId: otherTenantId, name: 'auditor' }, { credential: otherAdmin }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const { roles } = await bus.request(listRoles, { tenantId: otherTenantId }, { credential: otherAdmin });
    expect(roles.some((role) => role.name === 'auditor')).toBe(false);
  });

  it('sets a user’s roles, custom ones included, refusing unknown roles and roles beyond the caller', async () => {
    const userId = await insertUser(['viewer']);
    const set = await bus.request(
      setUserRoles,
      { tenantId, userId, roles: ['viewer', 'auditor'] },
      { credential: admin },
    );
    expect(set).toMatchObject({ userId, roles: ['viewer', 'auditor'], usersAffected: 0, tokensRevokedAt: null });
    await expect(
      bus.request(setUserRoles, { tenantId, userId, roles: ['ghost_role'] }, { credential: admin }),
    ).rejects.toMatchObject({ code: 'VALIDATION', details: { roles: ['ghost_role'] } });
    await expect(
      bus.request(setUserRoles, { tenantId, userId, roles: ['super_admin'] }, { credential: admin }),
    ).rejects.toMatchObject({ code: 'FORBIDDEN' });
    // Nobody narrows a user holding more than they do: a developer-level manager cannot demote an admin.
    const adminUser = await insertUser(['admin']);
    const manager = await slice.userToken({
      tenantId,
      permissions: [...ROLE_PERMISSIONS.viewer, 'auth.memberships.update'],
      subject: 'manager-a',
    });
    await expect(
      bus.request(setUserRoles, { tenantId, userId: adminUser, roles: ['viewer'] }, { credential: manager }),
    ).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(await eventsOf('evt.auth.v1.memberships.changed', 'userId', userId)).toEqual([
      expect.objectContaining({ actor: 'admin-a', rolesBefore: ['viewer'], roles: ['viewer', 'auditor'] }),
    ]);
    // One change recorded, with it; the refused ones rolled back and were published as refusals.
    const audited = await auditAbout(userId, 3);
    expect(outcomesOf(audited)).toEqual([
      'auth.membership.change denied FORBIDDEN',
      'auth.membership.change failure VALIDATION',
      'auth.membership.change success',
    ]);
    expect(audited.find((event) => event.outcome === 'success')).toMatchObject({
      actor: { type: 'user', id: 'admin-a' },
      details: { rolesBefore: ['viewer'], roles: ['viewer', 'auditor'], accessTokensRevoked: false },
    });
    expect(await auditAbout(adminUser, 1)).toEqual([
      expect.objectContaining({ outcome: 'denied', actor: { type: 'user', id: 'manager-a' } }),
    ]);
  });

  it('revokes a user’s existing tokens everywhere within 1 s when a role is removed, keeping its refresh grants', async () => {
    const userId = await insertUser(['viewer', 'auditor']);
    const grantId = randomUUID();
    await slice.superuser.query(
      "INSERT INTO oidc_payloads (model, id_digest, payload, grant_id, expires_at) VALUES ('RefreshToken', $1, $2::jsonb, $1, now() + interval '1 day')",
      [grantId, JSON.stringify({ accountId: userId, clientId: 'web', grantId })],
    );
    const token = await slice.userToken({ tenantId, permissions: ['auth.roles.read'], subject: userId });
    await expect(bus.request(listRoles, { tenantId }, { credential: token })).resolves.toBeDefined();
    const startedAt = Date.now();
    const changed = await bus.request(setUserRoles, { tenantId, userId, roles: ['viewer'] }, { credential: admin });
    expect(changed).toMatchObject({ usersAffected: 1, tokensRevokedAt: expect.any(String) });
    const latencyMs = await msUntilRefused(token, startedAt);
    process.stdout.write(`role removal → token refused in ${latencyMs} ms\n`);
    expect(latencyMs).toBeLessThan(1_000);
    expect(await eventsOf('evt.auth.v1.tokens.revoked', 'subject', userId)).toEqual([
      { scope: 'subject', subject: userId, revokedAt: changed.tokensRevokedAt, expiresAt: expect.any(String) },
    ]);
    const { rows } = await slice.superuser.query('SELECT access_changed_at FROM users WHERE id = $1', [userId]);
    expect(rows[0].access_changed_at.toISOString()).toBe(changed.tokensRevokedAt);
    const grants = await slice.superuser.query("SELECT 1 FROM oidc_payloads WHERE payload->>'accountId' = $1", [
      userId,
    ]);
    expect(grants.rowCount).toBe(1);
  });

  it('revokes every holder when a custom role loses a permission, and nobody when it gains one', async () => {
    await bus.request(
      createRole,
      { tenantId, name: 'teller', permissions: ['ledger.transfers.read', 'ledger.transfers.create'] },
      { credential: admin },
    );
    const holders = [await insertUser(['teller']), await insertUser(['viewer', 'teller'])];
    const bystander = await insertUser(['viewer']);
    const tokens = await Promise.all(
      holders.map((subject) => slice.userToken({ tenantId, permissions: ['auth.roles.read'], subject })),
    );
    const bystanderToken = await slice.userToken({ tenantId, permissions: ['auth.roles.read'], subject: bystander });

    const widened = await bus.request(
      updateRole,
      {
        tenantId,
        name: 'teller',
        permissions: ['ledger.transfers.read', 'ledger.transfers.create', 'ledger.accounts.read'],
      },
      { credential: admin },
    );
    expect(widened).toMatchObject({ usersAffected: 0, tokensRevokedAt: null });

    const startedAt = Date.now();
    const narrowed = await bus.request(
      updateRole,
      { tenantId, name: 'teller', permissions: ['ledger.transfers.read'] },
      { credential: admin },
    );
    expect(narrowed).toMatchObject({ permissions: ['ledger.transfers.read'], usersAffected: 2 });
    for (const token of tokens) expect(await msUntilRefused(token, startedAt)).toBeLessThan(1_000);
    await expect(bus.request(listRoles, { tenantId }, { credential: bystanderToken })).resolves.toBeDefined();
    expect(await eventsOf('evt.auth.v1.roles.updated', 'name', 'teller', 2)).toEqual([
      expect.objectContaining({ permissionsRemoved: [], usersAffected: 0 }),
      expect.objectContaining({
        permissionsRemoved: ['ledger.accounts.read', 'ledger.transfers.create'],
        usersAffected: 2,
      }),
    ]);
  });

  it('refuses to delete a role while anyone holds it (CONFLICT), deletes it once nobody does', async () => {
    await bus.request(
      createRole,
      { tenantId, name: 'temp_role', permissions: ['kyc.cases.read'] },
      { credential: admin },
    );
    const holder = await insertUser(['temp_role']);
    await expect(bus.request(deleteRole, { tenantId, name: 'temp_role' }, { credential: admin })).rejects.toMatchObject(
      {
        code: 'CONFLICT',
        details: { users: 1, invitations: 0 },
      },
    );
    await bus.request(setUserRoles, { tenantId, userId: holder, roles: ['viewer'] }, { credential: admin });
    await expect(
      bus.request(deleteRole, { tenantId, name: 'temp_role' }, { credential: admin }),
    ).resolves.toMatchObject({
      name: 'temp_role',
    });
    await expect(bus.request(deleteRole, { tenantId, name: 'temp_role' }, { credential: admin })).rejects.toMatchObject(
      {
        code: 'NOT_FOUND',
      },
    );
    await expect(
      bus.request(setUserRoles, { tenantId, userId: holder, roles: ['temp_role'] }, { credential: admin }),
    ).rejects.toMatchObject({ code: 'VALIDATION' });
    expect(await eventsOf('evt.auth.v1.roles.deleted', 'name', 'temp_role')).toHaveLength(1);
  });

  it('pages through a tenant’s users with their roles, never another tenant’s', async () => {
    await insertUser(['viewer'], otherTenantId);
    const seen: string[] = [];
    let after: string | undefined;
    for (let pages = 0; pages < 20; pages++) {
      const page = await bus.request(
        listMemberships,
        { tenantId, limit: 2, ...(after ? { after } : {}) },
        { credential: admin },
      );
      expect(page.users.length).toBeLessThanOrEqual(2);
      for (const user of page.users) {
        expect(user.tenantId).toBe(tenantId);
        expect(user).not.toHaveProperty('passwordHash');
        seen.push(user.userId);
      }
      if (page.next === undefined) break;
      after = page.next;
    }
    const { rows } = await slice.superuser.query('SELECT id FROM users WHERE tenant_id = $1 ORDER BY id', [tenantId]);
    expect(seen).toEqual(rows.map((row: { id: string }) => row.id));
  });

  it("revokes a whole tenant's grants and sign-in sessions, and no other tenant's", async () => {
    // Last: the tenant-wide revocation ends every token of the tenant issued so far, the admin's too.
    const store = async (model: string, payload: object) => {
      const id = randomUUID();
      await slice.superuser.query(
        "INSERT INTO oidc_payloads (model, id_digest, payload, expires_at) VALUES ($1, $2, $3::jsonb, now() + interval '1 day')",
        [model, id, JSON.stringify(payload)],
      );
    };
    const [mine, theirs] = [await insertUser(['viewer']), await insertUser(['viewer'], otherTenantId)];
    // A session names its user only (accountId): it would hand out fresh codes after the revocation.
    await store('Session', { accountId: mine });
    await store('Session', { accountId: theirs });
    const left = async (accountId: string) =>
      (await slice.superuser.query("SELECT 1 FROM oidc_payloads WHERE payload->>'accountId' = $1", [accountId]))
        .rowCount;
    await bus.request(revokeTokens, { tenantId, targets: [{ scope: 'tenant' }] }, { credential: admin });
    expect(await left(mine)).toBe(0);
    expect(await left(theirs)).toBe(1);
    expect(await auditAbout(tenantId, 1)).toEqual([
      expect.objectContaining({
        action: 'auth.token.revoke',
        outcome: 'success',
        actor: { type: 'user', id: 'admin-a' },
        resource: { type: 'tenant', id: tenantId },
        details: { scope: 'tenant', grantsRevoked: expect.any(Number) },
      }),
    ]);
  });
});
