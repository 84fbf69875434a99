import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildPacket } from '../../../../tests/helpers/ip-packets.js';
import { l4ChecksumValid } from './internet-checksum.js';

describe('receive checksum validation (GUEST_CSUM, virtio 1.2 §5.1.6.4)', () => {
  const specs = fc.record({
    ipv6: fc.boolean(),
    vlan: fc.boolean(),
    protocol: fc.constantFrom<'tcp' | 'udp'>('tcp', 'udp'),
    ipv6DestOptions: fc.integer({ min: 0, max: 2 }),
    payload: fc.uint8Array({ maxLength: 1600 }),
    trailer: fc.integer({ min: 0, max: 4 }),
  });

  it('accepts every correctly summed TCP/UDP packet and refuses it after any one-byte change of the L4 part (property)', () => {
    fc.assert(
      fc.property(specs, fc.nat(), fc.integer({ min: 1, max: 255 }), (spec, where, delta) => {
        const p = buildPacket(spec);
        expect(l4ChecksumValid(p.frame)).toBe(true);
        const end = p.frame.length - spec.trailer;
        const at = p.l4 + (where % (end - p.l4));
        const bad = p.frame.slice();
        bad[at] = (bad[at]! + delta) & 0xff;
        // A change of the UDP length field is refused for the length, any other for the sum; a
        // change that turns a 16-bit word from 0000 into ffff or back is invisible to the sum
        // (ones' complement has two zeros), as on any NIC.
        const word = at - ((at - p.l4) & 1);
        const before = (p.frame[word]! << 8) | p.frame[word + 1]!;
        const after = (bad[word]! << 8) | bad[word + 1]!;
        if (!((before === 0 && after === 0xffff) || (before === 0xffff && after === 0))) expect(l4ChecksumValid(bad)).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  it('a UDP checksum of 0 means none over IPv4 (RFC 768) but is invalid over IPv6 (RFC 8200 §8.1)', () => {
    for (const ipv6 of [false, true]) {
      const p = buildPacket({ ipv6, protocol: 'udp', payload: Uint8Array.of(1, 2, 3) });
      p.frame[p.l4 + 6] = 0;
      p.frame[p.l4 + 7] = 0;
      expect(l4ChecksumValid(p.frame)).toBe(!ipv6);
    }
  });

  it('leaves fragments, other protocols and cut packets to the guest', () => {
    const p = buildPacket({ payload: new Uint8Array(100) });
    const frag = p.frame.slice();
    frag[p.ip + 7] = 8; // fragment offset 64
    expect(l4ChecksumValid(frag)).toBe(false);
    const icmp = p.frame.slice();
    icmp[p.ip + 9] = 1;
    expect(l4ChecksumValid(icmp)).toBe(false);
    expect(l4ChecksumValid(p.frame.subarray(0, p.frame.length - 1))).toBe(false);
    expect(l4ChecksumValid(new Uint8Array(60))).toBe(false);
  });

  it('never throws on arbitrary bytes (property)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => void l4ChecksumValid(b)), { numRuns: 3000 });
  });
});
