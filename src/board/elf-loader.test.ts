import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { makeElf } from '../../tests/helpers/elf-image.js';
import { TypervisorError } from '../core/errors.js';
import { RamGuestMemory } from '../core/guest-memory.js';
import { loadElf } from './elf-loader.js';

const RAM_BASE = 0x8000_0000;
const newRam = (size = 0x10000) => new RamGuestMemory(new Uint8Array(size), RAM_BASE);
const bytes = (...b: number[]) => Uint8Array.from(b);

describe('loadElf', () => {
  it('loads PT_LOAD segments at p_paddr, zero-fills bss, returns the entry', () => {
    const ram = newRam();
    ram.fill(RAM_BASE + 0x1000, 0x100, 0xee); // stale bytes where bss goes
    const image = makeElf({
      entry: RAM_BASE + 4,
      segments: [
        { paddr: RAM_BASE, data: bytes(1, 2, 3, 4, 5) },
        { paddr: RAM_BASE + 0x1000, data: bytes(9), memSize: 0x100 },
        { paddr: 0, data: bytes(7, 7), type: 4 }, // PT_NOTE: ignored
      ],
    });
    const loaded = loadElf('prog.elf', image, ram);
    expect(loaded.entry).toBe(RAM_BASE + 4);
    expect(loaded.segments).toEqual([
      { index: 0, paddr: RAM_BASE, fileSize: 5, memSize: 5 },
      { index: 1, paddr: RAM_BASE + 0x1000, fileSize: 1, memSize: 0x100 },
    ]);
    expect([...ram.bytes.subarray(0, 6)]).toEqual([1, 2, 3, 4, 5, 0]);
    expect(ram.readU8(RAM_BASE + 0x1000)).toBe(9);
    expect(ram.bytes.subarray(0x1001, 0x1100).every((b) => b === 0)).toBe(true);
    expect(ram.readU8(RAM_BASE + 0x1100)).toBe(0);
  });

  const cases: [string, () => Uint8Array, RegExp][] = [
    ['empty file', () => new Uint8Array(0), /not an ELF file/],
    ['text file', () => new TextEncoder().encode('#!/bin/sh\necho hi\n'), /not an ELF file/],
    ['truncated header', () => makeElf({ entry: RAM_BASE, segments: [] }).subarray(0, 40), /truncated ELF header/],
    ['32-bit ELF', () => makeElf({ entry: RAM_BASE, segments: [], elfClass: 1 }), /ELFCLASS64/],
    ['x86-64 ELF', () => makeElf({ entry: RAM_BASE, segments: [{ paddr: RAM_BASE, data: bytes(1) }], machine: 62 }), /ELF machine 62, not RISC-V \(243\)/],
    ['relocatable object', () => makeElf({ entry: RAM_BASE, segments: [], type: 1 }), /not an executable/],
    ['no program headers', () => makeElf({ entry: RAM_BASE, segments: [] }), /no program headers/],
    ['only empty segments', () => makeElf({ entry: RAM_BASE, segments: [{ paddr: RAM_BASE, data: bytes() }] }), /no loadable/],
    [
      'segment below RAM',
      () => makeElf({ entry: RAM_BASE, segments: [{ paddr: 0x1000, data: bytes(1) }] }),
      /prog\.elf: segment 0 \(paddr 0x1000, 0x1 bytes\) lies outside RAM 0x80000000–0x8000ffff/,
    ],
    [
      'segment past the end of RAM',
      () => makeElf({ entry: RAM_BASE, segments: [{ paddr: RAM_BASE, data: bytes(1) }, { paddr: RAM_BASE + 0xff00, data: bytes(1), memSize: 0x200 }] }),
      /segment 1 \(paddr 0x8000ff00, 0x200 bytes\) lies outside RAM/,
    ],
    ['entry outside RAM', () => makeElf({ entry: 0x1000, segments: [{ paddr: RAM_BASE, data: bytes(1) }] }), /entry point 0x1000 lies outside RAM/],
  ];
  it.each(cases)('rejects %s with a precise TypervisorError', (_what, image, message) => {
    const ram = newRam();
    let error: unknown;
    try {
      loadElf('prog.elf', image(), ram);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TypervisorError);
    expect((error as Error).message).toMatch(message);
    expect(ram.bytes.every((b) => b === 0)).toBe(true);
  });

  it('hints at --mem when a segment is above the end of RAM', () => {
    const image = makeElf({ entry: RAM_BASE, segments: [{ paddr: RAM_BASE + 0x20000, data: bytes(1) }] });
    expect(() => loadElf('k', image, newRam())).toThrow(expect.objectContaining({ hint: expect.stringMatching(/--mem/) }));
  });

  it('rejects p_filesz > p_memsz and file ranges past the end', () => {
    const image = makeElf({ entry: RAM_BASE, segments: [{ paddr: RAM_BASE, data: bytes(1, 2, 3, 4) }] });
    const v = new DataView(image.buffer);
    v.setBigUint64(64 + 40, 2n, true); // memsz 2 < filesz 4
    expect(() => loadElf('k', image, newRam())).toThrow(/larger than p_memsz/);
    v.setBigUint64(64 + 40, 4n, true);
    v.setBigUint64(64 + 8, 0xffff_ffff_ffff_fff0n, true); // offset + filesz overflows 64 bits
    expect(() => loadElf('k', image, newRam())).toThrow(/past the end of the file/);
    v.setBigUint64(64 + 8, BigInt(image.length - 2), true);
    expect(() => loadElf('k', image, newRam())).toThrow(/past the end of the file/);
  });

  it('rejects program headers past the end of the file and odd header sizes', () => {
    const image = makeElf({ entry: RAM_BASE, segments: [{ paddr: RAM_BASE, data: bytes(1) }] });
    const v = new DataView(image.buffer);
    v.setUint16(56, 3, true);
    expect(() => loadElf('k', image, newRam())).toThrow(/program headers .* extend past the end/);
    v.setUint16(56, 0xffff, true);
    expect(() => loadElf('k', image, newRam())).toThrow(/extended program header numbering/);
    v.setUint16(56, 1, true);
    v.setUint16(54, 32, true);
    expect(() => loadElf('k', image, newRam())).toThrow(/e_phentsize/);
    v.setUint16(54, 56, true);
    v.setBigUint64(32, 2n ** 64n - 1n, true);
    expect(() => loadElf('k', image, newRam())).toThrow(/program headers/);
  });

  // Guest input is hostile: whatever the bytes, the loader throws a TypervisorError or loads.
  const expectOnlyTypervisorErrors = (image: Uint8Array) => {
    const ram = newRam(0x2000);
    try {
      const loaded = loadElf('fuzz', image, ram);
      for (const s of loaded.segments) expect(ram.contains(s.paddr, s.memSize)).toBe(true);
    } catch (e) {
      if (!(e instanceof TypervisorError)) throw e;
      expect(ram.bytes.every((b) => b === 0)).toBe(true);
    }
  };

  it('survives random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), expectOnlyTypervisorErrors), { numRuns: 500 });
  });

  it('survives random bytes behind a valid ELF64 RISC-V identification', () => {
    const prefix = makeElf({ entry: 0, segments: [] }).subarray(0, 20);
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 400 }), (tail) => {
        const image = new Uint8Array(prefix.length + tail.length);
        image.set(prefix);
        image.set(tail, prefix.length);
        expectOnlyTypervisorErrors(image);
      }),
      { numRuns: 500 },
    );
  });

  it('survives mutations of a valid image', () => {
    const valid = makeElf({
      entry: RAM_BASE + 8,
      segments: [
        { paddr: RAM_BASE, data: bytes(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12) },
        { paddr: RAM_BASE + 0x1000, data: bytes(1), memSize: 0x800 },
      ],
    });
    const mutation = fc.record({ at: fc.nat({ max: valid.length - 1 }), value: fc.integer({ min: 0, max: 255 }) });
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 8 }), fc.nat({ max: valid.length }), (changes, cut) => {
        const image = valid.slice(0, cut === 0 ? valid.length : cut); // sometimes truncated
        for (const { at, value } of changes) if (at < image.length) image[at] = value;
        expectOnlyTypervisorErrors(image);
      }),
      { numRuns: 1000 },
    );
  });

  it('survives arbitrary 64-bit field values in headers', () => {
    const valid = makeElf({ entry: RAM_BASE, segments: [{ paddr: RAM_BASE, data: bytes(1, 2, 3, 4) }] });
    const fields = [24, 32, 64 + 8, 64 + 24, 64 + 32, 64 + 40];
    fc.assert(
      fc.property(fc.constantFrom(...fields), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), (at, value) => {
        const image = valid.slice();
        new DataView(image.buffer).setBigUint64(at, value, true);
        expectOnlyTypervisorErrors(image);
      }),
      { numRuns: 1000 },
    );
  });
});
