import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildPacket, l4ChecksumOk, referenceSum } from '../../../../tests/helpers/ip-packets.js';
import { segmentTcp } from './tcp-segmentation.js';

const u16 = (b: Uint8Array, at: number) => (b[at]! << 8) | b[at + 1]!;
const u32 = (b: Uint8Array, at: number) => new DataView(b.buffer, b.byteOffset).getUint32(at);

describe('TCP segmentation offload (virtio 1.2 §5.1.6.2, HOST_TSO4/6)', () => {
  it('cuts a 4000-byte IPv4 payload at MSS 1448 into 1448+1448+1104, rewriting what a NIC rewrites', () => {
    const payload = Uint8Array.from({ length: 4000 }, (_, i) => i * 31);
    const p = buildPacket({ payload, seq: 0xffff_fc00, tcpFlags: 0x80 | 0x18 | 0x01, ipId: 0xfffe, tcpOptions: 12 });
    const r = segmentTcp(p.frame, { ipv6: false, segmentSize: 1448, tcpStart: p.l4 });
    if ('error' in r) throw new Error(r.error);
    expect(r.segments.map((s) => s.length - p.payloadAt)).toEqual([1448, 1448, 1104]);
    r.segments.forEach((s, i) => {
      expect(u16(s, p.ip + 2)).toBe(s.length - p.ip); // total length
      expect(u16(s, p.ip + 4)).toBe((0xfffe + i) & 0xffff); // identification, wrapping
      expect(referenceSum(s, p.ip, p.l4)).toBe(0xffff); // IPv4 header checksum
      expect(u32(s, p.l4 + 4)).toBe((0xffff_fc00 + i * 1448) >>> 0); // sequence number, wrapping
      expect(s[p.l4 + 13]).toBe([0x80 | 0x10, 0x10, 0x18 | 0x01][i]); // CWR first; FIN, PSH last
      expect(l4ChecksumOk(s, p.ip, p.l4, s.length, false, 6)).toBe(true);
    });
  });

  it('any TCP packet, IPv4 or IPv6, any options, VLAN, MSS: the segments carry the payload in order, each valid (property)', () => {
    fc.assert(
      fc.property(
        fc.record({
          ipv6: fc.boolean(),
          vlan: fc.boolean(),
          ipv4Options: fc.integer({ min: 0, max: 10 }).map((n) => n * 4),
          ipv6DestOptions: fc.integer({ min: 0, max: 3 }),
          tcpOptions: fc.integer({ min: 0, max: 10 }).map((n) => n * 4),
          payload: fc.uint8Array({ minLength: 0, maxLength: 9000 }),
          seq: fc.integer({ min: 0, max: 0xffff_ffff }),
          tcpFlags: fc.integer({ min: 0, max: 255 }),
          trailer: fc.integer({ min: 0, max: 6 }),
        }),
        fc.integer({ min: 1, max: 9000 }),
        (spec, mss) => {
          const p = buildPacket(spec);
          const r = segmentTcp(p.frame, { ipv6: spec.ipv6, segmentSize: mss, tcpStart: p.l4 });
          if ('error' in r) throw new Error(r.error);
          const expected = Math.max(1, Math.ceil(spec.payload.length / mss));
          expect(r.segments).toHaveLength(expected);
          const joined: number[] = [];
          r.segments.forEach((s, i) => {
            expect(s.subarray(0, p.ip)).toEqual(p.frame.subarray(0, p.ip)); // Ethernet (+VLAN) unchanged
            const data = s.subarray(p.payloadAt);
            expect(data.length).toBeLessThanOrEqual(mss);
            joined.push(...data);
            if (spec.ipv6) expect(u16(s, p.ip + 4)).toBe(s.length - p.ip - 40);
            else {
              expect(u16(s, p.ip + 2)).toBe(s.length - p.ip);
              expect(referenceSum(s, p.ip, p.l4)).toBe(0xffff);
            }
            expect(u32(s, p.l4 + 4)).toBe((spec.seq + i * mss) >>> 0);
            const last = i === expected - 1;
            expect(s[p.l4 + 13]).toBe(spec.tcpFlags & ~(last ? 0 : 0x09) & ~(i === 0 ? 0 : 0x80));
            expect(l4ChecksumOk(s, p.ip, p.l4, s.length, spec.ipv6, 6)).toBe(true);
          });
          expect(Uint8Array.from(joined)).toEqual(spec.payload);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses what is not a well-formed TCP packet of the announced family', () => {
    const tcp4 = buildPacket({ payload: new Uint8Array(3000) });
    const udp4 = buildPacket({ payload: new Uint8Array(3000), protocol: 'udp' });
    const tcp6 = buildPacket({ payload: new Uint8Array(3000), ipv6: true });
    const err = (frame: Uint8Array, ipv6: boolean, segmentSize = 1000, tcpStart?: number) => {
      const r = segmentTcp(frame, { ipv6, segmentSize, tcpStart });
      return 'error' in r ? r.error : 'ok';
    };
    expect(err(tcp4.frame, false)).toBe('ok');
    expect(err(tcp4.frame, true)).toMatch(/not an IPv6 packet/);
    expect(err(tcp6.frame, false)).toMatch(/not an IPv4 packet/);
    expect(err(udp4.frame, false)).toMatch(/not an unfragmented TCP/);
    expect(err(tcp4.frame, false, 0)).toMatch(/gso_size is 0/);
    expect(err(tcp4.frame, false, 1000, tcp4.l4 + 2)).toMatch(/csum_start/);
    const fragment = tcp4.frame.slice();
    fragment[tcp4.ip + 6] = 0x20; // MF
    expect(err(fragment, false)).toMatch(/unfragmented/);
    const badOffset = tcp4.frame.slice();
    badOffset[tcp4.l4 + 12] = 0x40; // 16-byte TCP header
    expect(err(badOffset, false)).toMatch(/data offset/);
    expect(err(tcp4.frame.subarray(0, tcp4.l4 + 10), false)).toMatch(/not an IPv4/); // total length past the end
  });

  it('never throws on damaged packets, and every segment it returns is no longer than the packet (property)', () => {
    const base = [buildPacket({ payload: new Uint8Array(3000).fill(7), tcpOptions: 8 }), buildPacket({ payload: new Uint8Array(3000).fill(7), ipv6: true, ipv6DestOptions: 1 })];
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), fc.nat(3100), fc.integer({ min: 0, max: 0xffff }),
        (which, edits, cut, mss) => {
          const p = base[which]!;
          const bytes = p.frame.slice(0, p.frame.length - (cut % p.frame.length));
          for (const [at, value] of edits) bytes[at % Math.max(1, bytes.length)] = value;
          const r = segmentTcp(bytes, { ipv6: which === 1, segmentSize: mss });
          if ('segments' in r) {
            for (const s of r.segments) expect(s.length).toBeLessThanOrEqual(bytes.length);
          }
        }),
      { numRuns: 3000 },
    );
  });
});
