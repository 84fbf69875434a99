// Malformed, hostile and unsupported qcow2 images are refused with a precise TypervisorError.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TypervisorError } from '../../src/core/errors.js';
import { MemoryImageFile } from '../../src/storage/memory-image-file.js';
import { openImage } from '../../src/storage/open-image.js';
import { Qcow2Image } from '../../src/storage/qcow2/qcow2-image.js';
import { be, imageBytes, MemoryImageFileSystem, overlayNaming, smallImage } from './qcow2-images.js';
import { qemu } from './qemu-tools.js';

const good = smallImage();
const goodV2 = smallImage({ compat: '0.10' });
const goodCompressed = smallImage({ compressed: true });

function patched(base: Uint8Array, patch: (b: Uint8Array) => void): Uint8Array {
  const b = base.slice();
  patch(b);
  return b;
}

async function openBytes(bytes: Uint8Array): Promise<Qcow2Image> {
  return Qcow2Image.open(new MemoryImageFile(bytes, { name: 'bad.qcow2', writable: false }));
}

/** Opens and reads the whole disk; returns the error (which must be a TypervisorError) or undefined. */
async function failure(bytes: Uint8Array): Promise<TypervisorError | undefined> {
  try {
    const img = await openBytes(bytes);
    await img.read(0, new Uint8Array(img.capacity));
    await img.close();
    return undefined;
  } catch (e) {
    if (e instanceof TypervisorError) return e;
    throw e;
  }
}

const l1Offset = (b: Uint8Array) => be.u64(b, 40);
const l2Offset = (b: Uint8Array) => Number(be.u64n(b, l1Offset(b)) & 0x00ff_ffff_ffff_fe00n);
/** Host offset of the compressed cluster in L2 entry 0 of a 64 KiB-cluster image (x = 62 - (16 - 8) = 54 bits). */
const compressedHost = (b: Uint8Array) => Number(be.u64n(b, l2Offset(b)) & ((1n << 54n) - 1n));

describe('qcow2 header validation', () => {
  const cases: Array<[string, (b: Uint8Array) => void, RegExp]> = [
    ['bad magic', (b) => be.setU32(b, 0, 0x514649fa), /bad magic/],
    ['version 1', (b) => be.setU32(b, 4, 1), /version is 1/],
    ['version 4', (b) => be.setU32(b, 4, 4), /version is 4; only qcow2 versions 2 and 3/],
    ['cluster_bits 8', (b) => be.setU32(b, 20, 8), /cluster_bits is 8; supported values are 9\.\.21/],
    ['cluster_bits 22', (b) => be.setU32(b, 20, 22), /cluster_bits is 22/],
    ['cluster_bits 2^32-1', (b) => be.setU32(b, 20, 0xffffffff), /cluster_bits is 4294967295/],
    ['unknown incompatible bit 5', (b) => be.setU64(b, 72, 1n << 5n), /incompatible_features has unknown bits set: bit 5 \(0x20\)/],
    ['unknown incompatible bit 63', (b) => be.setU64(b, 72, 1n << 63n), /unknown bits set: bit 63/],
    ['external data file', (b) => be.setU64(b, 72, 1n << 2n), /external data file are not supported \(incompatible_features bit 2\)/],
    ['compression type bit with compression_type 0', (b) => be.setU64(b, 72, 1n << 3n), /bit 3 \(compression type\) is set but compression_type is 0/],
    ['compression_type 7', (b) => { be.setU64(b, 72, 1n << 3n); b[104] = 7; }, /compression_type is 7/],
    ['encryption', (b) => be.setU32(b, 32, 1), /encrypted qcow2 images are not supported \(crypt_method 1\)/],
    ['size beyond 2^53', (b) => be.setU64(b, 24, 1n << 60n), /size is 1152921504606846976, beyond 2\^53/],
    ['size needing a huge L1', (b) => be.setU64(b, 24, 2 ** 52), /size is 4503599627370496 bytes, which needs .* L1 entries/],
    ['l1_size too small for size', (b) => be.setU64(b, 24, 2 ** 40), /l1_size is 1 entries, too small for size 1099511627776/],
    ['l1_size beyond 32 MiB', (b) => be.setU32(b, 36, 0x1000000), /l1_size is 16777216 entries .* beyond the 32 MiB limit/],
    ['l1_table_offset misaligned', (b) => be.setU64(b, 40, l1Offset(b) + 8), /l1_table_offset 0x[0-9a-f]+ is not aligned/],
    ['l1_table_offset past the end', (b) => be.setU64(b, 40, 2 ** 40), /the L1 table \(l1_table_offset 0x10000000000, 1 entries\) ends past the end of the file/],
    ['L1 table over the refcount table', (b) => be.setU64(b, 40, be.u64(b, 48)), /the refcount table .* overlaps the L1 table|the L1 table .* overlaps/],
    ['L1 table over the header', (b) => be.setU64(b, 40, 0), /overlaps the header cluster/],
    ['refcount_table_offset misaligned', (b) => be.setU64(b, 48, 4096), /refcount_table_offset 0x1000 is not aligned/],
    ['refcount table too big', (b) => be.setU32(b, 56, 1000), /refcount_table_clusters is 1000 .* beyond the 8 MiB limit/],
    ['refcount table past the end', (b) => be.setU32(b, 56, 100), /the refcount table .* ends past the end of the file/],
    ['too many snapshots', (b) => be.setU32(b, 60, 70000), /nb_snapshots is 70000/],
    ['refcount_order 7', (b) => be.setU32(b, 96, 7), /refcount_order is 7/],
    ['header_length not a multiple of 8', (b) => be.setU32(b, 100, 105), /header_length is 105/],
    ['header_length beyond the cluster', (b) => be.setU32(b, 100, 0x20000), /header_length is 131072/],
    ['header extension past the header area', (b) => { be.setU32(b, be.u32(b, 100), 0x12345678); be.setU32(b, be.u32(b, 100) + 4, 0xfffffff0); }, /header extension 0x12345678 at byte 112 has length 4294967280/],
    ['backing_file_size 2000', (b) => { be.setU64(b, 8, 512); be.setU32(b, 16, 2000); }, /backing_file_size is 2000; it must be at most 1023/],
    ['backing_file_offset past the first cluster, empty name', (b) => be.setU64(b, 8, 70000), /backing_file_offset 70000 lies past the first cluster \(65536 bytes\)/],
    ['backing name outside the first cluster', (b) => { be.setU64(b, 8, 65530); be.setU32(b, 16, 100); }, /backing_file_offset 65530 with backing_file_size 100 is not inside the first cluster/],
    ['backing name not UTF-8', (b) => { be.setU64(b, 8, 4000); be.setU32(b, 16, 2); b[4000] = 0xff; b[4001] = 0xfe; }, /backing file name is not valid UTF-8/],
    ['file shorter than a header', (b) => b.fill(0, 72), /header_length is 0/],
  ];
  for (const [label, patch, message] of cases) {
    it(`refuses ${label}`, async () => {
      const e = await failure(patched(good, patch));
      expect(e, 'expected a refusal').toBeDefined();
      expect(e!.message).toMatch(/^bad\.qcow2: /);
      expect(e!.message).toMatch(message);
    });
  }

  it('refuses a truncated file', async () => {
    expect((await failure(good.subarray(0, 50)))?.message).toMatch(/50 bytes long, shorter than a qcow2 header/);
    expect((await failure(good.subarray(0, 100)))?.message).toMatch(/shorter than a version 3 header/);
  });

  it('names unknown incompatible features from the image\'s feature name table', async () => {
    // qemu-img writes a feature name table; rename the entry for "dirty" (incompatible bit 0) to bit 9.
    const bytes = patched(good, (b) => {
      const text = Buffer.from(b.subarray(0, 4096)).indexOf('dirty bit');
      expect(text).toBeGreaterThan(0);
      expect(b[text - 2]).toBe(0);
      b[text - 1] = 9;
      be.setU64(b, 72, 1n << 9n);
    });
    expect((await failure(bytes))?.message).toMatch(/unknown bits set: bit 9 \(dirty bit\)/);
  });

  it('reads a backing_file_offset with backing_file_size 0 as no backing file, as qemu-img does', async () => {
    const bytes = patched(good, (b) => be.setU64(b, 8, 512));
    const img = await openBytes(bytes);
    expect(img.backing).toBeUndefined();
    const ours = new Uint8Array(img.capacity);
    await img.read(0, ours);
    await img.close();
    const theirs = imageBytes((dir) => {
      const f = path.join(dir, 'empty-backing-name.qcow2');
      writeFileSync(f, bytes);
      expect(JSON.parse(qemu('qemu-img', ['info', '--output', 'json', f]))['backing-filename']).toBeUndefined();
      qemu('qemu-img', ['convert', '-O', 'raw', f, path.join(dir, 'out.raw')]);
      return path.join(dir, 'out.raw');
    });
    expect(Buffer.from(ours).equals(Buffer.from(theirs))).toBe(true);
  });

  it('reads images with the dirty and corrupt bits set (read-only)', async () => {
    expect(await failure(patched(good, (b) => be.setU64(b, 72, 3n)))).toBeUndefined();
  });

  it('refuses zstd images made by qemu-img', async () => {
    const z = imageBytes((dir) => {
      const f = path.join(dir, 'z.qcow2');
      qemu('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'compression_type=zstd', f, '1M']);
      return f;
    });
    const e = await failure(z);
    expect(e?.message).toMatch(/zstd-compressed qcow2 images are not supported \(compression_type 1\)/);
    expect(e?.hint).toMatch(/compression_type=zlib/);
  });

  it('refuses to write dirty, corrupt and extended-L2 images, and read-only files', async () => {
    const extl2 = imageBytes((dir) => {
      const f = path.join(dir, 'x.qcow2');
      qemu('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'extended_l2=on', f, '1M']);
      return f;
    });
    const cases: Array<[Uint8Array, RegExp]> = [
      [patched(good, (b) => be.setU64(b, 72, 1n)), /is dirty .* incompatible_features bit 0/],
      [patched(good, (b) => be.setU64(b, 72, 2n)), /is marked corrupt \(incompatible_features bit 1\)/],
      [extl2, /writing qcow2 images with extended L2 entries \(subclusters\) is not implemented yet/],
    ];
    for (const [bytes, message] of cases) {
      await expect(Qcow2Image.open(new MemoryImageFile(bytes), { readOnly: false })).rejects.toThrow(message);
      const ro = await Qcow2Image.open(new MemoryImageFile(bytes)); // reading them is fine
      await ro.close();
    }
    await expect(Qcow2Image.open(new MemoryImageFile(good, { writable: false }), { readOnly: false })).rejects.toThrow(/cannot open a read-only file for writing/);
  });
});

describe('qcow2 L1/L2 validation', () => {
  it('refuses L1 entries with reserved bits, misaligned, past the end, or over metadata', async () => {
    const l1 = (b: Uint8Array) => l1Offset(b);
    const cases: Array<[(b: Uint8Array) => void, RegExp]> = [
      [(b) => b[l1(b) + 7] |= 0x01, /L1 entry 0 \(0x[0-9a-f]{16}\) has reserved bits set/],
      [(b) => b[l1(b)] |= 0x01, /L1 entry 0 .* has reserved bits set/],
      [(b) => be.setU64(b, l1(b), (1n << 63n) | BigInt(l2Offset(b) + 512)), /L2 table offset 0x[0-9a-f]+ is not aligned/],
      [(b) => be.setU64(b, l1(b), (1n << 63n) | (1n << 40n)), /L2 table at 0x10000000000 lies past the end of the file/],
      [(b) => be.setU64(b, l1(b), (1n << 63n) | BigInt(l1(b))), /L2 table at 0x[0-9a-f]+ overlaps the L1 table/],
      [(b) => be.setU64(b, l1(b), (1n << 63n) | BigInt(be.u64(b, 48))), /overlaps the refcount table/],
    ];
    for (const [patch, message] of cases) expect((await failure(patched(good, patch)))?.message).toMatch(message);
  });

  it('refuses L2 entries that are malformed, on the read that reaches them', async () => {
    const entry = (b: Uint8Array, i: number) => l2Offset(b) + 8 * i;
    const cases: Array<[Uint8Array, (b: Uint8Array) => void, RegExp]> = [
      [good, (b) => b[entry(b, 0) + 7] |= 0x02, /L2 entry 0 of the table at 0x[0-9a-f]+ \(guest offset 0\), 0x[0-9a-f]+ has reserved bits set/],
      [good, (b) => b[entry(b, 0)] |= 0x01, /L2 entry 0 .* has reserved bits set/],
      [good, (b) => be.setU64(b, entry(b, 0), (1n << 63n) | 0x10200n), /host cluster offset 0x10200 is not aligned/],
      [good, (b) => be.setU64(b, entry(b, 0), (1n << 63n) | (1n << 44n)), /data cluster at 0x100000000000 lies past the end of the file/],
      [good, (b) => be.setU64(b, entry(b, 0), (1n << 63n) | BigInt(l1Offset(b))), /data at 0x[0-9a-f]+ overlaps the L1 table/],
      [good, (b) => be.setU64(b, entry(b, 0), 1n << 63n), /host cluster offset 0 with bit 63 set/],
      [goodV2, (b) => b[entry(b, 0) + 7] |= 0x01, /bit 0 \(zero flag\) set, which is reserved in version 2 images/],
      [goodCompressed, (b) => be.setU64(b, entry(b, 0), (1n << 62n) | 100n), /compressed cluster at 0x64 is not inside the data area/],
      [goodCompressed, (b) => be.setU64(b, entry(b, 0), (1n << 62n) | (1n << 50n)), /compressed cluster at 0x4000000000000 is not inside the data area/],
      [goodCompressed, (b) => {
        const host = compressedHost(b);
        b.fill(0x55, host, host + 64);
      }, /compressed cluster at 0x[0-9a-f]+ \(guest offset 0\) does not inflate/],
    ];
    for (const [base, patch, message] of cases) {
      const bytes = patched(base, patch);
      const img = await openBytes(bytes); // opening succeeds: the damage is in an L2 table
      const e = await img.read(0, new Uint8Array(4096)).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(TypervisorError);
      expect((e as Error).message).toMatch(message);
      // Reads elsewhere still work, and the same read fails the same way again.
      await img.read(600 * 1024, new Uint8Array(4096));
      await expect(img.read(0, new Uint8Array(1))).rejects.toThrow(message);
    }
  });

  it('a compressed cluster that inflates to less than a cluster is refused', async () => {
    const bytes = patched(goodCompressed, (b) => {
      b.set([0x03, 0x00], compressedHost(b)); // an empty final fixed-Huffman block
    });
    expect((await failure(bytes))?.message).toMatch(/inflates to 0 bytes, not a cluster \(65536\)/);
  });
});

describe('qcow2 backing chains', () => {
  it('refuses loops, a chain deeper than the limit, and a backing file with no resolver', async () => {
    const fs = new MemoryImageFileSystem({
      'a.qcow2': overlayNaming('b.qcow2', 'qcow2'),
      'b.qcow2': overlayNaming('a.qcow2', 'qcow2'),
      'self.qcow2': overlayNaming('self.qcow2', 'qcow2'),
    });
    await expect(openImage(fs, 'a.qcow2', { readOnly: true })).rejects.toThrow(/backing chain loop: a\.qcow2 -> b\.qcow2 -> a\.qcow2/);
    await expect(openImage(fs, 'self.qcow2', { readOnly: true })).rejects.toThrow(/backing chain loop: self\.qcow2 -> self\.qcow2/);
    for (let i = 0; i < 6; i++) fs.files.set(`c${i}.qcow2`, i === 5 ? smallImage() : overlayNaming(`c${i + 1}.qcow2`, 'qcow2'));
    await expect(openImage(fs, 'c0.qcow2', { readOnly: true, maxBackingDepth: 4 })).rejects.toThrow(/c0\.qcow2: the backing chain is deeper than 4 images \(at c5\.qcow2\)/);
    const ok = await openImage(fs, 'c0.qcow2', { readOnly: true, maxBackingDepth: 5 });
    const first = new Uint8Array(4096);
    await ok.read(0, first);
    expect(first.every((x) => x === 0xab)).toBe(true);
    await ok.close();
    await expect(Qcow2Image.open(new MemoryImageFile(fs.files.get('c0.qcow2')!))).rejects.toThrow(/has a backing file \(c1\.qcow2\) and no way to open it was given/);
  });

  it('refuses missing backing files and formats not supported yet, closing what it opened', async () => {
    const fs = new MemoryImageFileSystem({ 'a.qcow2': overlayNaming('gone.raw', 'raw'), 'v.qcow2': overlayNaming('d.vmdk', 'vmdk'), 'd.vmdk': new Uint8Array(4096) });
    await expect(openImage(fs, 'a.qcow2', { readOnly: true })).rejects.toThrow(/gone\.raw: cannot open: no such file/);
    await expect(openImage(fs, 'v.qcow2', { readOnly: true })).rejects.toThrow(/d\.vmdk: not a VMDK image: neither "KDMV" magic nor a text descriptor \(whose first line other than comments is version=1, 2 or 3\)/);
  });

  it('probes the backing format when the image does not name it', async () => {
    const base = smallImage();
    const top = imageBytes((dir) => {
      const f = path.join(dir, 'top.qcow2');
      qemu('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', 'small.qcow2', '-F', 'qcow2', f, '1M'], dir);
      return f;
    }, (dir) => { writeFileSync(path.join(dir, 'small.qcow2'), base); });
    // Hide the backing format extension (0xe2792aca) as an unknown one, which readers ignore.
    const ext = Buffer.from(top.subarray(0, 4096)).indexOf(Buffer.from([0xe2, 0x79, 0x2a, 0xca]));
    expect(ext).toBeGreaterThan(0);
    be.setU32(top, ext, 0x7e57e57e);
    const fs = new MemoryImageFileSystem({ 'top.qcow2': top, 'small.qcow2': base });
    const img = (await openImage(fs, 'top.qcow2', { readOnly: true })) as Qcow2Image;
    expect(img.header.backingFormat).toBeUndefined();
    const dst = new Uint8Array(8192);
    await img.read(0, dst);
    expect(dst[0]).toBe(0xab);
    expect(dst[4096]).toBe(0);
    await img.close();
  });
});
