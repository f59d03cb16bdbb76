import ipaddr from 'ipaddr.js';
import { PlatformError } from '../errors/platform-error';

type Address = ipaddr.IPv4 | ipaddr.IPv6;

/**
 * The canonical form of a CIDR range, or VALIDATION naming the entry: host bits must be zero
 * (`10.0.0.1/8` is almost always a typo for a single address or for `10.0.0.0/8`, so it is
 * refused rather than silently widened), IPv6 is written compressed and lower-case.
 */
export function canonicalCidr(entry: string): string {
  let parsed: [Address, number];
  try {
    parsed = ipaddr.parseCIDR(entry);
  } catch {
    throw PlatformError.validation(`${JSON.stringify(entry)} is not a CIDR range`);
  }
  const [address, bits] = parsed;
  const network =
    address.kind() === 'ipv4' ? ipaddr.IPv4.networkAddressFromCIDR(entry) : ipaddr.IPv6.networkAddressFromCIDR(entry);
  if (network.toString() !== address.toString())
    throw PlatformError.validation(
      `${entry} has host bits set: write ${network.toString()}/${bits}, or /${address.kind() === 'ipv4' ? 32 : 128} for one address`,
    );
  return `${network.toString()}/${bits}`;
}

/** Canonical, without duplicates, in the order given. */
export function canonicalAllowlist(entries: readonly string[]): string[] {
  return [...new Set(entries.map(canonicalCidr))];
}

/**
 * Client addresses allowed by a list of CIDR ranges. Empty: every address. An IPv4 client seen
 * through a dual-stack socket (`::ffff:192.0.2.1`) is matched as the IPv4 address it is.
 */
export class IpAllowlist {
  private readonly ranges: Array<[Address, number]>;

  constructor(entries: readonly string[]) {
    this.ranges = entries.map((entry) => ipaddr.parseCIDR(canonicalCidr(entry)));
  }

  get unrestricted(): boolean {
    return this.ranges.length === 0;
  }

  allows(clientAddress: string): boolean {
    if (this.ranges.length === 0) return true;
    let address: Address;
    try {
      // process(): IPv4-mapped IPv6 becomes IPv4; a zone id (fe80::1%eth0) is not an address we match.
      address = ipaddr.process(clientAddress);
    } catch {
      return false;
    }
    return this.ranges.some(([network, bits]) => network.kind() === address.kind() && address.match(network, bits));
  }
}
