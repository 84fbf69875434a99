// Malformed VHD images are refused with messages that say what is wrong and where — and
// where qemu-img refuses the same image, it does too. A property test mutates the footer, the
// dynamic disk header, the BAT and a block bitmap: opening, reading and writing either work or
// fail with a TypervisorError, never another exception, never a hang.
import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TypervisorError } from '../../src/core/errors.js';
import { MemoryImageFile } from '../../src/storage/memory-image-file.js';
import { vhdChecksum } from '../../src/storage/vhd/vhd-footer.js';
import { VhdImage } from '../../src/storage/vhd/vhd-image.js';
import { qemu, qemuIo, tempDir } from './qemu-tools.js';

const tmp = tempDir('vhd-bad-');
afterAll(() => tmp.remove());
const at = (name: string) => path.join(tmp.dir, name);
const MiB = 1024 * 1024;

/** A 6 MiB dynamic image qemu-img made, with blocks 0 and 2 allocated (BAT at 1536). */
const dynamicBase = (() => {
  const f = at('base.vhd');
  qemu('qemu-img', ['create', '-q', '-f', 'vpc', f, '6M']);
  qemuIo(f, ['write -P 0x41 0 100k', 'write -P 0x42 4M 8k'], ['-f', 'vpc']);
  return new Uint8Array(readFileSync(f));
})();
const fixedBase = (() => {
  const f = at('fixed.vhd');
  qemu('qemu-img', ['create', '-q', '-f', 'vpc', '-o', 'subformat=fixed', f, '1M']);
  return new Uint8Array(readFileSync(f));
})();

const u32 = (b: Uint8Array, off: number, v: number) => new DataView(b.buffer, b.byteOffset).setUint32(off, v >>> 0);
const getU32 = (b: Uint8Array, off: number) => new DataView(b.buffer, b.byteOffset).getUint32(off);

/** Recomputes the checksum of the footer copies (offset 0 when present, and the end). */
function fixFooters(b: Uint8Array): void {
  for (const off of [0, b.length - 512]) {
    if (String.fromCharCode(...b.subarray(off, off + 8)) !== 'conectix') continue;
    u32(b, off + 64, vhdChecksum(b.subarray(off, off + 512), 64));
  }
}

async function open(bytes: Uint8Array, writable = false): Promise<VhdImage> {
  return VhdImage.open(new MemoryImageFile(bytes, { writable }), { readOnly: !writable });
}

async function refusal(bytes: Uint8Array, writable = false): Promise<TypervisorError> {
  try {
    const d = await open(bytes, writable);
    await d.close();
  } catch (e) {
    expect(e).toBeInstanceOf(TypervisorError);
    return e as TypervisorError;
  }
  throw new Error('the image was accepted');
}

/** qemu-img's verdict on the same bytes: its error message, or undefined when it opens them. */
function qemuVerdict(bytes: Uint8Array, name: string): string | undefined {
  const f = at(name);
  writeFileSync(f, bytes);
  const r = spawnSync('qemu-img', ['info', '-f', 'vpc', f], { encoding: 'utf8' });
  return r.status === 0 ? undefined : r.stderr;
}

type Case = [label: string, base: Uint8Array, mutate: (b: Uint8Array) => Uint8Array | void, message: RegExp, qemuRefuses: RegExp | false];

const cases: Case[] = [
  ['a footer with a bad checksum', dynamicBase, (b) => void (b[100] ^= 1), /footer at offset 0 has checksum 0x[0-9a-f]+ but its bytes give 0x[0-9a-f]+/, /Incorrect header checksum/],
  ['a fixed disk\'s footer with a bad checksum', fixedBase, (b) => void (b[b.length - 512 + 40] ^= 1), new RegExp(`footer at offset ${fixedBase.length - 512} has checksum`), /Incorrect header checksum|invalid VPC image/],
  ['a BAT past the end of the file', dynamicBase, (b) => u32(b, 512 + 20, b.length - 8), /the BAT \(\d+ entries at offset \d+\) ends past the end of the file/, /truncated/],
  ['a BAT entry past the end of the file', dynamicBase, (b) => u32(b, 1536 + 4, 0x100000), /BAT entry 1 \(0x100000\): block at offset 536870912 ends at \d+, past the end of the file/, /truncated/],
  ['a block size of 3', dynamicBase, (b) => u32(b, 512 + 32, 3), /block size 3, not a power of two/, /Invalid block size 3/],
  ['a block size of 0', dynamicBase, (b) => u32(b, 512 + 32, 0), /block size 0, not a power of two/, /Invalid block size 0/],
  ['a block size of 3 MiB', dynamicBase, (b) => u32(b, 512 + 32, 3 * MiB), /block size 3145728, not a power of two/, /Invalid block size/],
  ['too few BAT entries for the disk', dynamicBase, (b) => u32(b, 512 + 28, 1), /the BAT has 1 entries of 2097152-byte blocks, covering 2097152 bytes, less than the disk's \d+/, /Page table too small/],
  ['an absurd number of BAT entries', dynamicBase, (b) => u32(b, 512 + 28, 0xfffffff0), /the BAT has 4294967280 entries \(\d+ bytes\), more than the \d+ typervisor loads/, /too large|Could not open/],
  ['a file cut inside its last block', dynamicBase, (b) => b.slice(0, b.length - 4096), /past the end of the file .*|truncated/, /truncated/],
  ['a differencing disk', dynamicBase, (b) => { u32(b, 60, 4); fixFooters(b); }, /a differencing VHD \(disk type 4\)/, false],
  ['disk type 7', dynamicBase, (b) => { u32(b, 60, 7); fixFooters(b); }, /disk type 7; only fixed \(2\) and dynamic \(3\)/, false],
  ['a 100-byte file', dynamicBase, (b) => b.slice(0, 100), /100 bytes long, too short for a VHD image/, /./],
  ['no footer anywhere', dynamicBase, (b) => { b[0] = 0x43; b[b.length - 512] = 0x43; }, /no VHD footer \("conectix"\) at offset 0 or at the end of the file/, /invalid VPC image/],
  ['the dynamic header outside the file', dynamicBase, (b) => { u32(b, 20, 0x7fffff00); fixFooters(b); }, /dynamic disk header at offset 2147483392, outside the file/, /./],
  ['a broken "cxsparse" cookie', dynamicBase, (b) => void (b[513] = 0x21), /no VHD dynamic disk header \("cxsparse"\) at offset 512/, /./],
  ['a fixed disk bigger than its file', fixedBase, (b) => { const o = b.length - 512; b[o + 56] = 0x10; fixFooters(b); }, new RegExp(`gives a fixed disk of \\d+ bytes, but the file holds only ${fixedBase.length - 512} bytes before its footer`), false],
  ['a BAT entry pointing at the footer copy', dynamicBase, (b) => u32(b, 1536, 0), /BAT entry 0 \(0x0\): block at offset 0 overlaps the footer copy/, false],
  ['a disk over 2040 GiB', dynamicBase, (b) => { b.set([0x77, 0x69, 0x6e, 0x20], 28); u32(b, 48, 0x300); fixFooters(b); }, /more than the format's 2040 GiB/, /./],
];

describe('malformed VHD images', () => {
  it('the unmutated images open', async () => {
    await (await open(dynamicBase.slice(), true)).close();
    await (await open(fixedBase.slice(), true)).close();
  });

  for (const [label, base, mutate, message, qemuRefuses] of cases) {
    it(`${label} is refused with a precise message${qemuRefuses ? ', as qemu-img refuses it' : ''}`, async () => {
      const copy = base.slice();
      const bytes = mutate(copy) ?? copy;
      const e = await refusal(bytes);
      expect(e.message).toMatch(message);
      expect(e.message.startsWith('memory: ')).toBe(true);
      expect(e.hint).toBeTruthy();
      if (qemuRefuses) expect(qemuVerdict(bytes, `${label.replace(/\W+/g, '-')}.vhd`)).toMatch(qemuRefuses);
    });
  }

  it('a damaged trailing footer of a dynamic disk does not matter (the copy at offset 0 is read, as by QEMU)', async () => {
    const b = dynamicBase.slice();
    b[b.length - 400] ^= 0xff;
    const d = await open(b);
    expect(d.capacity).toBe(6 * MiB + (d.capacity - 6 * MiB));
    await d.close();
    expect(qemuVerdict(b, 'trailing.vhd')).toBeUndefined();
  });

  it('two BAT entries sharing a block open read-only but are refused for writing', async () => {
    const b = dynamicBase.slice();
    u32(b, 1536 + 4, getU32(b, 1536));
    await (await open(b)).close();
    expect((await refusal(b, true)).message).toMatch(/two BAT entries point at overlapping blocks/);
  });
});

// A hang detector, not a speed test: each case takes milliseconds, and 10 s leaves room for a
// loaded CI machine where guest boots run beside this file.
const TIME_LIMIT_MS = 10_000;

function withTimeout<T>(p: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${TIME_LIMIT_MS} ms`)), TIME_LIMIT_MS);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

type Region = 'footer' | 'header' | 'bat' | 'bitmap' | 'tail';
interface Mutation {
  region: Region;
  at: number;
  value: number;
  /** Set a 32-bit word instead of a byte. */
  word: boolean;
}
const interesting = fc.oneof(fc.constantFrom(0, 1, 3, 511, 512, 0x200000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff), fc.nat(0xffffffff));
const mutation: fc.Arbitrary<Mutation> = fc.record({
  region: fc.constantFrom<Region>('footer', 'header', 'bat', 'bitmap', 'tail'),
  at: fc.nat(1023),
  value: interesting,
  word: fc.boolean(),
});

function apply(b: Uint8Array, m: Mutation): void {
  const bat = getU32(b, 512 + 20);
  const block0 = getU32(b, 1536) * 512;
  const base = { footer: 0, header: 512, bat: Math.min(bat, b.length - 4), bitmap: Math.min(block0, b.length - 4), tail: b.length - 512 }[m.region];
  const span = { footer: 512, header: 1024, bat: 16, bitmap: 512, tail: 512 }[m.region];
  const off = base + (m.at % span);
  if (m.word) {
    if (off + 4 <= b.length) u32(b, off - (off % 4), m.value);
  } else if (off < b.length) b[off] = m.value & 0xff;
}

async function exercise(bytes: Uint8Array, probes: number[], writable: boolean): Promise<void> {
  const d = await open(bytes, writable);
  try {
    const cap = d.capacity;
    const buf = new Uint8Array(Math.min(cap, 256 * 1024));
    for (const p of probes) {
      const off = Math.floor(p * cap);
      if (writable) await d.write(off, buf.subarray(0, Math.min(5000, cap - off)).fill(0x77));
      await d.read(off, buf.subarray(0, Math.min(70_000, cap - off)));
    }
    await d.read(0, buf);
    await d.flush();
  } finally {
    await d.close();
  }
}

describe('VHD parsing of mutated images', () => {
  for (const [label, base] of [['dynamic', dynamicBase], ['fixed', fixedBase]] as const) {
    for (const writable of [false, true]) {
      it(`${label}, ${writable ? 'writes and reads' : 'reads'}: works or refuses with a TypervisorError, in bounded time`, async () => {
        const outcomes = { ok: 0, refused: 0 };
        await fc.assert(
          fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.boolean(), fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 3 }), async (ms, fix, probes) => {
            const b = base.slice();
            for (const m of ms) apply(b, m);
            // Half the time the checksums are made right, so that mutations get past them.
            if (fix) fixFooters(b);
            try {
              await withTimeout(exercise(b, probes, writable));
              outcomes.ok++;
            } catch (e) {
              if (!(e instanceof TypervisorError)) throw e;
              outcomes.refused++;
            }
          }),
          { numRuns: Number(process.env.VHD_FUZZ_RUNS ?? 300) },
        );
        // Both outcomes occur: the property does not pass by refusing everything.
        expect(outcomes.ok).toBeGreaterThan(0);
        expect(outcomes.refused).toBeGreaterThan(0);
      }, 60_000);
    }
  }
});
