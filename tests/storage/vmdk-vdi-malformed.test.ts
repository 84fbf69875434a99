// Malformed, hostile and unsupported VMDK and VDI images are refused with a TypervisorError that
// names the field, its value and the file.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TypervisorError } from '../../src/core/errors.js';
import { openImage } from '../../src/storage/open-image.js';
import { looksLikeVmdkDescriptor } from '../../src/storage/vmdk/vmdk-descriptor.js';
import { imageBytes, MemoryImageFileSystem } from './qcow2-images.js';
import { qemu, qemuIo, tempDir } from './qemu-tools.js';
import { withFooter } from './vmdk-vdi-images.js';

const le = {
  u32: (b: Uint8Array, at: number) => new DataView(b.buffer, b.byteOffset).getUint32(at, true),
  setU32: (b: Uint8Array, at: number, v: number) => new DataView(b.buffer, b.byteOffset).setUint32(at, v, true),
  setU64: (b: Uint8Array, at: number, v: bigint) => new DataView(b.buffer, b.byteOffset).setBigUint64(at, v, true),
  u64: (b: Uint8Array, at: number) => Number(new DataView(b.buffer, b.byteOffset).getBigUint64(at, true)),
};

/** A 1 MiB monolithicSparse (or streamOptimized) VMDK with data in grains 0 and 8. */
function vmdk(subformat: 'monolithicSparse' | 'streamOptimized'): Uint8Array {
  return imageBytes((dir) => {
    const f = path.join(dir, 'a.vmdk');
    qemu('qemu-img', ['create', '-q', '-f', 'vmdk', f, '1M']);
    qemuIo(f, ['write -P 0xab 0 4k', 'write -P 0xcd 512k 4k'], ['-f', 'vmdk']);
    if (subformat === 'monolithicSparse') return f;
    const s = path.join(dir, 's.vmdk');
    qemu('qemu-img', ['convert', '-O', 'vmdk', '-o', 'subformat=streamOptimized', f, s]);
    return s;
  });
}

function vdi(options: string[] = []): Uint8Array {
  return imageBytes((dir) => {
    const f = path.join(dir, 'a.vdi');
    qemu('qemu-img', ['create', '-q', '-f', 'vdi', ...options, f, '3M']);
    qemuIo(f, ['write -P 0xab 0 4k', 'write -P 0xcd 2M 4k'], ['-f', 'vdi']);
    return f;
  });
}

const sparse = vmdk('monolithicSparse');
const stream = vmdk('streamOptimized');
const dynamic = vdi();
const fixed = vdi(['-o', 'static=on']);

const patched = (base: Uint8Array, patch: (b: Uint8Array) => void) => {
  const b = base.slice();
  patch(b);
  return b;
};
const gdAt = (b: Uint8Array) => le.u64(b, 56) * 512;
const gtAt = (b: Uint8Array) => le.u32(b, gdAt(b)) * 512;

/** Opens `name` of `files` and reads the whole disk; returns the TypervisorError or undefined. */
async function failure(files: Record<string, Uint8Array>, name: string, format?: string): Promise<TypervisorError | undefined> {
  try {
    const disk = await openImage(new MemoryImageFileSystem(files), name, { readOnly: true, ...(format ? { format } : {}) });
    try {
      await disk.read(0, new Uint8Array(disk.capacity));
    } finally {
      await disk.close();
    }
    return undefined;
  } catch (e) {
    if (e instanceof TypervisorError) return e;
    throw e;
  }
}

describe('VMDK sparse extent validation', () => {
  it('the unpatched images read', async () => {
    expect(await failure({ 'x.vmdk': sparse }, 'x.vmdk')).toBeUndefined();
    expect(await failure({ 'x.vmdk': stream }, 'x.vmdk')).toBeUndefined();
    expect(await failure({ 'x.vmdk': withFooter(stream) }, 'x.vmdk')).toBeUndefined();
  });

  const cases: Array<[string, Uint8Array, RegExp]> = [
    ['bad magic', patched(sparse, (b) => le.setU32(b, 0, 0x564d444c)), /x\.vmdk: not a VMDK image: neither "KDMV" magic nor a text descriptor \(whose first line other than comments is version=1, 2 or 3\)/],
    ['version 4', patched(sparse, (b) => le.setU32(b, 4, 4)), /x\.vmdk: bad VMDK header: header version is 4; supported versions are 1\.\.3/],
    ['capacity beyond 2^53 bytes', patched(sparse, (b) => le.setU64(b, 12, 1n << 60n)), /header capacity is 1152921504606846976, beyond the supported 17592186044415/],
    ['capacity whose grain directory leaves the file', patched(sparse, (b) => le.setU64(b, 12, 1n << 40n)), /gdOffset is \d+: the grain directory \(67108864 bytes at offset \d+\) ends past the end of the file/],
    ['grainSize 0', patched(sparse, (b) => le.setU64(b, 20, 0n)), /header grainSize is 0 sectors; it must be a power of two from 1 to 2048/],
    ['grainSize 3', patched(sparse, (b) => le.setU64(b, 20, 3n)), /grainSize is 3 sectors/],
    ['grainSize 2^20', patched(sparse, (b) => le.setU64(b, 20, 1n << 20n)), /grainSize is 1048576 sectors/],
    ['grainSize 2^64-1', patched(sparse, (b) => le.setU64(b, 20, (1n << 64n) - 1n)), /header grainSize is 18446744073709551615, beyond the supported/],
    ['numGTEsPerGT 0', patched(sparse, (b) => le.setU32(b, 44, 0)), /header numGTEsPerGT is 0; expected 1\.\.8192 \(normally 512\)/],
    ['numGTEsPerGT 2^31', patched(sparse, (b) => le.setU32(b, 44, 2 ** 31)), /numGTEsPerGT is 2147483648/],
    ['gdOffset past the end', patched(sparse, (b) => le.setU64(b, 56, 1000000n)), /gdOffset is 1000000: the grain directory \(4 bytes at offset 512000000\) ends past the end of the file/],
    ['gdOffset 0', patched(sparse, (b) => le.setU64(b, 56, 0n)), /gdOffset is 0 \(inside the header\)/],
    ['gdOffset on the descriptor', patched(sparse, (b) => le.setU64(b, 56, 2n)), /the embedded descriptor \(offset 512\.\.10752\) and the grain directory \(offset 1024\.\.1028\) overlap/],
    ['GD_AT_END without streaming', patched(sparse, (b) => le.setU64(b, 56, (1n << 64n) - 1n)), /header gdOffset is GD_AT_END \(0xffffffffffffffff\) in an extent that is not stream-optimized/],
    ['descriptorSize 1 GiB', patched(sparse, (b) => le.setU64(b, 36, 1n << 21n)), /header descriptorSize is 2097152 sectors; at most 2048 are supported/],
    ['descriptor past the end', patched(sparse, (b) => le.setU64(b, 28, 1n << 30n)), /descriptorOffset is 1073741824: the embedded descriptor \(10240 bytes at offset 549755813888\) ends past the end of the file/],
    ['newline test bytes rewritten', patched(sparse, (b) => b.set([0x0a, 0x20, 0x0a, 0x0a], 73)), /end-of-line test bytes \(offset 73\) are 0xa 0x20 0xa 0xa, not 0xa 0x20 0xd 0xa: the file was damaged by a text-mode transfer/],
    ['compressAlgorithm 2', patched(sparse, (b) => (b[77] = 2)), /header compressAlgorithm is 2; only 0 \(none\) and 1 \(deflate\) exist/],
    ['compression without markers', patched(sparse, (b) => (b[77] = 1)), /grains are compressed \(compressAlgorithm 1\) but not framed by markers/],
    ['GD entry past the end', patched(sparse, (b) => le.setU32(b, gdAt(b), 0x7fffffff)), /grain directory entry 0 is 2147483647: its grain table \(2048 bytes at offset 1099511627264\) ends past the end of the file/],
    ['GD entry on the grain directory (a loop)', patched(sparse, (b) => le.setU32(b, gdAt(b), gdAt(b) / 512)), /corrupt VMDK image: the grain directory \(offset \d+\.\.\d+\) and the grain table of grain directory entry 0 \(sector \d+\) .* overlap/],
    ['grain in the file header (GTE 1 without the zeroed-grain flag)', patched(sparse, (b) => le.setU32(b, gtAt(b), 1)), /grain table entry 0 of grain directory entry 0 \(grain 0, guest offset 0\) is 1: the grain \(offset 512\.\.66048\) overlaps the embedded descriptor/],
    ['grain past the end', patched(sparse, (b) => le.setU32(b, gtAt(b) + 8 * 4, 0x10000000)), /grain table entry 8 of grain directory entry 0 \(grain 8, guest offset 524288\) is 268435456: the grain \(65536 bytes at offset 137438953472\) ends past the end of the file/],
    ['grain on its grain table', patched(sparse, (b) => le.setU32(b, gtAt(b), gtAt(b) / 512)), /the grain \(offset \d+\.\.\d+\) overlaps the grain table of grain directory entry 0/],
    ['truncated to 100 bytes', sparse.slice(0, 100), /x\.vmdk: truncated VMDK image: the header \(100 bytes at offset 0\)|the header is cut short \(100 of 512 bytes\)/],
    ['truncated inside the last grain', sparse.slice(0, sparse.length - 1000), /the grain \(65536 bytes at offset \d+\) ends past the end of the file/],
  ];
  for (const [label, bytes, message] of cases) {
    it(`refuses ${label}`, async () => {
      const e = await failure({ 'x.vmdk': bytes }, 'x.vmdk', 'vmdk');
      expect(e, label).toBeInstanceOf(TypervisorError);
      expect(e!.message).toMatch(message);
      expect(e!.hint).toBeTruthy();
    });
  }
});

describe('VMDK stream-optimized validation', () => {
  const grain0 = (b: Uint8Array) => le.u32(b, gtAt(b)) * 512;
  const cases: Array<[string, Uint8Array, RegExp]> = [
    ['a marker lba that is not the grain\'s', patched(stream, (b) => le.setU64(b, grain0(b), 7n)), /grain table entry 0 of grain directory entry 0 \(grain 0, guest offset 0\) is \d+: its grain marker says lba 7, not 0/],
    ['two grains naming one marker (read after the first is cached)', patched(stream, (b) => le.setU32(b, gtAt(b) + 8 * 4, le.u32(b, gtAt(b)))), /grain table entry 8 of grain directory entry 0 \(grain 8, guest offset 524288\) is \d+: its grain marker says lba 0, not 1024/],
    ['a compressed size of 0', patched(stream, (b) => le.setU32(b, grain0(b) + 8, 0)), /its grain marker says 0 compressed bytes; expected 1\.\.131072/],
    ['a compressed size past the end of the file', patched(stream, (b) => le.setU32(b, grain0(b) + 8, 131072)), /the grain \(131084 bytes at offset \d+\) ends past the end of the file/],
    ['a compressed size of 2^32-1', patched(stream, (b) => le.setU32(b, grain0(b) + 8, 0xffffffff)), /says 4294967295 compressed bytes/],
    ['damaged zlib data', patched(stream, (b) => b.fill(0xff, grain0(b) + 12, grain0(b) + 20)), /the compressed grain at offset \d+ does not inflate/],
    ['a damaged Adler-32', patched(stream, (b) => (b[grain0(b) + 12 + le.u32(b, grain0(b) + 8) - 1] ^= 1)), /fails its Adler-32 check/],
    ['a footer without its marker', patched(withFooter(stream), (b) => le.setU32(b, b.length - 1536 + 12, 1)), /gdOffset is GD_AT_END but there is no footer marker at offset \d+ \(size 0, type 1; expected 0 and 3\)/],
    ['a footer without its end-of-stream marker', patched(withFooter(stream), (b) => le.setU32(b, b.length - 512 + 8, 5)), /the footer is not followed by an end-of-stream marker/],
    ['a footer header with GD_AT_END', patched(withFooter(stream), (b) => le.setU64(b, b.length - 1024 + 56, (1n << 64n) - 1n)), /footer header gdOffset is GD_AT_END too/],
    ['a footer header with a bad grainSize', patched(withFooter(stream), (b) => le.setU64(b, b.length - 1024 + 20, 5n)), /bad VMDK header: footer header grainSize is 5 sectors/],
  ];
  for (const [label, bytes, message] of cases) {
    it(`refuses ${label}`, async () => {
      const e = await failure({ 'x.vmdk': bytes }, 'x.vmdk', 'vmdk');
      expect(e, label).toBeInstanceOf(TypervisorError);
      expect(e!.message).toMatch(message);
    });
  }
});

describe('VMDK descriptor files', () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  const flat = new Uint8Array(1024 * 1024).fill(0x33);
  const desc = (createType: string, extents: string, extra = '') =>
    enc(`# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\ncreateType="${createType}"\n${extra}\n# Extent description\n${extents}\n\n#DDB\nddb.adapterType = "ide"\n`);
  const open = (d: Uint8Array, files: Record<string, Uint8Array> = { 'x-flat.vmdk': flat, 'x-s.vmdk': sparse }) => failure({ 'x.vmdk': d, ...files }, 'x.vmdk');

  it('a descriptor with FLAT, ZERO and SPARSE extents reads them end to end', async () => {
    const fs = new MemoryImageFileSystem({ 'x.vmdk': desc('monolithicFlat', 'RW 1024 FLAT "x-flat.vmdk" 1024\nRW 8 ZERO\nRDONLY 2048 SPARSE "x-s.vmdk"'), 'x-flat.vmdk': flat, 'x-s.vmdk': sparse });
    const disk = await openImage(fs, 'x.vmdk', { readOnly: true });
    expect(disk.capacity).toBe((1024 + 8 + 2048) * 512);
    const all = new Uint8Array(disk.capacity);
    await disk.read(0, all);
    await disk.close();
    const whole = await openImage(new MemoryImageFileSystem({ 's.vmdk': sparse }), 's.vmdk', { readOnly: true });
    const tail = new Uint8Array(whole.capacity);
    await whole.read(0, tail);
    await whole.close();
    const expected = new Uint8Array(all.length);
    expected.fill(0x33, 0, 512 * 1024);
    expected.set(tail, (1024 + 8) * 512);
    expect(Buffer.from(all).equals(Buffer.from(expected))).toBe(true);
  });

  const cases: Array<[string, Uint8Array, RegExp, Record<string, Uint8Array>?]> = [
    ['createType vmfsSparse', desc('vmfsSparse', 'RW 2048 FLAT "x-flat.vmdk"'), /VMDK createType "vmfsSparse" is not supported \(supported: monolithicSparse, streamOptimized, monolithicFlat, twoGbMaxExtentSparse, twoGbMaxExtentFlat, vmfs\)/],
    ['createType custom', desc('custom', 'RW 2048 FLAT "x-flat.vmdk" 0'), /createType "custom" is not supported/],
    ['no createType', enc('# Disk DescriptorFile\nversion=1\nRW 2048 FLAT "x-flat.vmdk" 0\n'), /bad VMDK descriptor: no createType/],
    ['a missing parent', desc('monolithicFlat', 'RW 2048 FLAT "x-flat.vmdk" 0', 'parentFileNameHint="base.vmdk"'), /base\.vmdk: cannot open: no such file/],
    ['a parent that is not a VMDK', desc('monolithicFlat', 'RW 2048 FLAT "x-flat.vmdk" 0', 'parentFileNameHint="x-flat.vmdk"'), /x-flat\.vmdk: not a VMDK image/],
    ['no extents', desc('monolithicFlat', ''), /it describes no extents/],
    ['a SESPARSE extent', desc('monolithicFlat', 'RW 2048 SESPARSE "x-flat.vmdk"'), /line 8: SESPARSE extents are not supported \(only FLAT, VMFS, SPARSE and ZERO\)/],
    ['an unknown extent type', desc('monolithicFlat', 'RW 2048 WEIRD "x-flat.vmdk"'), /line 8: unknown extent type 'WEIRD'/],
    ['a NOACCESS extent', desc('monolithicFlat', 'NOACCESS 2048 FLAT "x-flat.vmdk" 0'), /line 8: NOACCESS extents are not supported/],
    ['an extent of 0 sectors', desc('monolithicFlat', 'RW 0 FLAT "x-flat.vmdk" 0'), /line 8: extent size '0' is not a sector count/],
    ['an extent of 2^60 sectors', desc('monolithicFlat', 'RW 1152921504606846976 FLAT "x-flat.vmdk" 0'), /extent size '1152921504606846976' is not a sector count/],
    ['extents adding up past 2^53', desc('monolithicFlat', 'RW 17592186044415 ZERO\nRW 17592186044415 ZERO'), /line 9: the extents add up to more than 2\^53 bytes/],
    ['a flat extent file too short', desc('monolithicFlat', 'RW 2048 FLAT "x-flat.vmdk" 1'), /line 8: the FLAT extent x-flat\.vmdk is 1048576 bytes, too short for 2048 sectors from sector 1 \(1049088 bytes\)/],
    ['a missing extent file', desc('monolithicFlat', 'RW 2048 FLAT "gone.vmdk" 0'), /gone\.vmdk: cannot open: no such file/],
    ['a SPARSE extent smaller than its line', desc('twoGbMaxExtentSparse', 'RW 4096 SPARSE "x-s.vmdk"'), /line 8: the SPARSE extent x-s\.vmdk holds 2048 sectors, fewer than the 4096 the descriptor gives it/],
    ['a SPARSE extent that is a flat file', desc('twoGbMaxExtentSparse', 'RW 2048 SPARSE "x-flat.vmdk"'), /x-flat\.vmdk: bad VMDK header: header magic is 0x33333333, not "KDMV"/],
    ['a bad CID', enc(new TextDecoder().decode(desc('monolithicFlat', 'RW 2048 FLAT "x-flat.vmdk" 0')).replace('CID=1', 'CID=x')), /line 3: CID is 'x2345678', not a 32-bit hexadecimal number/],
    ['a line that is neither', desc('monolithicFlat', 'RW 2048 FLAT "x-flat.vmdk" 0\nwhat is this'), /line 9 is neither key=value nor an extent description: 'what is this'/],
  ];
  for (const [label, d, message, files] of cases) {
    it(`refuses ${label}`, async () => {
      const e = await open(d, files);
      expect(e, label).toBeInstanceOf(TypervisorError);
      expect(e!.message).toMatch(message);
    });
  }

  it('a descriptor is recognised as qemu-img 7.2 recognises one: the first line that is not a comment is version=N', async () => {
    // Each of these probes as vmdk or raw in Debian's qemu-img the same way.
    const probes: Array<[string, boolean]> = [
      ['# x\nversion=1\n', true], ['version=3\r\n', true], ['# x\r\nversion=2\r\n', true],
      ['\nversion=1\n', false], ['  version=1\n', false], ['version=4\n', false], ['CID=1\nversion=1\n', false], ['# Disk DescriptorFile\nCID=1\n', false], [' # x\nversion=1\n', false],
    ];
    const t = tempDir('vmdk-probe-');
    try {
      for (const [head, vmdk] of probes) {
        expect([head, looksLikeVmdkDescriptor(head)]).toEqual([head, vmdk]);
        // qemu-img takes a file it probes as vmdk for a descriptor (and fails, lacking extents) or prints raw.
        const f = path.join(t.dir, 'probe.vmdk');
        writeFileSync(f, `${head}createType="monolithicFlat"\n`);
        const r = spawnSync('qemu-img', ['info', f], { encoding: 'utf8' });
        expect([head, !/file format: raw/.test(r.stdout)]).toEqual([head, vmdk]);
      }
    } finally {
      t.remove();
    }
    const bare = enc('# written by hand\r\nversion=1\r\ncreateType="monolithicFlat"\r\nRW 2048 FLAT "x-flat.vmdk" 0\r\n');
    const disk = await openImage(new MemoryImageFileSystem({ 'x.vmdk': bare, 'x-flat.vmdk': flat }), 'x.vmdk', { readOnly: true });
    expect(disk.capacity).toBe(1 << 20);
    await disk.close();
    const notOne = enc('# Disk DescriptorFile\ncreateType="monolithicFlat"\nversion=1\n');
    expect((await failure({ 'x.vmdk': notOne }, 'x.vmdk', 'vmdk'))!.message).toMatch(/x\.vmdk: not a VMDK image/);
    // Probed as raw: the descriptor test fails, so openImage takes the file for a raw disk.
    const raw = await openImage(new MemoryImageFileSystem({ 'x.vmdk': notOne }), 'x.vmdk', { readOnly: true });
    expect(raw.capacity).toBe(notOne.length);
    await raw.close();
  });

  it('a descriptor bigger than 1 MiB is not taken for one', async () => {
    const big = new Uint8Array((1 << 20) + 1).fill(0x20);
    big.set(enc('# Disk DescriptorFile\n'));
    expect((await failure({ 'x.vmdk': big }, 'x.vmdk', 'vmdk'))!.message).toMatch(/not a VMDK image: no "KDMV" magic, and at 1048577 bytes too big to be a text descriptor/);
  });
});

describe('VDI validation', () => {
  it('the unpatched images read', async () => {
    expect(await failure({ 'x.vdi': dynamic }, 'x.vdi')).toBeUndefined();
    expect(await failure({ 'x.vdi': fixed }, 'x.vdi')).toBeUndefined();
  });

  const bmap = (b: Uint8Array) => le.u32(b, 0x154);
  const cases: Array<[string, Uint8Array, RegExp]> = [
    ['bad signature', patched(dynamic, (b) => le.setU32(b, 0x40, 0xbeda1070)), /x\.vdi: bad VDI header: signature at 0x40 is 0xbeda1070, not 0xbeda107f/],
    ['version 1.0', patched(dynamic, (b) => le.setU32(b, 0x44, 0x00010000)), /version is 1\.0; only VDI version 1\.1 is supported/],
    ['header_size 16', patched(dynamic, (b) => le.setU32(b, 0x48, 16)), /header_size is 16; expected 384\.\.440 bytes/],
    ['image_type 4 (differencing)', patched(dynamic, (b) => le.setU32(b, 0x4c, 4)), /image_type is 4 \(differencing\); such images need their parent, which is not supported/],
    ['image_type 9', patched(dynamic, (b) => le.setU32(b, 0x4c, 9)), /image_type is 9; expected 1 \(dynamic\) or 2 \(fixed\)/],
    ['an unaligned block map', patched(dynamic, (b) => le.setU32(b, 0x154, 0x201)), /offset_bmap is 513; it must be a multiple of 512 at or after the header \(512\)/],
    ['a block map inside the header', patched(dynamic, (b) => le.setU32(b, 0x154, 0)), /offset_bmap is 0; it must be a multiple of 512 at or after the header/],
    ['a block map past the end', patched(dynamic, (b) => le.setU32(b, 0x154, 0x7ffffe00)), /the block map \(blocks_in_image 3, offset_bmap 2147483136\) ends at 2147483148, past the end of the file/],
    ['blocks_in_image 2^32-1', patched(dynamic, (b) => le.setU32(b, 0x180, 0xffffffff)), /the block map \(blocks_in_image 4294967295, offset_bmap 512\) ends at 17179869692, past the end of the file/],
    ['data inside the block map', patched(dynamic, (b) => le.setU32(b, 0x158, 0x200)), /offset_data is 512; it must be a multiple of 512 after the block map \(which ends at 524\)/],
    ['sector_size 4096', patched(dynamic, (b) => le.setU32(b, 0x168, 4096)), /sector_size is 4096; only 512 is supported/],
    ['block_size 2 MiB', patched(dynamic, (b) => le.setU32(b, 0x178, 2 << 20)), /block_size is 2097152; only 1048576 \(1 MiB\) is supported/],
    ['block_extra 512', patched(dynamic, (b) => le.setU32(b, 0x17c, 512)), /block_extra is 512; only 0 is supported/],
    ['disk_size beyond its blocks', patched(dynamic, (b) => le.setU64(b, 0x170, 1n << 62n)), /disk_size is 4611686018427387904, more than blocks_in_image \(3\) blocks of 1048576 bytes/],
    ['blocks_allocated beyond blocks_in_image', patched(dynamic, (b) => le.setU32(b, 0x184, 4)), /blocks_allocated is 4, more than blocks_in_image \(3\)/],
    ['a parent UUID', patched(dynamic, (b) => (b[0x1b8] = 1)), /uuid_parent is set: differencing VDI images \(with a parent\) are not supported/],
    ['a block past the end', patched(dynamic, (b) => le.setU32(b, bmap(b) + 4, 7)), /corrupt VDI image: block map entry 1 is 7: its data \(1048576 bytes at offset \d+\) ends past the end of the file/],
    ['a block used twice', patched(fixed, (b) => le.setU32(b, bmap(b) + 8, 0)), /corrupt VDI image: block map entries 0 and 2 both point at data block 0/],
    ['a file cut inside a block', fixed.slice(0, fixed.length - 1), /block map entry 2 is 2: its data .* ends past the end of the file \(3146751 bytes\)/],
    ['a file cut inside the header', dynamic.slice(0, 300), /truncated VDI image: the header \(300 bytes at offset 0\)|smaller than a VDI header/],
  ];
  for (const [label, bytes, message] of cases) {
    it(`refuses ${label}`, async () => {
      const e = await failure({ 'x.vdi': bytes }, 'x.vdi', 'vdi');
      expect(e, label).toBeInstanceOf(TypervisorError);
      expect(e!.message).toMatch(message);
      expect(e!.hint).toBeTruthy();
    });
  }

  it('a discarded block (0xfffffffe) reads as zeros', async () => {
    const b = patched(fixed, (x) => le.setU32(x, le.u32(x, 0x154), 0xfffffffe));
    const disk = await openImage(new MemoryImageFileSystem({ 'x.vdi': b }), 'x.vdi', { readOnly: true });
    const head = new Uint8Array(4096);
    await disk.read(0, head);
    expect(head.every((x) => x === 0)).toBe(true);
    await disk.read(2 << 20, head);
    expect(head.every((x) => x === 0xcd)).toBe(true);
    await disk.close();
  });
});

