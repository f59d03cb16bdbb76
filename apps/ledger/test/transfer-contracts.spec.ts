import { randomUUID } from 'node:crypto';
import {
  AMOUNT_MINOR_MAX,
  createTransfers,
  PENDING_TIMEOUT_SECONDS_MAX,
  POSTINGS_PER_TRANSFER_MAX,
  type Posting,
  TRANSFER_BATCH_MAX,
  type TransferCommandInput,
  transferCommandSchema,
} from '@strongroom/contracts';

const FROM = randomUUID();
const TO = randomUUID();
const TENANT = randomUUID();

function postings(debit: string, credit: string, currency = 'USD'): Posting[] {
  return [
    { accountId: FROM, direction: 'debit', amount: debit, currency },
    { accountId: TO, direction: 'credit', amount: credit, currency },
  ];
}

function immediate(fields: Partial<TransferCommandInput> = {}): TransferCommandInput {
  return { type: 'immediate', id: randomUUID(), postings: postings('100', '100'), ...fields } as TransferCommandInput;
}

const accepts = (input: unknown) => transferCommandSchema.safeParse(input).success;
const acceptsBatch = (transfers: unknown[]) =>
  createTransfers.request.safeParse({ tenantId: TENANT, transfers }).success;

describe('transfer contracts: one transfer', () => {
  it('accepts a balanced transfer and fills in its defaults', () => {
    const parsed = transferCommandSchema.parse(immediate());
    expect(parsed).toMatchObject({ category: 'other', metadata: {}, linked: false });
    const pending = transferCommandSchema.parse({ ...immediate(), type: 'pending' });
    expect(pending).toMatchObject({ type: 'pending', timeoutSeconds: 0 });
  });

  it('refuses postings whose debits and credits differ, in any currency', () => {
    expect(accepts(immediate({ postings: postings('100', '99') }))).toBe(false);
    // Balanced in total, not per currency.
    const mixed: Posting[] = [
      { accountId: FROM, direction: 'debit', amount: '100', currency: 'USD' },
      { accountId: TO, direction: 'credit', amount: '100', currency: 'EUR' },
    ];
    expect(accepts(immediate({ postings: mixed }))).toBe(false);
    // A partial post is held to the same rule.
    expect(
      accepts({ type: 'post_pending', id: randomUUID(), pendingId: randomUUID(), postings: postings('5', '4') }),
    ).toBe(false);
  });

  it('accepts ISO 4217 currencies only, in upper case', () => {
    for (const currency of ['USD', 'JPY', 'KWD', 'CLF'])
      expect(accepts(immediate({ postings: postings('1', '1', currency) }))).toBe(true);
    for (const currency of ['XYZ', 'usd', 'US', 'USDT', 'BTC', '']) {
      expect(accepts(immediate({ postings: postings('1', '1', currency) }))).toBe(false);
    }
  });

  it('accepts amounts from 1 to 2^63-1 minor units written as decimal strings', () => {
    for (const amount of ['1', '1050', AMOUNT_MINOR_MAX.toString()]) {
      expect(accepts(immediate({ postings: postings(amount, amount) }))).toBe(true);
    }
    for (const amount of ['0', '-1', '01', ' 1', '', '9223372036854775808', '99999999999999999999']) {
      expect(accepts(immediate({ postings: postings(amount, amount) }))).toBe(false);
    }
    expect(accepts(immediate({ postings: postings(100 as unknown as string, 100 as unknown as string) }))).toBe(false);
  });

  it('refuses an amount that is not an integer as invalid, without throwing', () => {
    // A throw here is not a validation error: the bus would answer INTERNAL instead of VALIDATION.
    for (const amount of ['1.5', '1e3', 'ten', '0x10']) {
      const validate = () => accepts(immediate({ postings: postings(amount, amount) }));
      expect(validate).not.toThrow();
      expect(validate()).toBe(false);
    }
  });

  it('refuses fewer than two postings, more than sixteen, and the same account twice', () => {
    expect(accepts(immediate({ postings: postings('1', '1').slice(0, 1) }))).toBe(false);
    const many = Array.from({ length: POSTINGS_PER_TRANSFER_MAX + 1 }, (_, index) => ({
      accountId: randomUUID(),
      direction: index === 0 ? 'debit' : 'credit',
      amount: index === 0 ? String(POSTINGS_PER_TRANSFER_MAX) : '1',
      currency: 'USD',
    }));
    expect(accepts(immediate({ postings: many as Posting[] }))).toBe(false);
    expect(
      accepts(
        immediate({
          postings: many
            .slice(0, POSTINGS_PER_TRANSFER_MAX)
            .map((posting, index) => (index === 0 ? { ...posting, amount: '15' } : posting)) as Posting[],
        }),
      ),
    ).toBe(true);
    const twice = postings('1', '1').map((posting) => ({ ...posting, accountId: FROM }));
    expect(accepts(immediate({ postings: twice }))).toBe(false);
  });

  it('bounds a pending transfer’s timeout to 0…30 days in whole seconds', () => {
    const pending = (timeoutSeconds: number) => accepts({ ...immediate(), type: 'pending', timeoutSeconds });
    expect(pending(0)).toBe(true);
    expect(pending(PENDING_TIMEOUT_SECONDS_MAX)).toBe(true);
    expect(pending(PENDING_TIMEOUT_SECONDS_MAX + 1)).toBe(false);
    expect(pending(-1)).toBe(false);
    expect(pending(1.5)).toBe(false);
  });

  it('refuses an expiry from a client: only the ledger writes those', () => {
    expect(accepts({ type: 'expiry', id: randomUUID(), pendingId: randomUUID() })).toBe(false);
  });

  it('refuses fields a type does not have', () => {
    expect(accepts({ ...immediate(), pendingId: randomUUID() })).toBe(false);
    expect(
      accepts({ type: 'reversal', id: randomUUID(), reversesId: randomUUID(), postings: postings('1', '1') }),
    ).toBe(false);
  });
});

describe('transfer contracts: a batch', () => {
  it('accepts a linked chain closed by an unlinked transfer', () => {
    expect(acceptsBatch([immediate({ linked: true }), immediate({ linked: true }), immediate()])).toBe(true);
  });

  it('refuses a batch whose last transfer is linked: its chain would stay open', () => {
    expect(acceptsBatch([immediate(), immediate({ linked: true })])).toBe(false);
  });

  it('refuses the same id twice in a batch', () => {
    const id = randomUUID();
    expect(acceptsBatch([immediate({ id }), immediate({ id, postings: postings('7', '7') })])).toBe(false);
  });

  it('refuses an empty batch and one over 8,190 transfers', () => {
    expect(acceptsBatch([])).toBe(false);
    const full = Array.from({ length: TRANSFER_BATCH_MAX }, () => immediate());
    expect(acceptsBatch(full)).toBe(true);
    expect(acceptsBatch([...full, immediate()])).toBe(false);
  });
});
