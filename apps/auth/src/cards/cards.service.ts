import { randomUUID } from 'node:crypto';
import type { AuditEventInput } from '@strongroom/contracts';
import { normaliseCardNumber } from '@strongroom/platform';
import { type AuditSink, type AuditTrail, refusalOf } from '../auth-audit';
import { cardReference } from '../pins/card-reference';
import { hashPin, pinNeedsRehash, verifyPin } from '../pins/pin-hashing';
import { applyPinEvent, type PinLockState, type PinOutcome, pinAttemptAllowed } from '../pins/pin-lock';
import { checkPinPolicy } from '../pins/pin-policy';
import { type CardAction, cardAuditEvent, type PinAction, pinAttemptAuditEvents } from './card-audit';
import { CardError } from './card-errors';

/** A card's PIN and its lock state: what a PIN attempt reads and replaces as one. */
export interface CardPinState extends PinLockState {
  pinHash: string;
}

export interface StoredCard {
  cardId: string;
  tenantId: string;
  ownerUserId: string | null;
  last4: string;
  createdAt: Date;
  pin: CardPinState;
}

export interface NewCard {
  id: string;
  tenantId: string;
  ownerUserId: string | null;
  cardRef: string;
  last4: string;
  pinHash: string;
}

/** Who acts on a card: the credential's subject (named in the cards' events) and the call's audit trail. */
export interface CardCaller {
  subject: string;
  trail: AuditTrail;
}

/** Who did it and when, for the events written with the change, and the change's audit events. */
export interface CardAudit {
  actor: string;
  at: Date;
  events: readonly AuditEventInput[];
}

export interface CardRepository {
  /**
   * Null when the tenant already holds a card under any of `knownRefs` (its reference under
   * recent keys); else the card, stored with its `audit` events.
   */
  insert(card: NewCard, knownRefs: readonly string[], audit: readonly AuditEventInput[]): Promise<StoredCard | null>;
  find(tenantId: string, cardId: string): Promise<StoredCard | null>;
  /**
   * Compare-and-set: writes `next` only while the row still holds exactly `expected`, in one
   * statement, with `evt.auth.v1.cards.locked` when `next` locks it and the audit events. False
   * when another attempt changed the card first (the caller re-reads and decides again).
   */
  replacePinState(
    tenantId: string,
    cardId: string,
    expected: CardPinState,
    next: CardPinState,
    audit: CardAudit,
  ): Promise<boolean>;
  /** Clears the lock and the count, with the audit events; `evt.auth.v1.cards.unlocked` when it was locked. Null: no such card. */
  unlock(tenantId: string, cardId: string, audit: CardAudit): Promise<StoredCard | null>;
}

/** Keyed, deterministic tokens of a normalised card number in a tenant, newest key first. */
export interface CardNumberTokens {
  tokensOf(tenantId: string, normalisedCardNumber: string): Promise<string[]>;
}

export interface PinHashing {
  hash(pin: string): Promise<string>;
  verify(storedHash: string, pin: string): Promise<boolean>;
  needsRehash(storedHash: string): boolean;
}

export const BCRYPT_PIN_HASHING: PinHashing = { hash: hashPin, verify: verifyPin, needsRehash: pinNeedsRehash };

/**
 * Rounds of read / decide / compare-and-set one attempt may take. Each lost round means another
 * attempt on the same card committed, and at most 3 failures fit before the lock ends the race.
 */
export const PIN_ATTEMPT_ROUNDS_MAX = 8;

export interface CardsServiceDeps {
  repository: CardRepository;
  cardNumbers: CardNumberTokens;
  /** Where the audit events of attempts that wrote nothing go (a locked card, a weak PIN, an unknown card). */
  audit: AuditSink;
  pins?: PinHashing;
  now?: () => Date;
}

/**
 * Cards and PINs (seed 001): registration with an initial PIN, PIN checks that lock the card on
 * the third consecutive failure (pin-lock.ts) and only an admin unlocks, PIN changes that prove
 * the current PIN (and count as an attempt). Authorisation is the handler's; this is the rule.
 *
 * Audited (issue 7): a registration, a wrong PIN (it counts toward the lock), the lock, a PIN
 * change, an unlock, each with the change it records; a refusal that changed nothing (a locked
 * card, a weak PIN, an unknown card) through the audit sink. A right PIN is not recorded: a card
 * terminal checks PINs all day, and only failures tell a story.
 */
export class CardsService {
  private readonly repository: CardRepository;
  private readonly cardNumbers: CardNumberTokens;
  private readonly audit: AuditSink;
  private readonly pins: PinHashing;
  private readonly now: () => Date;

  constructor(deps: CardsServiceDeps) {
    this.repository = deps.repository;
    this.cardNumbers = deps.cardNumbers;
    this.audit = deps.audit;
    this.pins = deps.pins ?? BCRYPT_PIN_HASHING;
    this.now = deps.now ?? (() => new Date());
  }

  async register(
    input: { tenantId: string; cardNumber: string; pin: string; ownerUserId: string | null },
    caller: CardCaller,
  ): Promise<StoredCard> {
    const id = randomUUID();
    return this.refusalsAudited(caller, input.tenantId, 'auth.card.register', id, async () => {
      assertPinPolicy(input.pin);
      const { tenantId } = input;
      const reference = await cardReference(input.cardNumber, {
        hash: async (normalised) => (await this.cardNumbers.tokensOf(tenantId, normalised))[0]!,
      });
      if (!reference.ok) throw new CardError('invalid_card_number');
      const knownRefs = await this.cardNumbers.tokensOf(tenantId, normaliseCardNumber(input.cardNumber));
      const card = await this.repository.insert(
        {
          id,
          tenantId,
          ownerUserId: input.ownerUserId,
          cardRef: reference.card.cardNumberHash,
          last4: reference.card.last4,
          pinHash: await this.pins.hash(input.pin),
        },
        knownRefs,
        // Not the number, nor its last digits: the card is named by its id.
        [cardAuditEvent(caller.trail, tenantId, id, { action: 'auth.card.register' })],
      );
      if (card === null) throw new CardError('card_already_registered');
      return card;
    });
  }

  /** Resolves for the right PIN; throws wrong_pin (with attemptsRemaining) or card_locked otherwise. */
  async verifyPin(tenantId: string, cardId: string, pin: string, caller: CardCaller): Promise<void> {
    throwUnlessAccepted(await this.attemptPin(tenantId, cardId, pin, caller));
  }

  /** The new PIN is checked first (no attempt spent on a refused one); a wrong current PIN counts. */
  async changePin(tenantId: string, cardId: string, pin: string, newPin: string, caller: CardCaller): Promise<void> {
    const newPinHash = await this.refusalsAudited(caller, tenantId, 'auth.card.change-pin', cardId, async () => {
      assertPinPolicy(newPin);
      if (newPin === pin) throw new CardError('same_pin');
      return this.pins.hash(newPin);
    });
    throwUnlessAccepted(await this.attemptPin(tenantId, cardId, pin, caller, newPinHash));
  }

  async unlock(tenantId: string, cardId: string, caller: CardCaller): Promise<StoredCard> {
    return this.refusalsAudited(caller, tenantId, 'auth.card.unlock', cardId, async () => {
      const at = this.now();
      const events = [cardAuditEvent(caller.trail, tenantId, cardId, { action: 'auth.card.unlock', at })];
      const card = await this.repository.unlock(tenantId, cardId, { actor: caller.subject, at, events });
      if (card === null) throw new CardError('not_found');
      return card;
    });
  }

  /**
   * One PIN attempt, applied atomically: read the state, decide with the pure transition, and
   * store it only if the row still holds what was read (pin-lock.ts). A loser re-reads, so ten
   * concurrent wrong PINs count one by one, lock the card once, and the rest meet the lock.
   * bcrypt runs outside any transaction, and once per PIN hash read, not once per round.
   */
  async attemptPin(
    tenantId: string,
    cardId: string,
    pin: string,
    caller: CardCaller,
    replacementPinHash?: string,
  ): Promise<PinOutcome> {
    const action = replacementPinHash === undefined ? 'auth.card.verify-pin' : 'auth.card.change-pin';
    return this.refusalsAudited(caller, tenantId, action, cardId, () =>
      this.attemptPinRounds(tenantId, cardId, pin, caller, action, replacementPinHash),
    );
  }

  private async attemptPinRounds(
    tenantId: string,
    cardId: string,
    pin: string,
    caller: CardCaller,
    action: PinAction,
    replacementPinHash: string | undefined,
  ): Promise<PinOutcome> {
    let compared: { pinHash: string; matches: boolean } | undefined;
    for (let round = 0; round < PIN_ATTEMPT_ROUNDS_MAX; round += 1) {
      const card = await this.repository.find(tenantId, cardId);
      if (card === null) throw new CardError('not_found');
      // A locked card answers "locked" for any PIN, without spending a bcrypt verify on it.
      if (!pinAttemptAllowed(card.pin)) {
        // Nothing changes, so nothing is written: the refusal is published.
        this.audit([
          cardAuditEvent(caller.trail, tenantId, cardId, { action, outcome: 'denied', reason: 'card_locked' }),
        ]);
        return { kind: 'refused_locked' };
      }
      if (compared?.pinHash !== card.pin.pinHash) {
        compared = { pinHash: card.pin.pinHash, matches: await this.pins.verify(card.pin.pinHash, pin) };
      }
      const at = this.now();
      const { state, outcome } = applyPinEvent(
        card.pin,
        compared.matches ? { type: 'pin_verified' } : { type: 'pin_rejected', at },
      );
      const next: CardPinState = {
        ...state,
        pinHash: await this.pinHashAfter(outcome, card.pin.pinHash, pin, replacementPinHash),
      };
      if (sameState(card.pin, next)) return outcome;
      const events = pinAttemptAuditEvents(caller.trail, tenantId, cardId, action, outcome, next, at);
      if (
        await this.repository.replacePinState(tenantId, cardId, card.pin, next, { actor: caller.subject, at, events })
      )
        return outcome;
    }
    throw new CardError('card_busy');
  }

  /** Runs `work`; a refusal it throws (it changed nothing) is published as a failure or a denial of `action`. */
  private async refusalsAudited<T>(
    caller: CardCaller,
    tenantId: string,
    action: CardAction,
    cardId: string,
    work: () => Promise<T>,
  ): Promise<T> {
    try {
      return await work();
    } catch (error) {
      this.audit([cardAuditEvent(caller.trail, tenantId, cardId, { action, ...refusalOf(error) })]);
      throw error;
    }
  }

  private async pinHashAfter(
    outcome: PinOutcome,
    storedHash: string,
    pin: string,
    replacementPinHash: string | undefined,
  ): Promise<string> {
    if (outcome.kind !== 'accepted') return storedHash;
    if (replacementPinHash !== undefined) return replacementPinHash;
    // A PIN hashed at an older, cheaper cost is re-hashed the first time it is proven.
    return this.pins.needsRehash(storedHash) ? this.pins.hash(pin) : storedHash;
  }
}

function assertPinPolicy(pin: string): void {
  const policy = checkPinPolicy(pin);
  if (!policy.ok) throw new CardError('weak_pin', { violations: policy.violations });
}

function throwUnlessAccepted(outcome: PinOutcome): void {
  if (outcome.kind === 'accepted') return;
  if (outcome.kind === 'rejected') throw new CardError('wrong_pin', { attemptsRemaining: outcome.attemptsRemaining });
  // The attempt that locks the card and every one after it get the same answer.
  throw new CardError('card_locked');
}

function sameState(a: CardPinState, b: CardPinState): boolean {
  return a.pinHash === b.pinHash && a.consecutiveFailures === b.consecutiveFailures && a.lockedAt === b.lockedAt;
}
