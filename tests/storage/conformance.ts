// The BlockBackend contract (src/storage/block-backend.ts), run against every format: each
// format's test file calls blockBackendConformance() with a factory for a fresh backend and the
// bytes it must hold.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TypervisorError } from '../../src/core/errors.js';
import type { BlockBackend } from '../../src/storage/block-backend.js';

export interface ConformanceSubject {
  readonly backend: BlockBackend;
  /** What the whole disk must read as. */
  readonly expected: Uint8Array;
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  return undefined;
}

/** Defines the conformance tests for one format/configuration. */
export function blockBackendConformance(label: string, make: () => Promise<ConformanceSubject>): void {
  const withSubject = (fn: (s: ConformanceSubject) => Promise<void>) => async () => {
    const s = await make();
    try {
      await fn(s);
    } finally {
      await s.backend.close();
    }
  };

  describe(`BlockBackend conformance: ${label}`, () => {
    it('capacity is the disk size and a whole read returns every byte', withSubject(async ({ backend, expected }) => {
      expect(backend.capacity).toBe(expected.length);
      const all = new Uint8Array(backend.capacity);
      await backend.read(0, all);
      expect(Buffer.from(all).equals(Buffer.from(expected))).toBe(true);
    }));

    it('zero-length requests succeed anywhere up to the end', withSubject(async ({ backend }) => {
      await backend.read(0, new Uint8Array(0));
      await backend.read(backend.capacity, new Uint8Array(0));
      await backend.read(Math.floor(backend.capacity / 3), new Uint8Array(0));
    }));

    it('reads past the end, at negative or non-integer offsets are refused and leave dst alone', withSubject(async ({ backend }) => {
      const cap = backend.capacity;
      const cases: Array<[number, number]> = [[cap, 1], [cap - 1, 2], [cap + 4096, 512], [0, cap + 1], [-1, 1], [0.5, 1], [Number.MAX_SAFE_INTEGER, 1], [NaN, 1]];
      for (const [off, len] of cases) {
        const dst = new Uint8Array(len).fill(0x5a);
        const e = await rejection(backend.read(off, dst));
        expect(e, `read(${off}, ${len})`).toBeInstanceOf(TypervisorError);
        expect(dst.every((b) => b === 0x5a)).toBe(true);
      }
      if (!backend.readOnly) {
        const e = await rejection(backend.write(cap - 1, new Uint8Array(2)));
        expect(e).toBeInstanceOf(TypervisorError);
      }
    }));

    it('unaligned reads of any offset and length return the right bytes', withSubject(async ({ backend, expected }) => {
      const cap = backend.capacity;
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 0, max: cap }), fc.integer({ min: 0, max: 200_000 }), async (off, want) => {
          const len = Math.min(want, cap - off);
          const dst = new Uint8Array(len);
          await backend.read(off, dst);
          expect(Buffer.from(dst).equals(Buffer.from(expected.subarray(off, off + len)))).toBe(true);
        }),
        { numRuns: 60 },
      );
    }));

    it('concurrent reads each get their own bytes', withSubject(async ({ backend, expected }) => {
      const cap = backend.capacity;
      const reqs = Array.from({ length: 16 }, (_, i) => {
        const off = Math.floor((cap * i) / 16) + (i * 7) % 512;
        const len = Math.min(5000 + i * 333, cap - off);
        return { off, dst: new Uint8Array(Math.max(0, len)) };
      });
      await Promise.all(reqs.map((r) => backend.read(r.off, r.dst)));
      for (const r of reqs) expect(Buffer.from(r.dst).equals(Buffer.from(expected.subarray(r.off, r.off + r.dst.length)))).toBe(true);
    }));

    it('writes are refused on a read-only disk, visible on a writable one', withSubject(async ({ backend, expected }) => {
      const data = Uint8Array.from({ length: 1500 }, (_, i) => (i * 31 + 7) & 0xff);
      const off = Math.min(777, backend.capacity - data.length);
      if (backend.readOnly) {
        expect(await rejection(backend.write(off, data))).toBeInstanceOf(TypervisorError);
        const back = new Uint8Array(data.length);
        await backend.read(off, back);
        expect(Buffer.from(back).equals(Buffer.from(expected.subarray(off, off + data.length)))).toBe(true);
      } else {
        await backend.write(off, data);
        await backend.flush();
        const back = new Uint8Array(data.length + 2);
        await backend.read(off - 1, back);
        expect(back[0]).toBe(expected[off - 1]);
        expect(Buffer.from(back.subarray(1, 1 + data.length)).equals(Buffer.from(data))).toBe(true);
        expect(back[data.length + 1]).toBe(expected[off + data.length]);
      }
      await backend.flush();
    }));

    it('every call after close is refused', async () => {
      const { backend } = await make();
      await backend.close();
      expect(await rejection(backend.read(0, new Uint8Array(1)))).toBeInstanceOf(TypervisorError);
      expect(await rejection(backend.flush())).toBeInstanceOf(TypervisorError);
      await backend.close(); // idempotent
    });
  });
}
