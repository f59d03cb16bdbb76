import { canonicalAllowlist, canonicalCidr, IpAllowlist } from '../src/network/ip-allowlist';

describe('IP allowlists (CIDR, IPv4 and IPv6)', () => {
  it('writes ranges canonically and refuses host bits, with the range that was meant', () => {
    expect(canonicalCidr('203.0.113.0/24')).toBe('203.0.113.0/24');
    expect(canonicalCidr('2001:DB8:0:0:0:0:0:0/32')).toBe('2001:db8::/32');
    expect(canonicalCidr('0.0.0.0/0')).toBe('0.0.0.0/0');
    expect(canonicalCidr('::/0')).toBe('::/0');
    expect(() => canonicalCidr('203.0.113.9/24')).toThrow(/write 203\.0\.113\.0\/24, or \/32/);
    expect(() => canonicalCidr('2001:db8::1/32')).toThrow(/write 2001:db8::\/32, or \/128/);
    for (const entry of ['10.0.0.0/33', '10.0.0.0', 'example.com/8', '', '::/129', '1.2.3.4/-1'])
      expect(() => canonicalCidr(entry)).toThrow(expect.objectContaining({ code: 'VALIDATION' }));
    expect(canonicalAllowlist(['10.0.0.0/8', '2001:db8::/32', '10.0.0.0/8', '2001:DB8::/32'])).toEqual([
      '10.0.0.0/8',
      '2001:db8::/32',
    ]);
  });

  it('lets every address through an empty list, and only addresses in a range through a list', () => {
    expect(new IpAllowlist([]).allows('198.51.100.1')).toBe(true);
    const list = new IpAllowlist(['203.0.113.0/24', '2001:db8:abcd::/48', '198.51.100.7/32']);
    expect(list.allows('203.0.113.0')).toBe(true);
    expect(list.allows('203.0.113.255')).toBe(true);
    expect(list.allows('203.0.114.0')).toBe(false);
    expect(list.allows('198.51.100.7')).toBe(true);
    expect(list.allows('198.51.100.8')).toBe(false);
    expect(list.allows('2001:db8:abcd:12::1')).toBe(true);
    expect(list.allows('2001:db8:abce::1')).toBe(false);
    // An IPv4 client on a dual-stack socket is its IPv4 address.
    expect(list.allows('::ffff:203.0.113.5')).toBe(true);
    expect(list.allows('::ffff:203.0.114.5')).toBe(false);
    // Never a match by accident: garbage, an IPv4 range for an IPv6 address that embeds it.
    expect(list.allows('not an address')).toBe(false);
    expect(list.allows('')).toBe(false);
    expect(list.allows('::cb00:7105')).toBe(false);
    expect(new IpAllowlist(['::/0']).allows('203.0.113.5')).toBe(false);
    expect(new IpAllowlist(['0.0.0.0/0']).allows('2001:db8::1')).toBe(false);
  });
});
