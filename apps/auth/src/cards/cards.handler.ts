import { Controller } from '@nestjs/common';
import {
  type Card,
  changeCardPin,
  type RequestOf,
  type ResponseOf,
  registerCard,
  unlockCard,
  verifyCardPin,
} from '@strongroom/contracts';
import { assertMayActOnTenant, type BusRequestContext, Handles } from '@strongroom/platform';
import { auditTrailOf } from '../auth-audit';
import { CardError } from './card-errors';
import { type CardCaller, CardsService, type StoredCard } from './cards.service';

/** Cards and PINs on the bus: the tenant rule, the service, the one error mapping. Never echoes a number or PIN. */
@Controller()
export class CardsHandler {
  constructor(private readonly cards: CardsService) {}

  /** VALIDATION invalid_card_number / weak_pin (violations), CONFLICT card_already_registered. */
  @Handles(registerCard)
  async register(
    input: RequestOf<typeof registerCard>,
    context: BusRequestContext,
  ): Promise<ResponseOf<typeof registerCard>> {
    const caller = callerOf(context, input.tenantId);
    const card = await refusalsMapped(() =>
      this.cards.register(
        {
          tenantId: input.tenantId,
          cardNumber: input.cardNumber,
          pin: input.pin,
          ownerUserId: input.ownerUserId ?? null,
        },
        caller,
      ),
    );
    return { ...cardWire(card), locked: false };
  }

  /** UNAUTHENTICATED wrong_pin (attemptsRemaining), FORBIDDEN card_locked, NOT_FOUND. */
  @Handles(verifyCardPin)
  async verifyPin(
    input: RequestOf<typeof verifyCardPin>,
    context: BusRequestContext,
  ): Promise<ResponseOf<typeof verifyCardPin>> {
    const caller = callerOf(context, input.tenantId);
    await refusalsMapped(() => this.cards.verifyPin(input.tenantId, input.cardId, input.pin, caller));
    return { outcome: 'accepted' };
  }

  /** As verify-pin for the current PIN, plus VALIDATION weak_pin / same_pin for the new one. */
  @Handles(changeCardPin)
  async changePin(
    input: RequestOf<typeof changeCardPin>,
    context: BusRequestContext,
  ): Promise<ResponseOf<typeof changeCardPin>> {
    const caller = callerOf(context, input.tenantId);
    await refusalsMapped(() => this.cards.changePin(input.tenantId, input.cardId, input.pin, input.newPin, caller));
    return { outcome: 'changed' };
  }

  @Handles(unlockCard)
  async unlock(
    input: RequestOf<typeof unlockCard>,
    context: BusRequestContext,
  ): Promise<ResponseOf<typeof unlockCard>> {
    const caller = callerOf(context, input.tenantId);
    return cardWire(await refusalsMapped(() => this.cards.unlock(input.tenantId, input.cardId, caller)));
  }
}

/** The tenant rule, then who acts (audited by the service with each attempt and change). */
function callerOf(context: BusRequestContext, tenantId: string): CardCaller {
  assertMayActOnTenant(context.principal, tenantId);
  return { subject: context.principal!.subject, trail: auditTrailOf(context) };
}

async function refusalsMapped<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof CardError) throw error.toPlatformError();
    throw error;
  }
}

function cardWire(card: StoredCard): Card {
  return {
    cardId: card.cardId,
    tenantId: card.tenantId,
    ownerUserId: card.ownerUserId,
    last4: card.last4,
    locked: card.pin.lockedAt !== null,
    createdAt: card.createdAt.toISOString(),
  };
}
