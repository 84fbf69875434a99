import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_FRAME_BYTES } from './net-backend.js';
import { encodeStreamFrame, StreamFrameDecoder } from './stream-framing.js';

/** Splits `bytes` at the given cut points (any order, duplicates allowed). */
function chunks(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const c of [...at, bytes.length]) {
    out.push(bytes.subarray(prev, c));
    prev = c;
  }
  return out;
}

const concat = (parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) (out.set(p, at), (at += p.length));
  return out;
};

/** A length prefix written by hand (big-endian, as net/stream.c sends it), not by the encoder. */
const be32 = (n: number) => Uint8Array.of(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);

describe('stream framing (QEMU -netdev stream)', () => {
  it('prefixes a frame with its 32-bit big-endian length', () => {
    const frame = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);
    const wire = encodeStreamFrame(frame);
    expect([...wire.subarray(0, 4)]).toEqual([0, 0, 1, 44]);
    expect(wire.subarray(4)).toEqual(frame);
    expect(() => encodeStreamFrame(new Uint8Array(13))).toThrow(/13-byte frame/);
    expect(() => encodeStreamFrame(new Uint8Array(MAX_FRAME_BYTES + 1))).toThrow(/frame/);
  });

  it('decodes any chunking of a frame stream to the same frames (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 14, maxLength: 3000 }), { maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        (frames, cuts) => {
          const wire = concat(frames.map((f) => concat([be32(f.length), f])));
          const d = new StreamFrameDecoder();
          const got: Uint8Array[] = [];
          for (const c of chunks(wire, cuts)) expect(d.push(c, (f) => got.push(f))).toBe(true);
          expect(got).toEqual(frames);
          expect(d.buffered).toBe(0);
          expect(d.malformed).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('skips and counts frames shorter than an Ethernet header, staying in sync', () => {
    const good = new Uint8Array(20).fill(7);
    const wire = concat([be32(0), be32(5), new Uint8Array(5), be32(20), good]);
    const d = new StreamFrameDecoder();
    const got: Uint8Array[] = [];
    for (const b of wire) d.push(Uint8Array.of(b), (f) => got.push(f));
    expect(got).toEqual([good]);
    expect(d.malformed).toBe(2);
    expect(d.failure).toBeUndefined();
  });

  it('stops for good at a length above the maximum, holding nothing', () => {
    const d = new StreamFrameDecoder();
    const got: Uint8Array[] = [];
    expect(d.push(concat([be32(MAX_FRAME_BYTES + 1), new Uint8Array(100)]), (f) => got.push(f))).toBe(false);
    expect(d.failure).toMatch(/65551 bytes/);
    expect(d.malformed).toBe(1);
    expect(d.push(concat([be32(20), new Uint8Array(20)]), (f) => got.push(f))).toBe(false);
    expect(got).toEqual([]);
    expect(d.buffered).toBe(0);
  });

  it('never throws, never buffers more than one frame, on garbage (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 30 }), fc.integer({ min: 14, max: MAX_FRAME_BYTES }), (parts, max) => {
        const d = new StreamFrameDecoder(max);
        let frames = 0;
        for (const p of parts) {
          d.push(p, (f) => {
            expect(f.length).toBeGreaterThanOrEqual(14);
            expect(f.length).toBeLessThanOrEqual(max);
            frames++;
          });
          expect(d.buffered).toBeLessThanOrEqual(4 + max);
        }
        expect(frames + d.malformed).toBeLessThanOrEqual(parts.reduce((n, p) => n + p.length, 0) / 4 + 1);
      }),
      { numRuns: 500 },
    );
  });
});
