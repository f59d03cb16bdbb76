import { CARD_PIN_REFUSALS } from '@strongroom/contracts';
import { DomainRefusal, type RefusalTable } from '@strongroom/platform';

export const CARD_FAILURES = {
  // wrong_pin (UNAUTHENTICATED) and card_locked (FORBIDDEN): declared in the contract, SDKs switch on them.
  ...CARD_PIN_REFUSALS,
  not_found: { code: 'NOT_FOUND', message: 'Card not found' },
  invalid_card_number: { code: 'VALIDATION', message: 'Not a valid card number (12-19 digits, Luhn check digit)' },
  weak_pin: { code: 'VALIDATION', message: 'The PIN breaks the PIN policy' },
  same_pin: { code: 'VALIDATION', message: 'The new PIN must differ from the current one' },
  card_already_registered: { code: 'CONFLICT', message: 'This card is already registered in the tenant' },
  // Attempts on one card kept overtaking this one; nothing was counted for it.
  card_busy: { code: 'CONFLICT', message: 'The card changed during the attempt; try again' },
} as const satisfies RefusalTable;
export type CardFailure = keyof typeof CARD_FAILURES;

/** Messages are fixed per code; details carry ids, counts and policy names, never a PIN or card number. */
export class CardError extends DomainRefusal<typeof CARD_FAILURES> {
  override readonly name = 'CardError';

  constructor(reason: CardFailure, details: DomainRefusal<typeof CARD_FAILURES>['details'] = {}) {
    super(CARD_FAILURES, reason, details);
  }
}
