// Differencing VHDs (disk type 4) read and written with their parent, against libvhdi
// (Debian's python3-libvhdi, an independent reader that follows parents and sector bitmaps).
// qemu-img cannot make differencing VHDs (and reads them as if they had no parent), so the
// child is a dynamic image qemu-img made and qemu-io filled, turned into a differencing disk
// by setting the fields the spec names: disk type, parent UUID and name, parent locators.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { TypervisorError } from '../../src/core/errors.js';
import { main } from '../../src/cli/main.js';
import { nodeImageFileSystem } from '../../src/host/storage-file.js';
import { openImage } from '../../src/storage/open-image.js';
import { vhdChecksum } from '../../src/storage/vhd/vhd-footer.js';
import { MemoryImageFileSystem } from './qcow2-images.js';
import { firstDifference, qemu, qemuIo, tempDir } from './qemu-tools.js';

const tmp = tempDir('vhd-diff-');
afterAll(() => tmp.remove());
const at = (name: string) => path.join(tmp.dir, name);
const MiB = 1024 * 1024;
const BLOCK = 2 * MiB;

/** The disk as libvhdi reads it, with `parent` set as the child's parent. */
function libvhdiRead(child: string, parent: string, parentOfParent?: string): Uint8Array {
  const out = `${child}.libvhdi.raw`;
  const script = [
    'import sys',
    "sys.path.append('/usr/lib/python3/dist-packages')",
    'import pyvhdi',
    'c, p, o = sys.argv[1], sys.argv[2], sys.argv[3]',
    'files = []',
    'for name in [c, p] + ([sys.argv[4]] if len(sys.argv) > 4 else []):',
    '    f = pyvhdi.file(); f.open(name); files.append(f)',
    'for i in range(len(files) - 1): files[i].set_parent(files[i + 1])',
    'data = files[0].read_buffer_at_offset(files[0].media_size, 0)',
    "open(o, 'wb').write(data)",
  ].join('\n');
  const r = spawnSync('/usr/bin/python3', ['-c', script, child, parent, out, ...(parentOfParent ? [parentOfParent] : [])], { encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new Error(`libvhdi (python3-libvhdi; scripts/ensure-deps.sh test installs it) failed: ${r.error?.message ?? r.stderr}`);
  const bytes = new Uint8Array(readFileSync(out));
  rmSync(out);
  return bytes;
}

function qemuRaw(file: string): Uint8Array {
  const out = `${file}.qemu.raw`;
  qemu('qemu-img', ['convert', '-f', 'vpc', '-O', 'raw', file, out]);
  const bytes = new Uint8Array(readFileSync(out));
  rmSync(out);
  return bytes;
}

function utf16(text: string, littleEndian: boolean): Buffer {
  const b = Buffer.alloc(text.length * 2);
  for (let i = 0; i < text.length; i++) {
    if (littleEndian) b.writeUInt16LE(text.charCodeAt(i), i * 2);
    else b.writeUInt16BE(text.charCodeAt(i), i * 2);
  }
  return b;
}

/**
 * Turns the dynamic VHD `child` into a differencing disk of `parent` ("Dynamic Disk Header
 * Format": Parent Unique ID, Parent Unicode Name, Parent Locator Entries), the locators' data
 * placed after the last block, the footer moved behind it.
 */
function makeDifferencing(child: string, parent: string, locators: Array<{ code: 'W2ru' | 'W2ku'; path: string }>, parentName = path.basename(parent)): void {
  const p = readFileSync(parent);
  const parentFooter = p.subarray(0, 8).toString() === 'conectix' ? p.subarray(0, 512) : p.subarray(p.length - 512);
  const c0 = readFileSync(child);
  const footer = Buffer.from(c0.subarray(0, 512));
  const body = c0.subarray(0, c0.length - 512);
  const datas = locators.map((l) => {
    const d = utf16(l.path, true);
    const padded = Buffer.alloc(Math.ceil(d.length / 512) * 512);
    d.copy(padded);
    return { l, d, padded };
  });
  const c = Buffer.concat([body, ...datas.map((x) => x.padded), footer]);
  const h = 512;
  parentFooter.copy(c, h + 40, 68, 84); // parent UUID
  c.writeUInt32BE(parentFooter.readUInt32BE(24), h + 56); // parent timestamp: the parent's
  c.fill(0, h + 64, h + 576);
  utf16(parentName, false).copy(c, h + 64);
  let offset = body.length;
  datas.forEach(({ l, d, padded }, i) => {
    const e = h + 576 + i * 24;
    c.write(l.code, e, 'latin1');
    c.writeUInt32BE(padded.length, e + 4);
    c.writeUInt32BE(d.length, e + 8);
    c.writeBigUInt64BE(BigInt(offset), e + 16);
    offset += padded.length;
  });
  c.writeUInt32BE(vhdChecksum(c.subarray(h, h + 1024), 36), h + 36);
  for (const off of [0, c.length - 512]) {
    c.writeUInt32BE(4, off + 60);
    c.writeUInt32BE(vhdChecksum(c.subarray(off, off + 512), 64), off + 64);
  }
  writeFileSync(child, c);
}

/** Which blocks of a dynamic VHD's BAT (at 1536, as qemu-img lays it out) are allocated. */
function allocatedBlocks(file: string): boolean[] {
  const b = readFileSync(file);
  const entries = b.readUInt32BE(512 + 28);
  return Array.from({ length: entries }, (_, i) => b.readUInt32BE(1536 + 4 * i) !== 0xffffffff);
}

/** The disk as we read it (a Buffer: should a test expect a refusal, vitest prints no 9 MiB array). */
async function ourRead(file: string): Promise<Uint8Array> {
  const d = await openImage(nodeImageFileSystem, file, { format: 'vpc', readOnly: true });
  try {
    const all = new Uint8Array(d.capacity);
    await d.read(0, all);
    return Buffer.from(all.buffer);
  } finally {
    await d.close();
  }
}

/** Parent and child made by qemu-img/qemu-io; the model is the parent's bytes with the child's allocated blocks over them. */
function family(prefix: string, parentSub: 'dynamic' | 'fixed', locators: (dir: string) => Array<{ code: 'W2ru' | 'W2ku'; path: string }>, parentName?: string): { parent: string; child: string; model: Uint8Array } {
  const parent = at(`${prefix}-parent.vhd`);
  const child = at(`${prefix}-child.vhd`);
  qemu('qemu-img', ['create', '-q', '-f', 'vpc', '-o', `subformat=${parentSub}`, parent, '9M']);
  qemuIo(parent, ['write -P 0x61 0 3M', 'write -P 0x62 5M 4M'], ['-f', 'vpc']);
  qemu('qemu-img', ['create', '-q', '-f', 'vpc', child, '9M']);
  qemuIo(child, ['write -P 0x71 1M 4k', 'write -P 0x72 6M 1000k'], ['-f', 'vpc']);
  const model = qemuRaw(parent);
  const childRaw = qemuRaw(child);
  allocatedBlocks(child).forEach((a, i) => {
    if (a) model.set(childRaw.subarray(i * BLOCK, Math.min((i + 1) * BLOCK, childRaw.length)), i * BLOCK);
  });
  makeDifferencing(child, parent, locators(tmp.dir), parentName);
  return { parent, child, model };
}

describe('differencing VHDs', () => {
  for (const parentSub of ['dynamic', 'fixed'] as const) {
    it(`read with their ${parentSub} parent as libvhdi reads them`, async () => {
      const { parent, child, model } = family(`r-${parentSub}`, parentSub, () => [{ code: 'W2ru', path: `.\\r-${parentSub}-parent.vhd` }]);
      expect(firstDifference(libvhdiRead(child, parent), model)).toBeUndefined();
      expect(firstDifference(await ourRead(child), model)).toBeUndefined();
    });
  }

  it('written (unaligned, across blocks, partial sector bitmaps) read back as libvhdi reads them', async () => {
    const { parent, child, model } = family('w', 'dynamic', () => [{ code: 'W2ru', path: '.\\w-parent.vhd' }]);
    const d = await openImage(nodeImageFileSystem, child, { format: 'vpc' });
    // Every write ends on a 4 KiB boundary: libvhdi 20210425 takes the bits after a set bit in
    // the same bitmap byte as set (it shifts without masking), so a byte is read right only
    // when its set bits run to its end (0b00011111). Starts are unaligned, so partial sectors
    // and partial bitmap bytes (MSB = first sector) are covered.
    const writes: Array<[number, number, number]> = [
      [3 * MiB + 100, 4096 - 100, 0x81], // a block the child lacks: the rest of it stays the parent's
      [4 * MiB - 300 - 4096, 4096 + 300 + 8192, 0x82], // across a block boundary, child block 2 unallocated
      [1 * MiB + 8192 - 1000, 1000, 0x83], // into the child's allocated block 0
      [5 * MiB + 1024 + 511, 4096 - 1024 - 511, 0x84],
      [9469952 - 1000, 1000, 0x85], // the last bytes of the disk
    ];
    const cap = d.capacity;
    for (const [off, len, fill] of writes) {
      const n = Math.min(len, cap - off);
      await d.write(off, new Uint8Array(n).fill(fill));
      model.fill(fill, off, off + n);
    }
    await d.close();
    expect(firstDifference(await ourRead(child), model)).toBeUndefined();
    expect(firstDifference(libvhdiRead(child, parent), model)).toBeUndefined();
  });

  it('finds the parent by an absolute Windows path\'s base name, and by the parent name alone', async () => {
    const a = family('abs', 'dynamic', () => [{ code: 'W2ku', path: 'C:\\Users\\someone\\VMs\\abs-parent.vhd' }]);
    expect(firstDifference(await ourRead(a.child), a.model)).toBeUndefined();
    const b = family('nameonly', 'dynamic', () => []);
    expect(firstDifference(await ourRead(b.child), b.model)).toBeUndefined();
  });

  it('refuses a missing parent and a parent with another UUID, naming what was tried', async () => {
    const { parent, child } = family('miss', 'dynamic', () => [{ code: 'W2ru', path: '.\\elsewhere\\gone.vhd' }], 'gone.vhd');
    await expect(ourRead(child)).rejects.toThrow(/cannot open the parent of this differencing VHD \(tried elsewhere\/gone\.vhd: .*; gone\.vhd: /);
    const other = at('other.vhd');
    qemu('qemu-img', ['create', '-q', '-f', 'vpc', other, '9M']);
    const wrong = family('uuid', 'dynamic', () => [{ code: 'W2ru', path: 'other.vhd' }]);
    await expect(ourRead(wrong.child)).rejects.toThrow(/its parent other\.vhd is not the image it was made from \(UUID [0-9a-f-]{36}, expected [0-9a-f-]{36}\)/);
    expect(parent).toBeTruthy();
  });

  it('img info shows the differencing disk\'s size as qemu-img info does', async () => {
    const { child } = family('info', 'dynamic', () => [{ code: 'W2ru', path: 'info-parent.vhd' }]);
    const chunks: Uint8Array[] = [];
    const stdout = { write: (b: Uint8Array, cb?: () => void) => (chunks.push(b), cb?.(), true) };
    const status = await main(['img', 'info', '--output', 'json', child], { stdin: process.stdin, stdout, stderr: { write: () => true } } as never);
    expect(status).toBe(0);
    expect(JSON.parse(Buffer.concat(chunks).toString())).toEqual(JSON.parse(qemu('qemu-img', ['info', '--output', 'json', child])));
  });
});

describe('differencing VHDs with mutated headers and locators', () => {
  it('open, read and write, or refuse with a TypervisorError, in bounded time', async () => {
    const { parent, child } = family('fuzz', 'dynamic', () => [
      { code: 'W2ru', path: '.\\fuzz-parent.vhd' },
      { code: 'W2ku', path: 'C:\\x\\fuzz-parent.vhd' },
    ]);
    const base = new Uint8Array(readFileSync(child));
    const parentBytes = new Uint8Array(readFileSync(parent));
    const outcomes = { ok: 0, refused: 0 };
    // Header bytes 40-1023 (parent UUID, name, locator entries) and the locators' data (after the last block).
    const locatorData = base.length - 512 - 1024;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ at: fc.oneof(fc.integer({ min: 512 + 40, max: 512 + 1023 }), fc.integer({ min: locatorData, max: locatorData + 1023 })), value: fc.nat(255) }), { minLength: 1, maxLength: 6 }),
        fc.boolean(),
        async (ms, writable) => {
          const b = base.slice();
          for (const m of ms) b[m.at] = m.value;
          const fs = new MemoryImageFileSystem({ 'child.vhd': b, 'fuzz-parent.vhd': parentBytes });
          const work = (async () => {
            const d = await openImage(fs, 'child.vhd', { format: 'vpc', readOnly: !writable });
            try {
              if (writable) await d.write(3 * MiB - 7, new Uint8Array(9000).fill(1));
              await d.read(0, new Uint8Array(Math.min(d.capacity, 5 * MiB)));
            } finally {
              await d.close();
            }
          })();
          let timer: ReturnType<typeof setTimeout> | undefined;
          const limit = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('no answer within 10 s')), 10_000)));
          try {
            await Promise.race([work, limit]);
            outcomes.ok++;
          } catch (e) {
            if (!(e instanceof TypervisorError)) throw e;
            outcomes.refused++;
          } finally {
            clearTimeout(timer);
          }
        },
      ),
      { numRuns: 200 },
    );
    expect(outcomes.ok).toBeGreaterThan(0);
    expect(outcomes.refused).toBeGreaterThan(0);
  }, 60_000);
});
