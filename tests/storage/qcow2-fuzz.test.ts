// Property tests: qcow2 images with mutated headers, L1/L2 tables and compressed data either
// read or fail with a TypervisorError — never another exception, never a hang.
import fc from 'fast-check';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TypervisorError } from '../../src/core/errors.js';
import { openImage } from '../../src/storage/open-image.js';
import { parseQcow2Header } from '../../src/storage/qcow2/qcow2-header.js';
import { be, imageBytes, MemoryImageFileSystem, smallImage } from './qcow2-images.js';
import { qemu, qemuIo } from './qemu-tools.js';

// A hang detector, not a speed test: each case takes milliseconds, and 10 s leaves room for a
// loaded CI machine where guest boots run beside this file.
const TIME_LIMIT_MS = 10_000;
const backing = Uint8Array.from({ length: 512 * 1024 }, (_, i) => i & 0xff);
const RUNS = Number(process.env.QCOW2_FUZZ_RUNS ?? 250);

const bases: Record<string, Uint8Array> = {
  'v3 64 KiB': smallImage(),
  'v2 64 KiB': smallImage({ compat: '0.10' }),
  'v3 512-byte clusters': smallImage({ clusterSize: 512 }),
  'v3 compressed': smallImage({ compressed: true }),
  'v3 extended L2 over a backing file': imageBytes(
    (dir) => {
      const f = path.join(dir, 'x.qcow2');
      qemu('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'extended_l2=on', '-b', 'base.raw', '-F', 'raw', f, '1M'], dir);
      qemuIo(f, ['write -P 0x31 1k 1k', 'write -z 70k 6k', 'write -P 0x32 300k 64k']);
      return f;
    },
    (dir) => writeFileSync(path.join(dir, 'base.raw'), backing),
  ),
};

/** Header fields (offset, width) from qcow2.txt "== Header ==". */
const FIELDS: Array<[number, 4 | 8]> = [
  [4, 4], [8, 8], [16, 4], [20, 4], [24, 8], [32, 4], [36, 4], [40, 8], [48, 8], [56, 4], [60, 4], [64, 8],
  [72, 8], [80, 8], [88, 8], [96, 4], [100, 4],
];
const interesting = fc.oneof(
  fc.constantFrom(0n, 1n, 7n, 8n, 9n, 21n, 22n, 104n, 512n, 0x10000n, 0x7fffffffn, 0x80000000n, 0xffffffffn, 1n << 53n, (1n << 63n) | 0x30000n, (1n << 64n) - 1n),
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
);

type Mutation =
  | { kind: 'field'; field: number; value: bigint }
  | { kind: 'byte'; region: 'header' | 'l1' | 'l2' | 'reftable' | 'refblock' | 'any'; at: number; value: number }
  | { kind: 'entry'; region: 'l1' | 'l2' | 'reftable'; index: number; value: bigint };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('field' as const), field: fc.nat(FIELDS.length - 1), value: interesting }),
  fc.record({ kind: fc.constant('byte' as const), region: fc.constantFrom('header' as const, 'l1' as const, 'l2' as const, 'reftable' as const, 'refblock' as const, 'any' as const), at: fc.nat(), value: fc.nat(255) }),
  fc.record({ kind: fc.constant('entry' as const), region: fc.constantFrom('l1' as const, 'l2' as const, 'reftable' as const), index: fc.nat(40), value: interesting }),
);

function apply(b: Uint8Array, m: Mutation): void {
  const l1 = Math.min(be.u64(b, 40), b.length - 8);
  const l1e = be.u64n(b, l1) & 0x00ff_ffff_ffff_fe00n;
  const l2 = l1e < BigInt(b.length - 8) ? Number(l1e) : l1;
  const rt = Math.min(be.u64(b, 48), b.length - 8);
  const rte = be.u64n(b, rt);
  const rb = rte < BigInt(b.length - 8) ? Number(rte) : rt;
  const put = (at: number, v: bigint, width: 4 | 8) => {
    if (at + width > b.length) return;
    if (width === 4) be.setU32(b, at, Number(v & 0xffffffffn));
    else be.setU64(b, at, v & ((1n << 64n) - 1n));
  };
  switch (m.kind) {
    case 'field': {
      const [at, width] = FIELDS[m.field];
      put(at, m.value, width);
      break;
    }
    case 'byte': {
      const base = { header: 0, l1, l2, reftable: rt, refblock: rb, any: 0 }[m.region];
      const span = m.region === 'any' ? b.length : m.region === 'header' ? 512 : 1024;
      const at = base + (m.at % span);
      if (at < b.length) b[at] = m.value;
      break;
    }
    case 'entry':
      put({ l1, l2, reftable: rt }[m.region] + 8 * m.index, m.value, 8);
      break;
  }
}

function withTimeout<T>(p: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${TIME_LIMIT_MS} ms`)), TIME_LIMIT_MS);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

/** Opens the mutated image and reads (or writes, then reads) its start and a few places between. */
async function exercise(bytes: Uint8Array, probes: number[], writable = false): Promise<void> {
  const fs = new MemoryImageFileSystem({ 'img.qcow2': bytes, 'base.raw': backing });
  const disk = await openImage(fs, 'img.qcow2', { readOnly: !writable, l2CacheBytes: 128 * 1024 });
  try {
    const cap = disk.capacity;
    const buf = new Uint8Array(Math.min(cap, 1024 * 1024));
    for (const p of probes) {
      const off = Math.floor(p * cap);
      if (writable) await disk.write(off, buf.subarray(0, Math.min(70_000, cap - off)).fill(0x77));
      if (writable) await disk.discard?.(Math.floor(off / 2), Math.min(200_000, cap - Math.floor(off / 2)));
    }
    await disk.read(0, buf);
    for (const p of probes) {
      const off = Math.floor(p * cap);
      await disk.read(off, buf.subarray(0, Math.min(70_000, cap - off)));
    }
  } finally {
    await disk.close();
  }
}

describe('qcow2 parsing of mutated images', () => {
  const modes = Object.entries(bases).flatMap(([label, base]) => [
    { label: `${label}: reads`, base, writable: false },
    ...(label.includes('extended') ? [] : [{ label: `${label}: writes and reads`, base, writable: true }]),
  ]);
  for (const { label, base, writable } of modes) {
    it(`${label} or refuses with a TypervisorError, in bounded time`, async () => {
      // The unmutated image must work, so the property is not passing by refusing everything.
      await exercise(base.slice(), [0.5], writable);
      const outcomes = { read: 0, refused: 0 };
      const reasons = new Map<string, number>();
      await fc.assert(
        fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 3 }), async (mutations, probes) => {
          const bytes = base.slice();
          for (const m of mutations) apply(bytes, m);
          try {
            await withTimeout(exercise(bytes, probes, writable));
            outcomes.read++;
          } catch (e) {
            if (!(e instanceof TypervisorError)) throw e;
            outcomes.refused++;
            if (process.env.QCOW2_FUZZ_VERBOSE) {
              const key = e.message.replace(/0x[0-9a-f]+|\d+/g, 'N');
              reasons.set(key, (reasons.get(key) ?? 0) + 1);
            }
          }
        }),
        { numRuns: RUNS },
      );
      // Both outcomes must be common, or the mutations are not reaching the parser's depths.
      if (process.env.QCOW2_FUZZ_VERBOSE) console.log(label, outcomes, [...reasons].sort((a, b) => b[1] - a[1]).slice(0, 12));
      expect(outcomes.read).toBeGreaterThan(RUNS / 20);
      expect(outcomes.refused).toBeGreaterThan(RUNS / 20);
    });
  }

  it('parseQcow2Header on random bytes behind a valid magic only throws TypervisorError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 4096 }), fc.nat(1 << 30), fc.constantFrom(9, 12, 16, 21), fc.constantFrom(2, 3), (rest, fileSize, bits, version) => {
        const bytes = new Uint8Array(Math.max(rest.length, 112));
        bytes.set(rest);
        be.setU32(bytes, 0, 0x514649fb);
        be.setU32(bytes, 4, version);
        be.setU32(bytes, 20, bits);
        try {
          const h = parseQcow2Header('fuzz.qcow2', bytes, fileSize);
          expect(h.l1TableOffset + h.l1Size * 8).toBeLessThanOrEqual(fileSize);
        } catch (e) {
          if (!(e instanceof TypervisorError)) throw e;
        }
      }),
      { numRuns: 2000 },
    );
  });
});
