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
import { assertMayActOnTenant, type BusRequestContext, Handles, type Principal } from '@strongroom/platform';
import { CardError } from './card-errors';
import { CardsService, type StoredCard } from './cards.service';

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
    assertMayActOnTenant(context.principal, input.tenantId);
    const card = await refusalsMapped(() =>
      this.cards.register({
        tenantId: input.tenantId,
        cardNumber: input.cardNumber,
        pin: input.pin,
        ownerUserId: input.ownerUserId ?? null,
      }),
    );
    return { ...cardWire(card), locked: false };
  }

  /** UNAUTHENTICATED wrong_pin (attemptsRemaining), FORBIDDEN card_locked, NOT_FOUND. */
  @Handles(verifyCardPin)
  async verifyPin(
    input: RequestOf<typeof verifyCardPin>,
    context: BusRequestContext,
  ): Promise<ResponseOf<typeof verifyCardPin>> {
    const actor = actorOf(context.principal, input.tenantId);
    await refusalsMapped(() => this.cards.verifyPin(input.tenantId, input.cardId, input.pin, actor));
    return { outcome: 'accepted' };
  }

  /** As verify-pin for the current PIN, plus VALIDATION weak_pin / same_pin for the new one. */
  @Handles(changeCardPin)
  async changePin(
    input: RequestOf<typeof changeCardPin>,
    context: BusRequestContext,
  ): Promise<ResponseOf<typeof changeCardPin>> {
    const actor = actorOf(context.principal, input.tenantId);
    await refusalsMapped(() => this.cards.changePin(input.tenantId, input.cardId, input.pin, input.newPin, actor));
    return { outcome: 'changed' };
  }

  @Handles(unlockCard)
  async unlock(
    input: RequestOf<typeof unlockCard>,
    context: BusRequestContext,
  ): Promise<ResponseOf<typeof unlockCard>> {
    const actor = actorOf(context.principal, input.tenantId);
    return cardWire(await refusalsMapped(() => this.cards.unlock(input.tenantId, input.cardId, actor)));
  }
}

function actorOf(principal: Principal | undefined, tenantId: string): string {
  assertMayActOnTenant(principal, tenantId);
  return principal!.subject;
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
