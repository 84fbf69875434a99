// Property tests: VMDK and VDI images made by qemu-img, with mutated headers, tables, grain
// markers and descriptors, either read or fail with a TypervisorError — never another
// exception, never a hang.
import fc from 'fast-check';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TypervisorError } from '../../src/core/errors.js';
import { openImage } from '../../src/storage/open-image.js';
import { imageBytes, MemoryImageFileSystem } from './qcow2-images.js';
import { qemu, qemuIo } from './qemu-tools.js';
import { withFooter } from './vmdk-vdi-images.js';

// A hang detector, not a speed test: each case takes milliseconds, and 10 s leaves room for a
// loaded CI machine where guest boots run beside this file.
const TIME_LIMIT_MS = 10_000;
const RUNS = Number(process.env.VMDK_VDI_FUZZ_RUNS ?? 200);
const WRITES = ['write -P 0xab 0 4k', 'write -P 0xcd 700k 70k', 'write -z 1M 64k', 'write -P 0x11 1535k 1k'];

function made(format: 'vmdk' | 'vdi', createOptions: string, convertOptions?: string): Uint8Array {
  return imageBytes((dir) => {
    const f = path.join(dir, `a.${format}`);
    qemu('qemu-img', ['create', '-q', '-f', format, ...(createOptions ? ['-o', createOptions] : []), f, '1536k']);
    qemuIo(f, WRITES, ['-f', format]);
    if (convertOptions === undefined) return f;
    const c = path.join(dir, `c.${format}`);
    qemu('qemu-img', ['convert', '-O', format, '-o', convertOptions, f, c]);
    return c;
  });
}

interface Base {
  readonly bytes: Uint8Array;
  /** Where the tables are in `bytes` (computed from the unmutated image). */
  readonly tables: Array<{ at: number; len: number; width: 4 | 8 }>;
  /** Header fields: offset and width (little-endian). */
  readonly fields: Array<[number, 1 | 2 | 4 | 8]>;
  readonly other?: Record<string, Uint8Array>;
  readonly name: string;
}

const u32 = (b: Uint8Array, at: number) => new DataView(b.buffer, b.byteOffset).getUint32(at, true);
const u64 = (b: Uint8Array, at: number) => Number(new DataView(b.buffer, b.byteOffset).getBigUint64(at, true));

/** SparseExtentHeader fields (VMware Virtual Disk Format 5.0). */
const VMDK_FIELDS: Array<[number, 1 | 2 | 4 | 8]> = [[0, 4], [4, 4], [8, 4], [12, 8], [20, 8], [28, 8], [36, 8], [44, 4], [48, 8], [56, 8], [64, 8], [72, 1], [73, 1], [75, 1], [77, 2]];
/** VDI header 1.1 fields (QEMU block/vdi.c VdiHeader). */
const VDI_FIELDS: Array<[number, 1 | 2 | 4 | 8]> = [[0x40, 4], [0x44, 4], [0x48, 4], [0x4c, 4], [0x154, 4], [0x158, 4], [0x168, 4], [0x170, 8], [0x178, 4], [0x17c, 4], [0x180, 4], [0x184, 4], [0x1b8, 1]];

function vmdkBase(bytes: Uint8Array, headerAt = 0): Base {
  const h = headerAt;
  const gd = u64(bytes, h + 56) * 512;
  const gt = u32(bytes, gd) * 512;
  const grain = u32(bytes, gt) * 512;
  const fields = VMDK_FIELDS.map(([o, w]) => [o + h, w] as [number, 1 | 2 | 4 | 8]);
  return { bytes, name: 'x.vmdk', fields, tables: [{ at: gd, len: 64, width: 4 }, { at: gt, len: 2048, width: 4 }, { at: grain, len: 512, width: 4 }, { at: grain, len: 16, width: 8 }] };
}

const stream = made('vmdk', '', 'subformat=streamOptimized');
const footer = withFooter(stream);
const dynamic = made('vdi', '');
const fixed = made('vdi', 'static=on');
const vdiBase = (bytes: Uint8Array): Base => ({ bytes, name: 'x.vdi', fields: VDI_FIELDS, tables: [{ at: u32(bytes, 0x154), len: 8, width: 4 }] });
const flatDescriptor = new TextEncoder().encode('# Disk DescriptorFile\nversion=1\nCID=1234abcd\nparentCID=ffffffff\ncreateType="twoGbMaxExtentFlat"\n\n# Extent description\nRW 1024 FLAT "x-f.vmdk" 0\nRW 16 ZERO\nRW 3072 SPARSE "x-s.vmdk"\nRW 1024 FLAT "x-f.vmdk" 1024\n');
const sparse = made('vmdk', 'zeroed_grain=on');

const delta = imageBytes(
  (dir) => {
    const f = path.join(dir, 'x.vmdk');
    qemu('qemu-img', ['create', '-q', '-f', 'vmdk', '-o', 'zeroed_grain=on', '-b', 'p.vmdk', '-F', 'vmdk', f]);
    qemuIo(f, ['write -P 0x71 60k 8k', 'write -z 64k 64k'], ['-f', 'vmdk']);
    return f;
  },
  (dir) => writeFileSync(path.join(dir, 'p.vmdk'), sparse),
);

const bases: Record<string, Base> = {
  'vmdk delta disk over a parent': { ...vmdkBase(delta), other: { 'p.vmdk': sparse } },
  'vmdk monolithicSparse, zeroed grains': vmdkBase(sparse),
  'vmdk streamOptimized': vmdkBase(stream),
  'vmdk streamOptimized with its header in the footer': { ...vmdkBase(footer, footer.length - 1024), fields: [...VMDK_FIELDS, ...VMDK_FIELDS.map(([o, w]) => [o + footer.length - 1024, w] as [number, 1 | 2 | 4 | 8]), [footer.length - 1536 + 8, 4], [footer.length - 1536 + 12, 4], [footer.length - 512 + 12, 4]] },
  'vmdk descriptor (FLAT, ZERO, SPARSE)': { bytes: flatDescriptor, name: 'x.vmdk', fields: [], tables: [], other: { 'x-f.vmdk': new Uint8Array(1 << 20).fill(0x44), 'x-s.vmdk': sparse } },
  'vdi dynamic': vdiBase(dynamic),
  'vdi static': vdiBase(fixed),
};

const interesting = fc.oneof(
  fc.constantFrom(0n, 1n, 2n, 3n, 7n, 8n, 128n, 512n, 0x10000n, 0x100000n, 0x7fffffffn, 0xfffffffen, 0xffffffffn, 1n << 44n, 1n << 53n, (1n << 64n) - 1n),
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
);

type Mutation =
  | { kind: 'field'; field: number; value: bigint }
  | { kind: 'entry'; table: number; index: number; value: bigint }
  | { kind: 'byte'; anywhere: boolean; at: number; value: number }
  | { kind: 'truncate'; keep: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('field' as const), field: fc.nat(), value: interesting }),
  fc.record({ kind: fc.constant('entry' as const), table: fc.nat(), index: fc.nat(600), value: interesting }),
  fc.record({ kind: fc.constant('byte' as const), anywhere: fc.boolean(), at: fc.nat(), value: fc.nat(255) }),
  fc.record({ kind: fc.constant('truncate' as const), keep: fc.double({ min: 0, max: 1, noNaN: true }) }),
);

function apply(base: Base, b: Uint8Array, m: Mutation): Uint8Array {
  const put = (at: number, v: bigint, width: number) => {
    for (let i = 0; i < width && at + i < b.length; i++) b[at + i] = Number((v >> BigInt(8 * i)) & 0xffn);
  };
  switch (m.kind) {
    case 'field':
      if (base.fields.length > 0) {
        const [at, width] = base.fields[m.field % base.fields.length];
        put(at, m.value, width);
      }
      return b;
    case 'entry':
      if (base.tables.length > 0) {
        const t = base.tables[m.table % base.tables.length];
        put(t.at + (m.index * t.width) % t.len, m.value, t.width);
      }
      return b;
    case 'byte': {
      // Text descriptors: any byte; binary images: mostly the header's first sectors.
      const span = m.anywhere || base.fields.length === 0 ? b.length : Math.min(b.length, 4096);
      if (span > 0) b[m.at % span] = m.value;
      return b;
    }
    case 'truncate':
      return b.subarray(0, Math.floor(m.keep * b.length));
  }
}

function withTimeout<T>(p: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${TIME_LIMIT_MS} ms`)), TIME_LIMIT_MS);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

/** Opens the image and reads its first 2 MiB and a few places elsewhere. */
async function exercise(base: Base, bytes: Uint8Array, probes: number[]): Promise<void> {
  const disk = await openImage(new MemoryImageFileSystem({ [base.name]: bytes, ...base.other }), base.name, { readOnly: true });
  try {
    const cap = disk.capacity;
    const buf = new Uint8Array(Math.min(cap, 2 << 20));
    await disk.read(0, buf);
    for (const p of probes) {
      const off = Math.floor(p * cap);
      await disk.read(off, buf.subarray(0, Math.min(100_000, cap - off)));
    }
  } finally {
    await disk.close();
  }
}

describe('VMDK and VDI parsing of mutated images', () => {
  for (const [label, base] of Object.entries(bases)) {
    it(`${label}: reads or refuses with a TypervisorError, in bounded time`, async () => {
      // The unmutated image must work, so the property does not pass by refusing everything.
      await exercise(base, base.bytes.slice(), [0.5, 0.99]);
      const outcomes = { read: 0, refused: 0 };
      await fc.assert(
        fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 3 }), async (mutations, probes) => {
          let bytes: Uint8Array = base.bytes.slice();
          for (const m of mutations) bytes = apply(base, bytes, m);
          try {
            await withTimeout(exercise(base, bytes.slice(), probes));
            outcomes.read++;
          } catch (e) {
            if (!(e instanceof TypervisorError)) throw e;
            outcomes.refused++;
          }
        }),
        { numRuns: RUNS },
      );
      // Both outcomes happen: the mutations reach the parser and do not all break the image.
      expect(outcomes.read).toBeGreaterThan(0);
      expect(outcomes.refused).toBeGreaterThan(0);
    }, 120_000);
  }
});
