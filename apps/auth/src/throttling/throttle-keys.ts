import { isIPv4, isIPv6 } from 'node:net';

// Account identifiers come from the login form (an email that may not exist): bounded, and
// throttled all the same, so a refusal never tells whether the account exists.
const ACCOUNT_IDENTIFIER_LENGTH_MAX = 400;
const INVALID_IP_KEY = 'ip:invalid';

export function accountThrottleKey(tenantId: string, accountIdentifier: string): string {
  const identifier = accountIdentifier.normalize('NFKC').trim().toLowerCase().slice(0, ACCOUNT_IDENTIFIER_LENGTH_MAX);
  return `account:${tenantId}:${identifier}`;
}

/**
 * IPv4 per address; IPv6 per /64, because one subscriber is routinely given a whole /64 and
 * could otherwise rotate through 2^64 addresses to dodge a per-address limit (RFC 6177).
 * IPv4-mapped IPv6 counts as the IPv4 address. Anything unparsable shares one bucket.
 */
export function ipThrottleKey(ip: string): string {
  const address = ip.trim();
  const mapped = /^::ffff:([0-9.]+)$/i.exec(address);
  if (mapped?.[1] !== undefined && isIPv4(mapped[1])) return `ip:${mapped[1]}`;
  if (isIPv4(address)) return `ip:${address}`;
  const withoutZone = address.split('%')[0] ?? '';
  if (!isIPv6(withoutZone)) return INVALID_IP_KEY;
  const groups = expandIPv6(withoutZone);
  return groups === null ? INVALID_IP_KEY : `ip6:${groups.slice(0, 4).join(':')}::/64`;
}

function expandIPv6(address: string): string[] | null {
  const [head = '', tail] = address.toLowerCase().split('::');
  const parse = (part: string) => (part === '' ? [] : part.split(':'));
  const headGroups = parse(head);
  const tailGroups = tail === undefined ? [] : parse(tail);
  // An embedded IPv4 tail (::1.2.3.4) fills the last two groups; the /64 prefix never needs it.
  const last = tailGroups.length > 0 ? tailGroups : headGroups;
  if (last.length > 0 && last[last.length - 1]?.includes('.')) last.splice(-1, 1, '0', '0');
  const missing = 8 - headGroups.length - tailGroups.length;
  if (missing < 0 || (tail === undefined && missing !== 0)) return null;
  const groups = [...headGroups, ...Array.from({ length: missing }, () => '0'), ...tailGroups];
  return groups.map((group) => group.replace(/^0+(?=.)/, ''));
}
