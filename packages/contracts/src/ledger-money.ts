import currencyCodes from 'currency-codes';
import { z } from 'zod';

/** The largest balance or amount a ledger holds: Postgres `bigint` (DESIGN "Data": integer minor units). */
export const AMOUNT_MINOR_MAX = 9_223_372_036_854_775_807n;

/**
 * An amount in minor units (cents for USD, units for JPY, fils for KWD), written as a decimal
 * string: JSON numbers lose integers above 2^53, money must not. Always > 0; direction says the sign.
 */
const AMOUNT_DIGITS = /^[1-9][0-9]{0,18}$/;

/** The amount as a bigint when it is well formed, else undefined (refinements run after a failed regex in zod 4). */
export function minorUnitsOf(value: string): bigint | undefined {
  return AMOUNT_DIGITS.test(value) ? BigInt(value) : undefined;
}

export const amountMinorSchema = z
  .string()
  .regex(AMOUNT_DIGITS, 'an amount is a positive integer of minor units, written as a string')
  .refine((value) => (minorUnitsOf(value) ?? 0n) <= AMOUNT_MINOR_MAX, 'an amount must not exceed 9223372036854775807');

/** A balance in minor units (≥ 0), as a decimal string. */
export const balanceMinorSchema = z.string().regex(/^(0|[1-9][0-9]{0,18})$/);

/** The minor-unit exponent of an ISO 4217 currency (USD 2, JPY 0, KWD 3, CLF 4); undefined when not ISO 4217. */
export function currencyExponentOf(code: string): number | undefined {
  return CURRENCY_EXPONENTS.get(code);
}

// currency-codes scans its list on every lookup; every posting of every transfer asks.
const CURRENCY_EXPONENTS: ReadonlyMap<string, number> = new Map(
  currencyCodes.data.flatMap((currency) =>
    typeof currency.digits === 'number' ? [[currency.code, currency.digits]] : [],
  ),
);

/** An ISO 4217 alphabetic code, upper case (the list is the ISO 4217 maintenance agency's, from currency-codes). */
export const currencySchema = z
  .string()
  .regex(/^[A-Z]{3}$/, 'a currency is an ISO 4217 code in upper case, such as USD')
  .refine((code) => currencyExponentOf(code) !== undefined, 'not an ISO 4217 currency code');
