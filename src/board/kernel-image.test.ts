// The RISC-V Linux Image loader. Header layout from Linux Documentation/arch/riscv/boot-image-header.rst:
//   u32 code0 @0, u32 code1 @4, u64 text_offset @8, u64 image_size @16, u64 flags @24,
//   u32 version @32, u32 res1 @36, u64 res2 @40, u64 magic "RISCV\0\0\0" @48,
//   u32 magic2 "RSC\x05" @56, u32 res3 @60 (PE/COFF header offset).
// The EFI zboot container from drivers/firmware/efi/libstub/zboot-header.S:
//   "MZ" @0, "zimg" @4, u32 payload offset @8, u32 payload size @12, NUL-padded compression name @24.
import fc from 'fast-check';
import { gzipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { cachedDebianImagePath, readTestFile } from '../../tests/helpers/cached-guest.js';
import { makeElf } from '../../tests/helpers/elf-image.js';
import { TypervisorError } from '../core/errors.js';
import { RamGuestMemory } from '../core/guest-memory.js';
import { isLinuxImage, loadKernel, unwrapKernel } from './kernel-image.js';
import { thrown } from '../../tests/helpers/thrown.js';

const MiB = 1024 * 1024;
const RAM_BASE = 0x8000_0000;
const STALE = 0xee;

/** RAM filled with a recognisable byte, so writes (and zeroing) show. */
const newRam = (size = 8 * MiB) => {
  const ram = new RamGuestMemory(new Uint8Array(size), RAM_BASE);
  ram.bytes.fill(STALE);
  return ram;
};
const untouched = (ram: RamGuestMemory) => ram.bytes.every((b) => b === STALE);

/** Byte-wise equality (vitest's toEqual walks typed arrays element by element: slow for MiBs). */
const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

interface ImageSpec {
  textOffset?: bigint;
  imageSize?: bigint;
  flags?: bigint;
  /** Bytes after the 64-byte header. */
  bodyBytes?: number;
  magic?: boolean;
  magic2?: boolean;
}

/** A synthetic RISC-V Linux Image: the 64-byte header and a patterned body. */
function makeImage(spec: ImageSpec = {}): Uint8Array {
  const out = new Uint8Array(64 + (spec.bodyBytes ?? 0x1000));
  const v = new DataView(out.buffer);
  v.setUint32(0, 0x0400_006f, true); // code0: j +64 (past the header)
  v.setUint32(4, 0, true); // code1
  v.setBigUint64(8, spec.textOffset ?? 0x20_0000n, true);
  v.setBigUint64(16, spec.imageSize ?? BigInt(out.length), true);
  v.setBigUint64(24, spec.flags ?? 0n, true);
  v.setUint32(32, 2, true); // header version 0.2
  if (spec.magic ?? true) out.set(new TextEncoder().encode('RISCV\0\0\0'), 48);
  if (spec.magic2 ?? true) out.set([0x52, 0x53, 0x43, 0x05], 56);
  for (let i = 64; i < out.length; i++) out[i] = (i * 7 + 3) & 0xff;
  return out;
}

/** An EFI zboot container around `payload`, compressed with `kind`. */
function makeZboot(payload: Uint8Array, kind = 'gzip', payloadOffset = 0x200): Uint8Array {
  const out = new Uint8Array(payloadOffset + payload.length + 0x40);
  const v = new DataView(out.buffer);
  out.set([0x4d, 0x5a], 0); // "MZ"
  out.set(new TextEncoder().encode('zimg'), 4);
  v.setUint32(8, payloadOffset, true);
  v.setUint32(12, payload.length, true);
  out.set(new TextEncoder().encode(kind), 24);
  out.set(payload, payloadOffset);
  return out;
}

describe('loadKernel: RISC-V Linux Image', () => {
  it('places the Image at RAM + text_offset, copies it and zeroes the bss up to image_size', () => {
    const ram = newRam();
    const image = makeImage({ imageSize: 64n + 0x1000n + 0x3000n });
    const k = loadKernel('Image', image, ram, RAM_BASE);
    expect(k).toEqual({ format: 'linux-image', entry: RAM_BASE + 2 * MiB, start: RAM_BASE + 2 * MiB, end: RAM_BASE + 2 * MiB + 0x4040 });
    const at = 2 * MiB;
    expect(same(ram.bytes.subarray(at, at + image.length), image)).toBe(true);
    expect(ram.bytes.subarray(at + image.length, at + 0x4040).every((b) => b === 0)).toBe(true);
    expect(ram.bytes[at + 0x4040]).toBe(STALE); // nothing past image_size
    expect(ram.bytes[at - 1]).toBe(STALE);
    expect(ram.bytes.subarray(0, at).every((b) => b === STALE)).toBe(true);
  });

  it('goes to `lowest` (e.g. above firmware) when that is higher than RAM + text_offset', () => {
    const ram = newRam();
    const k = loadKernel('Image', makeImage(), ram, RAM_BASE + 4 * MiB);
    expect([k.entry, k.start]).toEqual([RAM_BASE + 4 * MiB, RAM_BASE + 4 * MiB]);
    expect(ram.readU32(RAM_BASE + 4 * MiB)).toBe(0x0400_006f);
    expect(ram.bytes.subarray(0, 4 * MiB).every((b) => b === STALE)).toBe(true);
  });

  it('honours a text_offset above `lowest`', () => {
    const ram = newRam();
    const k = loadKernel('Image', makeImage({ textOffset: 0x40_0000n }), ram, RAM_BASE + 2 * MiB);
    expect(k.start).toBe(RAM_BASE + 4 * MiB);
  });

  it('places an Image with text_offset 0 at the start of RAM', () => {
    const k = loadKernel('Image', makeImage({ textOffset: 0n }), newRam(), RAM_BASE);
    expect(k.start).toBe(RAM_BASE);
  });

  it('uses the file size when image_size is 0 (old kernels) or smaller than the file', () => {
    const image = makeImage({ imageSize: 0n });
    expect(loadKernel('Image', image, newRam(), RAM_BASE).end).toBe(RAM_BASE + 2 * MiB + image.length);
    const small = makeImage({ imageSize: 16n });
    expect(loadKernel('Image', small, newRam(), RAM_BASE).end).toBe(RAM_BASE + 2 * MiB + small.length);
  });

  it('fits an Image whose footprint ends exactly at the end of RAM', () => {
    const ram = newRam();
    const k = loadKernel('Image', makeImage({ imageSize: BigInt(6 * MiB) }), ram, RAM_BASE);
    expect(k.end).toBe(RAM_BASE + 8 * MiB);
    expect(ram.bytes[8 * MiB - 1]).toBe(0);
  });

  it('refuses a big-endian Image (flags bit 0) and leaves RAM untouched', () => {
    const ram = newRam();
    const e = thrown(() => loadKernel('Image', makeImage({ flags: 1n }), ram, RAM_BASE));
    expect(e.message).toMatch(/^Image: a big-endian kernel Image cannot run/);
    expect(untouched(ram)).toBe(true);
  });

  it.each([
    ['image_size larger than RAM', { imageSize: BigInt(7 * MiB) }, RAM_BASE],
    ['image_size near 2^64', { imageSize: 0xffff_ffff_ffff_f000n }, RAM_BASE],
    ['text_offset past RAM', { textOffset: BigInt(8 * MiB) }, RAM_BASE],
    ['text_offset near 2^64', { textOffset: 0xffff_ffff_ffe0_0000n }, RAM_BASE],
    ['text_offset not page aligned', { textOffset: 0x20_0800n }, RAM_BASE],
    ['lowest at the end of RAM', {}, RAM_BASE + 8 * MiB],
  ] as const)('refuses an Image outside RAM (%s) with a --mem hint, RAM untouched', (_what, spec, lowest) => {
    const ram = newRam();
    const e = thrown(() => loadKernel('vmlinux', makeImage(spec), ram, lowest));
    expect(e.message).toMatch(/^vmlinux: the kernel needs 0x[0-9a-f]+–0x[0-9a-f]+ \(text_offset 0x[0-9a-f]+, \d+ bytes\), outside RAM 0x80000000–0x807fffff$/);
    expect(e.hint).toMatch(/--mem/);
    expect(untouched(ram)).toBe(true);
  });

  it('recognises the header by either magic', () => {
    expect(isLinuxImage(makeImage())).toBe(true);
    expect(isLinuxImage(makeImage({ magic: false }))).toBe(true); // magic2 alone (current kernels)
    expect(isLinuxImage(makeImage({ magic2: false }))).toBe(true); // the deprecated magic alone
    expect(isLinuxImage(makeImage({ magic: false, magic2: false }))).toBe(false);
    expect(isLinuxImage(makeImage().subarray(0, 63))).toBe(false);
  });

  it('refuses a file that is no kernel, naming what it looked for', () => {
    const ram = newRam();
    const e = thrown(() => loadKernel('notes.txt', new TextEncoder().encode('hello world, this is not a kernel at all'.repeat(3)), ram, RAM_BASE));
    expect(e.message).toMatch(/^notes\.txt: not a kernel: neither an ELF file nor a RISC-V Linux Image/);
    expect(e.hint).toMatch(/Image/);
    expect(untouched(ram)).toBe(true);
    expect(() => loadKernel('empty', new Uint8Array(0), ram, RAM_BASE)).toThrow(TypervisorError);
  });
});

describe('loadKernel: ELF', () => {
  it('still loads an ELF at its physical addresses and reports its extent', () => {
    const ram = newRam();
    const elf = makeElf({
      entry: RAM_BASE + 0x1004,
      segments: [
        { paddr: RAM_BASE + 0x1000, data: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8) },
        { paddr: RAM_BASE + 0x3000, data: Uint8Array.of(9), memSize: 0x100 },
      ],
    });
    const k = loadKernel('prog.elf', elf, ram, RAM_BASE + 2 * MiB); // `lowest` does not move an ELF
    expect(k).toEqual({ format: 'elf', entry: RAM_BASE + 0x1004, start: RAM_BASE + 0x1000, end: RAM_BASE + 0x3100 });
    expect(ram.readU8(RAM_BASE + 0x1007)).toBe(8);
    expect(ram.readU8(RAM_BASE + 0x30ff)).toBe(0);
  });
});

describe('unwrapKernel', () => {
  it('returns an uncompressed file unchanged', () => {
    const image = makeImage();
    expect(unwrapKernel('Image', image)).toBe(image);
    const elf = makeElf({ entry: RAM_BASE, segments: [{ paddr: RAM_BASE, data: Uint8Array.of(1) }] });
    expect(unwrapKernel('prog.elf', elf)).toBe(elf);
  });

  it('unpacks Image.gz, which then loads like the Image', () => {
    const image = makeImage({ bodyBytes: 0x8000 });
    const unwrapped = unwrapKernel('Image.gz', gzipSync(image));
    expect(same(unwrapped, image)).toBe(true);
    const ram = newRam();
    expect(loadKernel('Image.gz', unwrapped, ram, RAM_BASE).start).toBe(RAM_BASE + 2 * MiB);
    expect(same(ram.bytes.subarray(2 * MiB, 2 * MiB + image.length), image)).toBe(true);
  });

  it('unpacks an EFI zboot container with a gzip payload', () => {
    const image = makeImage();
    expect(unwrapKernel('vmlinuz.efi', makeZboot(gzipSync(image)))).toEqual(image);
    expect(unwrapKernel('vmlinuz.efi', makeZboot(gzipSync(image), 'gzip', 0x1000))).toEqual(image);
  });

  it.each(['zstd', 'lzma', 'xzkern', 'lz4', 'lzo', 'bzip2'])('names other zboot compression (%s) in the error', (kind) => {
    const e = thrown(() => unwrapKernel('vmlinuz.efi', makeZboot(new Uint8Array(100), kind)));
    expect(e.message).toBe(`vmlinuz.efi: EFI zboot image compressed with '${kind}', but only gzip is supported`);
    expect(e.hint).toMatch(/uncompressed Image/);
  });

  it('refuses a zboot payload that runs past the end of the file', () => {
    const zboot = makeZboot(gzipSync(makeImage()));
    new DataView(zboot.buffer).setUint32(12, zboot.length, true);
    expect(() => unwrapKernel('vmlinuz.efi', zboot)).toThrow(/EFI zboot payload \(0x200\+0x[0-9a-f]+\) extends past the end of the file/);
    new DataView(zboot.buffer).setUint32(8, 0xffff_ffff, true);
    expect(() => unwrapKernel('vmlinuz.efi', zboot)).toThrow(TypervisorError);
  });

  it('leaves an MZ file without "zimg" alone (an EFI-stub Image starts with MZ too)', () => {
    const image = makeImage();
    image.set([0x4d, 0x5a], 0);
    expect(unwrapKernel('Image', image)).toBe(image);
    expect(isLinuxImage(image)).toBe(true);
  });

  it.each([
    ['truncated', (gz: Uint8Array) => gz.subarray(0, gz.length >> 1)],
    ['garbage after the header', (gz: Uint8Array) => Uint8Array.from([...gz.subarray(0, 10), ...new Array<number>(64).fill(0xff)])],
    ['only the magic', () => Uint8Array.of(0x1f, 0x8b)],
    ['a wrong compression method', (gz: Uint8Array) => Uint8Array.from(gz, (b, i) => (i === 2 ? 7 : b))],
  ])('reports a corrupt gzip file (%s) clearly', (_what, corrupt) => {
    const e = thrown(() => unwrapKernel('Image.gz', corrupt(gzipSync(makeImage()))));
    expect(e.message).toMatch(/^Image\.gz: the gzip-compressed kernel is corrupt \(.+\)$/);
    expect(e.hint).toMatch(/gzip -t/);
  });

  it('reports a corrupt gzip payload inside zboot the same way', () => {
    const gz = gzipSync(makeImage());
    expect(() => unwrapKernel('vmlinuz.efi', makeZboot(gz.subarray(0, 20)))).toThrow(/vmlinuz\.efi: the gzip-compressed kernel is corrupt/);
  });
});

describe('kernel files are untrusted', () => {
  it('property: any bytes give a kernel or a TypervisorError, never another exception', () => {
    const header = (b: Uint8Array) => fc.constant(b);
    const prefix = fc.oneof(
      header(new Uint8Array(0)),
      header(Uint8Array.of(0x1f, 0x8b, 8)),
      header(Uint8Array.of(0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3)),
      header(makeZboot(new Uint8Array(0)).subarray(0, 32)),
      header(Uint8Array.of(0x7f, 0x45, 0x4c, 0x46, 2, 1, 1)),
      header(makeImage({ bodyBytes: 0 }).subarray(0, 8)),
    );
    const imageHeader = fc.record({
      textOffset: fc.oneof(fc.constant(0x20_0000n), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.bigInt({ min: 0n, max: 0x80_0000n })),
      imageSize: fc.oneof(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.bigInt({ min: 0n, max: 0x80_0000n })),
      flags: fc.bigInt({ min: 0n, max: 3n }),
      bodyBytes: fc.integer({ min: 0, max: 256 }),
    });
    const file = fc.oneof(
      fc.tuple(prefix, fc.uint8Array({ maxLength: 512 })).map(([p, rest]) => Uint8Array.from([...p, ...rest])),
      imageHeader.map((s) => makeImage(s)),
      fc.tuple(imageHeader, fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.nat()).map(([s, junk, at]) => {
        const img = makeImage(s);
        img.set(junk.subarray(0, Math.max(0, img.length - (at % img.length))), at % img.length);
        return img;
      }),
      imageHeader.map((s) => makeZboot(gzipSync(makeImage(s)))),
    );
    fc.assert(
      fc.property(file, fc.constantFrom(RAM_BASE, RAM_BASE + 2 * MiB, RAM_BASE + 8 * MiB), (bytes, lowest) => {
        const ram = new RamGuestMemory(new Uint8Array(4 * MiB), RAM_BASE);
        try {
          const k = loadKernel('fuzz', unwrapKernel('fuzz', bytes), ram, lowest);
          expect(k.start).toBeGreaterThanOrEqual(RAM_BASE);
          expect(k.end).toBeLessThanOrEqual(RAM_BASE + 4 * MiB);
          expect(k.entry).toBeGreaterThanOrEqual(RAM_BASE);
        } catch (e) {
          if (!(e instanceof TypervisorError)) throw e;
        }
      }),
      { numRuns: 600 },
    );
  });
});

const debianImage = cachedDebianImagePath();
describe('the real Debian kernel', () => {
  it.skipIf(!debianImage)(
    debianImage
      ? `loads the cached Debian trixie Image (${debianImage})`
      : 'SKIPPED: loads the cached Debian trixie Image (none in ~/.cache/typervisor/guests/debian-trixie-riscv64/*/Image)',
    () => {
      const bytes = readTestFile(debianImage!);
      // Debian's Image carries an EFI stub: it starts with "MZ" but is no zboot container.
      expect([bytes[0], bytes[1]]).toEqual([0x4d, 0x5a]);
      const image = unwrapKernel('Image', bytes);
      expect(image).toBe(bytes);
      expect(isLinuxImage(image)).toBe(true);
      const v = new DataView(image.buffer, image.byteOffset, image.byteLength);
      expect(v.getBigUint64(8, true)).toBe(0x20_0000n);
      const imageSize = Number(v.getBigUint64(16, true));
      expect(imageSize).toBeGreaterThanOrEqual(image.length);
      const ram = new RamGuestMemory(new Uint8Array(64 * MiB), RAM_BASE);
      const k = loadKernel('Image', image, ram, RAM_BASE);
      expect(k).toEqual({ format: 'linux-image', entry: RAM_BASE + 2 * MiB, start: RAM_BASE + 2 * MiB, end: RAM_BASE + 2 * MiB + imageSize });
      expect(ram.bytes.subarray(2 * MiB, 2 * MiB + 64)).toEqual(image.subarray(0, 64));
      expect(ram.bytes.subarray(2 * MiB + image.length - 64, 2 * MiB + image.length)).toEqual(image.subarray(image.length - 64));
    },
  );
});
