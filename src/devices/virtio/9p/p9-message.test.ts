import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { P9DecodeError, P9Reader, P9Writer, readHeader } from './p9-message.js';

const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, '0')).join(' ');

describe('9P codec (intro(5): little-endian, size[4] type[1] tag[2], strings len[2]+UTF-8)', () => {
  it('lays out Rversion as intro(5) says', () => {
    // size = 4+1+2 + 4 + 2+8 = 21; type 101; tag NOTAG; msize 8192; "9P2000.L"
    const m = new P9Writer(101, 0xffff).u32(8192).string('9P2000.L').finish();
    expect(hex(m)).toBe('15 00 00 00 65 ff ff 00 20 00 00 08 00 39 50 32 30 30 30 2e 4c');
    expect(readHeader(m)).toEqual({ size: 21, type: 101, tag: 0xffff });
  });

  it('lays out a qid as type[1] version[4] path[8]', () => {
    const m = new P9Writer(105, 1).qid({ type: 0x80, version: 0x01020304, path: 0x1122334455667788n }).finish();
    expect(hex(m.subarray(7))).toBe('80 04 03 02 01 88 77 66 55 44 33 22 11');
  });

  it('reads back what it wrote, u64 and UTF-8 included', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xff }), fc.integer({ min: 0, max: 0xffff }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.string({ unit: 'grapheme', maxLength: 40 }), fc.uint8Array({ maxLength: 600 }), (a, b, c, s, d) => {
        const m = new P9Writer(7, 9).u8(a).u16(b).u64(c).string(s).u32(d.length).data(d).finish();
        const r = new P9Reader(m.subarray(7));
        expect([r.u8(), r.u16(), r.u64(), r.string()]).toEqual([a, b, c, s]);
        expect(r.data(r.u32())).toEqual(d);
        expect(r.remaining).toBe(0);
      }),
    );
  });

  it('grows past its first buffer (a 100 KiB Rread)', () => {
    const data = Uint8Array.from({ length: 100_000 }, (_, i) => (i * 7) & 0xff);
    const m = new P9Writer(117, 3).u32(data.length).data(data).finish();
    expect(m.length).toBe(11 + 100_000);
    expect(m.subarray(11)).toEqual(data);
  });

  it('grows past its first buffer field by field (a long Rreaddir, every width)', () => {
    const w = new P9Writer(41, 3);
    for (let i = 0; i < 200; i++) w.u8(i).u16(i * 3).u32(i * 100_000).u64(BigInt(i) << 40n).string(`entry-${i}`);
    const r = new P9Reader(w.finish().subarray(7));
    for (let i = 0; i < 200; i++) expect([r.u8(), r.u16(), r.u32(), r.u64(), r.string()]).toEqual([i, i * 3, i * 100_000, BigInt(i) << 40n, `entry-${i}`]);
    expect(r.remaining).toBe(0);
  });

  it('refuses to read past the end, a string longer than the message, and invalid UTF-8', () => {
    expect(() => new P9Reader(Uint8Array.of(1, 2, 3)).u32()).toThrow(P9DecodeError);
    expect(() => new P9Reader(Uint8Array.of(5, 0, 0x61)).string()).toThrow(/runs past/);
    expect(() => new P9Reader(Uint8Array.of(2, 0, 0xc3, 0x28)).string()).toThrow(/not valid UTF-8/);
    expect(() => new P9Reader(Uint8Array.of(0xff, 0xff, 0xff, 0x7f)).data(0x7fffffff)).toThrow(P9DecodeError);
    expect(readHeader(Uint8Array.of(1, 2, 3, 4, 5, 6))).toBeUndefined();
  });

  it('never reads out of bounds on any input: every read returns a value or throws P9DecodeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.array(fc.constantFrom('u8', 'u16', 'u32', 'u64', 'string', 'data'), { maxLength: 20 }), (bytes, ops) => {
        const r = new P9Reader(bytes);
        try {
          for (const op of ops) {
            if (op === 'data') r.data(r.u16());
            else r[op as 'u8']();
            expect(r.remaining).toBeGreaterThanOrEqual(0);
          }
        } catch (e) {
          expect(e).toBeInstanceOf(P9DecodeError);
        }
      }),
    );
  });
});
