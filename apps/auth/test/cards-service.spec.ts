import { randomUUID } from 'node:crypto';
import { type AuditEventInput, auditEventSchema } from '@strongroom/contracts';
import { CardError } from '../src/cards/card-errors';
import {
  type CardAudit,
  type CardCaller,
  type CardPinState,
  type CardRepository,
  CardsService,
  type NewCard,
  PIN_ATTEMPT_ROUNDS_MAX,
  type PinHashing,
  type StoredCard,
} from '../src/cards/cards.service';

const TENANT = randomUUID();
const CARD_NUMBER = '4242 4242 4242 4242';
const PIN = '2580';

/** A caller as the handler makes it: the credential's subject and the call's audit trail. */
const as = (subject: string): CardCaller => ({
  subject,
  trail: { actor: { type: 'user', id: subject }, origin: { requestId: `req-${subject}` } },
});

/** `cards` in memory with the compare-and-set of the Postgres repository; `find` yields so attempts interleave. */
class InMemoryCards implements CardRepository {
  readonly rows = new Map<string, StoredCard & { cardRef: string }>();
  readonly events: Array<{ subject: 'locked' | 'unlocked'; cardId: string; actor: string }> = [];
  /** The audit events written with the changes, as the outbox would hold them. */
  readonly audit: AuditEventInput[] = [];
  lostRounds = 0;
  alwaysLose = false;

  async insert(card: NewCard, knownRefs: readonly string[], audit: readonly AuditEventInput[]) {
    for (const row of this.rows.values()) {
      if (row.tenantId === card.tenantId && knownRefs.includes(row.cardRef)) return null;
    }
    this.audit.push(...audit);
    const stored = {
      cardId: card.id,
      tenantId: card.tenantId,
      ownerUserId: card.ownerUserId,
      last4: card.last4,
      createdAt: new Date(),
      cardRef: card.cardRef,
      pin: { pinHash: card.pinHash, consecutiveFailures: 0, lockedAt: null },
    };
    this.rows.set(stored.cardId, stored);
    return structuredClone(stored);
  }

  async find(tenantId: string, cardId: string): Promise<StoredCard | null> {
    const row = this.rows.get(cardId);
    const read = row === undefined || row.tenantId !== tenantId ? null : structuredClone(row);
    // Read now, answer later: every attempt started together sees the same state, as in Postgres.
    await new Promise((resolve) => setImmediate(resolve));
    return read;
  }

  async replacePinState(
    tenantId: string,
    cardId: string,
    expected: CardPinState,
    next: CardPinState,
    audit: CardAudit,
  ): Promise<boolean> {
    const row = this.rows.get(cardId);
    const same =
      row !== undefined &&
      row.tenantId === tenantId &&
      row.pin.pinHash === expected.pinHash &&
      row.pin.consecutiveFailures === expected.consecutiveFailures &&
      row.pin.lockedAt === expected.lockedAt;
    if (this.alwaysLose || !same) {
      this.lostRounds += 1;
      return false;
    }
    row.pin = { ...next };
    this.audit.push(...audit.events);
    if (expected.lockedAt === null && next.lockedAt !== null) {
      this.events.push({ subject: 'locked', cardId, actor: audit.actor });
    }
    return true;
  }

  async unlock(tenantId: string, cardId: string, audit: CardAudit): Promise<StoredCard | null> {
    const row = this.rows.get(cardId);
    if (row === undefined || row.tenantId !== tenantId) return null;
    this.audit.push(...audit.events);
    if (row.pin.lockedAt !== null) this.events.push({ subject: 'unlocked', cardId, actor: audit.actor });
    row.pin = { ...row.pin, consecutiveFailures: 0, lockedAt: null };
    return structuredClone(row);
  }
}

/** Stands in for bcrypt (250 ms a call) and counts the verifications it is asked for. */
class FakePins implements PinHashing {
  verifications = 0;
  async hash(pin: string) {
    return `fake:12:${pin}`;
  }
  async verify(storedHash: string, pin: string) {
    this.verifications += 1;
    return storedHash.endsWith(`:${pin}`);
  }
  needsRehash(storedHash: string) {
    return !storedHash.startsWith('fake:12:');
  }
}

function setUp() {
  const repository = new InMemoryCards();
  const pins = new FakePins();
  const keyVersions = [['tk-v1']];
  /** Audit events of refusals that changed nothing, as they would be published. */
  const published: AuditEventInput[] = [];
  const service = new CardsService({
    repository,
    pins,
    audit: (events) => published.push(...events),
    // Newest key first, as the Tokenizer answers; a rotation puts a new token in front.
    cardNumbers: { tokensOf: async (tenantId, number) => keyVersions[0]!.map((v) => `${v}:${tenantId}:${number}`) },
  });
  const register = (overrides: Partial<Parameters<CardsService['register']>[0]> = {}) =>
    service.register(
      { tenantId: TENANT, cardNumber: CARD_NUMBER, pin: PIN, ownerUserId: null, ...overrides },
      as('partner-user-1'),
    );
  return { repository, pins, service, register, keyVersions, published };
}

async function reasonOf(work: Promise<unknown>): Promise<string> {
  try {
    await work;
    return 'accepted';
  } catch (error) {
    if (error instanceof CardError) return error.reason;
    throw error;
  }
}

describe('card registration', () => {
  it('keeps the keyed reference and last4, and the PIN only as its hash', async () => {
    const { repository, register } = setUp();
    const card = await register({ ownerUserId: 'user-1' });
    expect(card).toMatchObject({ tenantId: TENANT, last4: '4242', ownerUserId: 'user-1' });
    const row = repository.rows.get(card.cardId)!;
    expect(row.cardRef).toBe(`tk-v1:${TENANT}:4242424242424242`);
    expect(row.pin).toEqual({ pinHash: `fake:12:${PIN}`, consecutiveFailures: 0, lockedAt: null });
  });

  it('refuses a number failing Luhn or of the wrong length, without echoing it', async () => {
    const { register } = setUp();
    for (const cardNumber of ['4242 4242 4242 4241', '4242', '4242-4242-4242-4242-4242-42']) {
      const refusal = await register({ cardNumber }).catch((error: unknown) => error);
      expect(refusal).toBeInstanceOf(CardError);
      expect((refusal as CardError).reason).toBe('invalid_card_number');
      expect(JSON.stringify((refusal as CardError).toPlatformError().toBody())).not.toContain(cardNumber.slice(0, 9));
    }
  });

  it('refuses a trivial initial PIN, naming the rule', async () => {
    const { register } = setUp();
    const refusal = (await register({ pin: '1234' }).catch((error: unknown) => error)) as CardError;
    expect(refusal.toPlatformError().toBody()).toEqual({
      code: 'VALIDATION',
      message: 'The PIN breaks the PIN policy',
      details: { reason: 'weak_pin', violations: ['sequential_digits'] },
    });
  });

  it('refuses the same card twice in a tenant, also after the tokenization key rotated', async () => {
    const { register, keyVersions } = setUp();
    await register();
    expect(await reasonOf(register({ cardNumber: '4242-4242-4242-4242' }))).toBe('card_already_registered');
    keyVersions[0] = ['tk-v2', 'tk-v1'];
    expect(await reasonOf(register())).toBe('card_already_registered');
    expect(await reasonOf(register({ tenantId: randomUUID() }))).toBe('accepted');
  });
});

describe('PIN verification and the lock', () => {
  it('accepts the right PIN, counts wrong ones down, locks on the third, then refuses even the right PIN', async () => {
    const { service, register, repository, pins } = setUp();
    const { cardId } = await register();
    await expect(service.verifyPin(TENANT, cardId, PIN, as('terminal-1'))).resolves.toBeUndefined();
    const refusals: unknown[] = [];
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const error = await service.verifyPin(TENANT, cardId, '1357', as('terminal-1')).catch((e: unknown) => e);
      refusals.push((error as CardError).toPlatformError().toBody());
    }
    expect(refusals).toEqual([
      {
        code: 'UNAUTHENTICATED',
        message: 'The PIN is not correct',
        details: { reason: 'wrong_pin', attemptsRemaining: 2 },
      },
      {
        code: 'UNAUTHENTICATED',
        message: 'The PIN is not correct',
        details: { reason: 'wrong_pin', attemptsRemaining: 1 },
      },
      { code: 'FORBIDDEN', message: expect.any(String), details: { reason: 'card_locked' } },
    ]);
    const verificationsBefore = pins.verifications;
    expect(await reasonOf(service.verifyPin(TENANT, cardId, PIN, as('terminal-1')))).toBe('card_locked');
    expect(pins.verifications).toBe(verificationsBefore); // no bcrypt spent on a locked card
    expect(repository.events).toEqual([{ subject: 'locked', cardId, actor: 'terminal-1' }]);

    const unlocked = await service.unlock(TENANT, cardId, as('admin-1'));
    expect(unlocked.pin).toMatchObject({ consecutiveFailures: 0, lockedAt: null });
    expect(repository.events.at(-1)).toEqual({ subject: 'unlocked', cardId, actor: 'admin-1' });
    expect(await reasonOf(service.verifyPin(TENANT, cardId, PIN, as('terminal-1')))).toBe('accepted');
  });

  it('counts only consecutive failures: a right PIN in between starts the count again', async () => {
    const { service, register, repository } = setUp();
    const { cardId } = await register();
    for (const pin of ['1357', '1357', PIN, '1357', '1357'])
      await reasonOf(service.verifyPin(TENANT, cardId, pin, as('a')));
    expect(repository.rows.get(cardId)!.pin).toMatchObject({ consecutiveFailures: 2, lockedAt: null });
  });

  it('locks exactly once when ten wrong PINs race, never counting past three', async () => {
    const { service, register, repository } = setUp();
    const { cardId } = await register();
    const reasons = await Promise.all(
      Array.from({ length: 10 }, () => reasonOf(service.verifyPin(TENANT, cardId, '1357', as('a')))),
    );
    expect(reasons.filter((reason) => reason === 'wrong_pin')).toHaveLength(2);
    expect(reasons.filter((reason) => reason === 'card_locked')).toHaveLength(8);
    expect(repository.lostRounds).toBeGreaterThan(0); // they did race
    expect(repository.rows.get(cardId)!.pin.consecutiveFailures).toBe(3);
    expect(repository.events.filter((event) => event.subject === 'locked')).toHaveLength(1);
  });

  it('gives up with card_busy after a bounded number of lost rounds, counting nothing', async () => {
    const { service, register, repository } = setUp();
    const { cardId } = await register();
    repository.alwaysLose = true;
    expect(await reasonOf(service.verifyPin(TENANT, cardId, '1357', as('a')))).toBe('card_busy');
    expect(repository.lostRounds).toBe(PIN_ATTEMPT_ROUNDS_MAX);
    expect(repository.rows.get(cardId)!.pin.consecutiveFailures).toBe(0);
  });

  it('answers not_found for a card of another tenant or none at all', async () => {
    const { service, register } = setUp();
    const { cardId } = await register();
    expect(await reasonOf(service.verifyPin(randomUUID(), cardId, PIN, as('a')))).toBe('not_found');
    expect(await reasonOf(service.verifyPin(TENANT, randomUUID(), PIN, as('a')))).toBe('not_found');
    expect(await reasonOf(service.unlock(randomUUID(), cardId, as('a')))).toBe('not_found');
    expect(new CardError('not_found').toPlatformError().code).toBe('NOT_FOUND');
  });

  it('re-hashes a PIN stored at an older cost once it is proven', async () => {
    const { service, register, repository } = setUp();
    const { cardId } = await register();
    repository.rows.get(cardId)!.pin.pinHash = `fake:10:${PIN}`;
    await service.verifyPin(TENANT, cardId, PIN, as('a'));
    expect(repository.rows.get(cardId)!.pin.pinHash).toBe(`fake:12:${PIN}`);
  });
});

describe('PIN change', () => {
  it('needs the current PIN, and a wrong one counts toward the lock', async () => {
    const { service, register, repository } = setUp();
    const { cardId } = await register();
    expect(await reasonOf(service.changePin(TENANT, cardId, '1357', '8024', as('a')))).toBe('wrong_pin');
    expect(repository.rows.get(cardId)!.pin.consecutiveFailures).toBe(1);
    await reasonOf(service.verifyPin(TENANT, cardId, '1357', as('a')));
    expect(await reasonOf(service.changePin(TENANT, cardId, '1357', '8024', as('a')))).toBe('card_locked');
    expect(await reasonOf(service.changePin(TENANT, cardId, PIN, '8024', as('a')))).toBe('card_locked');
  });

  it('replaces the PIN and clears the count when the current PIN is right', async () => {
    const { service, register, repository } = setUp();
    const { cardId } = await register();
    await reasonOf(service.verifyPin(TENANT, cardId, '1357', as('a')));
    await service.changePin(TENANT, cardId, PIN, '8024', as('a'));
    expect(repository.rows.get(cardId)!.pin).toEqual({
      pinHash: 'fake:12:8024',
      consecutiveFailures: 0,
      lockedAt: null,
    });
    expect(await reasonOf(service.verifyPin(TENANT, cardId, PIN, as('a')))).toBe('wrong_pin');
    expect(await reasonOf(service.verifyPin(TENANT, cardId, '8024', as('a')))).toBe('accepted');
  });

  it('refuses a trivial or unchanged new PIN before spending an attempt', async () => {
    const { service, register, repository, pins } = setUp();
    const { cardId } = await register();
    expect(await reasonOf(service.changePin(TENANT, cardId, '1357', '0000', as('a')))).toBe('weak_pin');
    expect(await reasonOf(service.changePin(TENANT, cardId, PIN, PIN, as('a')))).toBe('same_pin');
    expect(pins.verifications).toBe(0);
    expect(repository.rows.get(cardId)!.pin.consecutiveFailures).toBe(0);
  });
});

describe('the audit trail of cards and PINs', () => {
  const summary = (events: readonly AuditEventInput[]) =>
    events.map((event) => [event.action, event.outcome, event.reason ?? null, event.actor.id]);

  it("records the registration, each wrong PIN and the lock with the change, and a locked card's refusal apart", async () => {
    const { service, register, repository, published } = setUp();
    const { cardId } = await register();
    await reasonOf(service.verifyPin(TENANT, cardId, PIN, as('terminal-1')));
    for (let attempt = 0; attempt < 4; attempt += 1)
      await reasonOf(service.verifyPin(TENANT, cardId, '1357', as('terminal-1')));
    await service.unlock(TENANT, cardId, as('admin-1'));

    // Written with the changes: the right PIN changed nothing worth a record.
    expect(summary(repository.audit)).toEqual([
      ['auth.card.register', 'success', null, 'partner-user-1'],
      ['auth.card.verify-pin', 'failure', 'wrong_pin', 'terminal-1'],
      ['auth.card.verify-pin', 'failure', 'wrong_pin', 'terminal-1'],
      ['auth.card.verify-pin', 'failure', 'wrong_pin', 'terminal-1'],
      ['auth.card.lock', 'success', null, 'auth'],
      ['auth.card.unlock', 'success', null, 'admin-1'],
    ]);
    expect(repository.audit[3]?.details).toEqual({ consecutiveFailures: 3, attemptsRemaining: 0 });
    // The fourth wrong PIN met the lock: nothing changed, so its refusal was published.
    expect(summary(published)).toEqual([['auth.card.verify-pin', 'denied', 'card_locked', 'terminal-1']]);
    for (const event of [...repository.audit, ...published]) {
      expect(auditEventSchema.safeParse(event).success).toBe(true);
      expect(event).toMatchObject({ tenantId: TENANT, resource: { type: 'card', id: cardId } });
      // Never the card number, its last digits or a PIN (the ids are random; the details are ours).
      expect(JSON.stringify(event.details ?? {})).not.toMatch(/4242|2580|1357/);
    }
  });

  it('records a PIN change, and publishes refusals that changed nothing (weak PIN, unknown card, card taken)', async () => {
    const { service, register, repository, published } = setUp();
    const { cardId } = await register();
    await service.changePin(TENANT, cardId, PIN, '8024', as('a'));
    expect(summary(repository.audit).at(-1)).toEqual(['auth.card.change-pin', 'success', null, 'a']);

    await reasonOf(service.changePin(TENANT, cardId, '8024', '0000', as('a')));
    await reasonOf(service.verifyPin(TENANT, randomUUID(), PIN, as('a')));
    await reasonOf(register());
    expect(summary(published)).toEqual([
      ['auth.card.change-pin', 'failure', 'weak_pin', 'a'],
      ['auth.card.verify-pin', 'failure', 'not_found', 'a'],
      ['auth.card.register', 'failure', 'card_already_registered', 'partner-user-1'],
    ]);
  });
});
