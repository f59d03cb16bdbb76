import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { Module } from '@nestjs/common';
import { changeCardPin, ROLE_PERMISSIONS, registerCard, unlockCard, verifyCardPin } from '@strongroom/contracts';
import { BusClient } from '@strongroom/platform';
import { CardsHandler } from '../src/cards/cards.handler';
import { cardsProviders } from '../src/cards/cards.providers';
import { ServiceTokensModule } from '../src/service-tokens/service-tokens.module';
import { JwksHandler } from '../src/signing-keys/jwks.handler';
import { SigningKeyStore } from '../src/signing-keys/signing-key-store';
import { about, auditOutbox, readAuditStream } from './support/audit-stream';
import { type AuthSlice, startAuthSlice } from './support/auth-slice';

// bcrypt at cost 12 is ~250 ms a call on one core: ten racing PINs queue behind each other.
const REQUEST_TIMEOUT_MS = 30_000;
const PIN = '2580';
const WRONG_PIN = '1357';

@Module({
  imports: [ServiceTokensModule],
  controllers: [JwksHandler, CardsHandler],
  providers: [SigningKeyStore, ...cardsProviders],
})
class CardsSliceModule {}

describe('card PINs (real mTLS bus, real Postgres, bcrypt cost 12)', () => {
  const tenantId = randomUUID();
  const otherTenantId = randomUUID();
  let slice: AuthSlice;
  let bus: BusClient;
  let admin: string;
  let partnerUser: string;
  // Every card number and PIN sent, to search the database for afterwards.
  const sentNumbers: string[] = [];
  const sentPins = new Set<string>();

  async function register(cardNumber: string, credential = partnerUser) {
    sentNumbers.push(cardNumber);
    sentPins.add(PIN);
    return bus.request(registerCard, { tenantId, cardNumber, pin: PIN, ownerUserId: 'farmer-7' }, { credential });
  }

  function verify(cardId: string, pin: string, credential = partnerUser, tenant = tenantId) {
    sentPins.add(pin);
    return bus.request(verifyCardPin, { tenantId: tenant, cardId, pin }, { credential });
  }

  beforeAll(async () => {
    slice = await startAuthSlice({ label: 'cards', module: CardsSliceModule });
    // The gateway forwards its clients' credentials: these calls come over its connection.
    bus = new BusClient(await slice.connect('gateway'), { defaultTimeoutMs: REQUEST_TIMEOUT_MS });
    admin = await slice.userToken({
      tenantId,
      permissions: ROLE_PERMISSIONS.partner_admin,
      subject: 'partner-admin-1',
    });
    partnerUser = await slice.userToken({
      tenantId,
      permissions: ROLE_PERMISSIONS.partner_user,
      subject: 'partner-user-1',
    });
  });

  afterAll(async () => {
    await slice?.stop();
  });

  it('locks a card on the third wrong PIN, refuses even the right one, and works again once an admin unlocks it', async () => {
    const card = await register('4111 1111 1111 1111');
    expect(card).toEqual({
      cardId: expect.any(String),
      tenantId,
      ownerUserId: 'farmer-7',
      last4: '1111',
      locked: false,
      createdAt: expect.any(String),
    });
    await expect(verify(card.cardId, PIN)).resolves.toEqual({ outcome: 'accepted' });

    await expect(verify(card.cardId, WRONG_PIN)).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
      details: { reason: 'wrong_pin', attemptsRemaining: 2 },
    });
    await expect(verify(card.cardId, WRONG_PIN)).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
      details: { reason: 'wrong_pin', attemptsRemaining: 1 },
    });
    await expect(verify(card.cardId, WRONG_PIN)).rejects.toMatchObject({
      code: 'FORBIDDEN',
      details: { reason: 'card_locked' },
    });
    await expect(verify(card.cardId, PIN)).rejects.toMatchObject({
      code: 'FORBIDDEN',
      details: { reason: 'card_locked' },
    });

    const unlocked = await bus.request(unlockCard, { tenantId, cardId: card.cardId }, { credential: admin });
    expect(unlocked).toMatchObject({ cardId: card.cardId, locked: false, last4: '1111' });
    await expect(verify(card.cardId, PIN)).resolves.toEqual({ outcome: 'accepted' });

    const { rows } = await slice.superuser.query(
      'SELECT subject, payload FROM outbox WHERE payload->>$1 = $2 ORDER BY seq',
      ['cardId', card.cardId],
    );
    expect(rows.map((row: { subject: string }) => row.subject)).toEqual([
      'evt.auth.v1.cards.locked',
      'evt.auth.v1.cards.unlocked',
    ]);
    expect(rows[0].payload).toMatchObject({ consecutiveFailures: 3, actor: 'partner-user-1', tenantId });
    expect(rows[1].payload).toMatchObject({ actor: 'partner-admin-1', tenantId });

    // The audit trail, written with each change: registration, the three wrong PINs, the lock, the unlock.
    const written = (await auditOutbox(slice.superuser, 'auth')).filter(about(card.cardId));
    expect(written.map((event) => [event.action, event.outcome, event.reason ?? null, event.actor.id])).toEqual([
      ['auth.card.register', 'success', null, 'partner-user-1'],
      ['auth.card.verify-pin', 'failure', 'wrong_pin', 'partner-user-1'],
      ['auth.card.verify-pin', 'failure', 'wrong_pin', 'partner-user-1'],
      ['auth.card.verify-pin', 'failure', 'wrong_pin', 'partner-user-1'],
      ['auth.card.lock', 'success', null, 'auth'],
      ['auth.card.unlock', 'success', null, 'partner-admin-1'],
    ]);
    for (const event of written) expect(event).toMatchObject({ tenantId, requestId: expect.any(String) });
    // The right PIN on the locked card changed nothing: its refusal was published.
    const published = await readAuditStream(await slice.connect('audit'), {
      emitter: 'auth',
      done: (events) => events.some(about(card.cardId)),
    });
    expect(published.filter(about(card.cardId))).toEqual([
      expect.objectContaining({ action: 'auth.card.verify-pin', outcome: 'denied', reason: 'card_locked' }),
    ]);
  });

  it('counts ten concurrent wrong PINs one by one: the card locks exactly once, never past three', async () => {
    const card = await register('5555 5555 5555 4444');
    const outcomes = await Promise.all(
      Array.from({ length: 10 }, () =>
        verify(card.cardId, WRONG_PIN).then(
          () => 'accepted',
          (error: { code: string; details?: { reason?: string } }) => `${error.code}/${error.details?.reason}`,
        ),
      ),
    );
    expect(outcomes.filter((outcome) => outcome === 'UNAUTHENTICATED/wrong_pin')).toHaveLength(2);
    expect(outcomes.filter((outcome) => outcome === 'FORBIDDEN/card_locked')).toHaveLength(8);
    const { rows } = await slice.superuser.query('SELECT consecutive_failures, locked_at FROM cards WHERE id = $1', [
      card.cardId,
    ]);
    expect(rows[0].consecutive_failures).toBe(3);
    expect(rows[0].locked_at).not.toBeNull();
    const locked = await slice.superuser.query(
      "SELECT count(*)::int AS n FROM outbox WHERE subject = 'evt.auth.v1.cards.locked' AND payload->>'cardId' = $1",
      [card.cardId],
    );
    expect(locked.rows[0].n).toBe(1);
    await expect(verify(card.cardId, PIN)).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });

  it('changes a PIN only for the holder of the current one, and a wrong current PIN counts as an attempt', async () => {
    const card = await register('4000 0566 5566 5556');
    sentPins.add('8024');
    await expect(
      bus.request(
        changeCardPin,
        { tenantId, cardId: card.cardId, pin: WRONG_PIN, newPin: '8024' },
        { credential: partnerUser },
      ),
    ).rejects.toMatchObject({ code: 'UNAUTHENTICATED', details: { reason: 'wrong_pin', attemptsRemaining: 2 } });
    await expect(
      bus.request(
        changeCardPin,
        { tenantId, cardId: card.cardId, pin: PIN, newPin: '0000' },
        { credential: partnerUser },
      ),
    ).rejects.toMatchObject({ code: 'VALIDATION', details: { reason: 'weak_pin', violations: ['repeated_digit'] } });
    await expect(
      bus.request(
        changeCardPin,
        { tenantId, cardId: card.cardId, pin: PIN, newPin: '8024' },
        { credential: partnerUser },
      ),
    ).resolves.toEqual({ outcome: 'changed' });
    await expect(verify(card.cardId, PIN)).rejects.toMatchObject({
      details: { reason: 'wrong_pin', attemptsRemaining: 2 },
    });
    await expect(verify(card.cardId, '8024')).resolves.toEqual({ outcome: 'accepted' });
  });

  it('lets only an admin unlock: a partner user is FORBIDDEN', async () => {
    const card = await register('3782 822463 10005');
    await expect(
      bus.request(unlockCard, { tenantId, cardId: card.cardId }, { credential: partnerUser }),
    ).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(ROLE_PERMISSIONS.partner_user).not.toContain('auth.cards.unlock');
    expect(ROLE_PERMISSIONS.viewer).not.toContain('auth.cards.verify-pin');
  });

  it("answers another tenant's principal NOT_FOUND, whichever tenant it names", async () => {
    const card = await register('6011 1111 1111 1117');
    const outsider = await slice.userToken({
      tenantId: otherTenantId,
      permissions: ROLE_PERMISSIONS.partner_admin,
      subject: 'outsider',
    });
    await expect(verify(card.cardId, PIN, outsider)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(verify(card.cardId, WRONG_PIN, outsider, otherTenantId)).rejects.toMatchObject({
      code: 'NOT_FOUND',
      details: { reason: 'not_found' },
    });
    await expect(
      bus.request(unlockCard, { tenantId: otherTenantId, cardId: card.cardId }, { credential: outsider }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
    // None of that counted against the card.
    const { rows } = await slice.superuser.query('SELECT consecutive_failures FROM cards WHERE id = $1', [card.cardId]);
    expect(rows[0].consecutive_failures).toBe(0);
  });

  it('refuses a number failing Luhn and the same card twice, without echoing the number', async () => {
    const refusal = await register('4111 1111 1111 1112').catch((error: unknown) => error);
    expect(refusal).toMatchObject({ code: 'VALIDATION', details: { reason: 'invalid_card_number' } });
    expect(JSON.stringify(refusal)).not.toContain('1112');
    await expect(register('4111-1111-1111-1111')).rejects.toMatchObject({
      code: 'CONFLICT',
      details: { reason: 'card_already_registered' },
    });
  });

  it('keeps neither card numbers nor PINs in clear anywhere in the database or the outbox', async () => {
    expect(sentNumbers.length).toBeGreaterThanOrEqual(6);
    const dump: string[] = [];
    for (const table of ['cards', 'outbox']) {
      const { rows } = await slice.superuser.query(`SELECT * FROM ${table}`);
      dump.push(JSON.stringify(rows));
    }
    const everything = dump.join('\n');
    for (const number of sentNumbers) {
      const digits = number.replace(/[\s-]/g, '');
      expect(everything).not.toContain(digits);
      expect(everything).not.toContain(number);
      // Nor the first twelve digits (everything but the last4 kept for display).
      expect(everything).not.toContain(digits.slice(0, 12));
    }
    const { rows } = await slice.superuser.query('SELECT * FROM cards');
    expect(rows.length).toBe(5); // the Luhn-failing and the duplicate registrations stored nothing
    for (const row of rows) {
      expect(row.card_ref).toMatch(/^tk1\.card_number\.\d+\./);
      expect(row.pin_hash).toMatch(/^\$2[aby]\$12\$/);
      for (const pin of sentPins) expect(Object.values(row)).not.toContain(pin);
    }
    const outbox = await slice.superuser.query("SELECT payload FROM outbox WHERE subject LIKE 'evt.auth.v1.cards.%'");
    expect(outbox.rows.length).toBeGreaterThanOrEqual(3);
    for (const { payload } of outbox.rows) {
      expect(Object.keys(payload)).toEqual(expect.not.arrayContaining(['pin', 'newPin', 'cardNumber', 'last4']));
      for (const pin of sentPins) expect(Object.values(payload)).not.toContain(pin);
    }
  });

  it('shows the runtime role no card outside a tenant context, and grants it no DELETE', async () => {
    expect(await slice.dataSource.query('SELECT id FROM cards')).toEqual([]);
    await expect(slice.dataSource.query('DELETE FROM cards')).rejects.toThrow(/permission denied/);
  });
});
