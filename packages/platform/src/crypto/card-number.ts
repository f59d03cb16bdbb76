/** Card numbers (PANs) are 12 to 19 digits (ISO/IEC 7812-1). */
const PAN = /^[0-9]{12,19}$/;

/** Spaces and dashes are how people and forms group digits; they carry no meaning. */
export function normaliseCardNumber(value: string): string {
  return value.replace(/[\s-]/g, '');
}

/** The Luhn (mod 10) check digit of ISO/IEC 7812-1 Annex B; digits only. */
export function luhnValid(digits: string): boolean {
  if (!/^[0-9]+$/.test(digits) || digits.length < 2) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i += 1) {
    let digit = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}

export function isCardNumber(normalised: string): boolean {
  return PAN.test(normalised) && luhnValid(normalised);
}
