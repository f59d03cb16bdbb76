import { normaliseCardNumber } from '@strongroom/platform';
import { cardReference } from '../pins/card-reference';
import { hashPin, pinNeedsRehash, verifyPin } from '../pins/pin-hashing';
import { applyPinEvent, type PinLockState, type PinOutcome, pinAttemptAllowed } from '../pins/pin-lock';
import { checkPinPolicy } from '../pins/pin-policy';
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
  tenantId: string;
  ownerUserId: string | null;
  cardRef: string;
  last4: string;
  pinHash: string;
}

/** Who did it and when, for the audit events written with the change. */
export interface CardAudit {
  actor: string;
  at: Date;
}

export interface CardRepository {
  /** Null when the tenant already holds a card under any of `knownRefs` (its reference under recent keys). */
  insert(card: NewCard, knownRefs: readonly string[]): Promise<StoredCard | null>;
  find(tenantId: string, cardId: string): Promise<StoredCard | null>;
  /**
   * Compare-and-set: writes `next` only while the row still holds exactly `expected`, in one
   * statement, with `evt.auth.v1.cards.locked` when `next` locks it. False when another attempt
   * changed the card first (the caller re-reads and decides again).
   */
  replacePinState(
    tenantId: string,
    cardId: string,
    expected: CardPinState,
    next: CardPinState,
    audit: CardAudit,
  ): Promise<boolean>;
  /** Clears the lock and the count; `evt.auth.v1.cards.unlocked` when it was locked. Null: no such card. */
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
  pins?: PinHashing;
  now?: () => Date;
}

/**
 * Cards and PINs (seed 001): registration with an initial PIN, PIN checks that lock the card on
 * the third consecutive failure (pin-lock.ts) and only an admin unlocks, PIN changes that prove
 * the current PIN (and count as an attempt). Authorisation is the handler's; this is the rule.
 */
export class CardsService {
  private readonly repository: CardRepository;
  private readonly cardNumbers: CardNumberTokens;
  private readonly pins: PinHashing;
  private readonly now: () => Date;

  constructor(deps: CardsServiceDeps) {
    this.repository = deps.repository;
    this.cardNumbers = deps.cardNumbers;
    this.pins = deps.pins ?? BCRYPT_PIN_HASHING;
    this.now = deps.now ?? (() => new Date());
  }

  async register(input: {
    tenantId: string;
    cardNumber: string;
    pin: string;
    ownerUserId: string | null;
  }): Promise<StoredCard> {
    assertPinPolicy(input.pin);
    const { tenantId } = input;
    const reference = await cardReference(input.cardNumber, {
      hash: async (normalised) => (await this.cardNumbers.tokensOf(tenantId, normalised))[0]!,
    });
    if (!reference.ok) throw new CardError('invalid_card_number');
    const knownRefs = await this.cardNumbers.tokensOf(tenantId, normaliseCardNumber(input.cardNumber));
    const card = await this.repository.insert(
      {
        tenantId,
        ownerUserId: input.ownerUserId,
        cardRef: reference.card.cardNumberHash,
        last4: reference.card.last4,
        pinHash: await this.pins.hash(input.pin),
      },
      knownRefs,
    );
    if (card === null) throw new CardError('card_already_registered');
    return card;
  }

  /** Resolves for the right PIN; throws wrong_pin (with attemptsRemaining) or card_locked otherwise. */
  async verifyPin(tenantId: string, cardId: string, pin: string, actor: string): Promise<void> {
    throwUnlessAccepted(await this.attemptPin(tenantId, cardId, pin, actor));
  }

  /** The new PIN is checked first (no attempt spent on a refused one); a wrong current PIN counts. */
  async changePin(tenantId: string, cardId: string, pin: string, newPin: string, actor: string): Promise<void> {
    assertPinPolicy(newPin);
    if (newPin === pin) throw new CardError('same_pin');
    const newPinHash = await this.pins.hash(newPin);
    throwUnlessAccepted(await this.attemptPin(tenantId, cardId, pin, actor, newPinHash));
  }

  async unlock(tenantId: string, cardId: string, actor: string): Promise<StoredCard> {
    const card = await this.repository.unlock(tenantId, cardId, { actor, at: this.now() });
    if (card === null) throw new CardError('not_found');
    return card;
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
    actor: string,
    replacementPinHash?: string,
  ): Promise<PinOutcome> {
    let compared: { pinHash: string; matches: boolean } | undefined;
    for (let round = 0; round < PIN_ATTEMPT_ROUNDS_MAX; round += 1) {
      const card = await this.repository.find(tenantId, cardId);
      if (card === null) throw new CardError('not_found');
      // A locked card answers "locked" for any PIN, without spending a bcrypt verify on it.
      if (!pinAttemptAllowed(card.pin)) return { kind: 'refused_locked' };
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
      if (await this.repository.replacePinState(tenantId, cardId, card.pin, next, { actor, at })) return outcome;
    }
    throw new CardError('card_busy');
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
