import { describe, expect, it } from 'vitest';
import { TypervisorError } from './errors.js';
import { RamGuestMemory } from './guest-memory.js';

describe('RamGuestMemory', () => {
  const make = () => {
    const writes: [number, number][] = [];
    const mem = new RamGuestMemory(new Uint8Array(0x1000), 0x8000_0000, (a, l) => writes.push([a, l]));
    return { mem, writes };
  };

  it('reads back what it wrote, little-endian, and reports writes', () => {
    const { mem, writes } = make();
    mem.writeU32(0x8000_0010, 0xdeadbeef);
    expect(mem.readU8(0x8000_0010)).toBe(0xef);
    expect(mem.readU16(0x8000_0012)).toBe(0xdead);
    mem.writeU64(0x8000_0020, 0x0123_4567_89ab_cdefn);
    expect(mem.readU64(0x8000_0020)).toBe(0x0123_4567_89ab_cdefn);
    expect(mem.readU32(0x8000_0024)).toBe(0x0123_4567);
    mem.write(0x8000_0ffe, Uint8Array.of(1, 2));
    const dst = new Uint8Array(2);
    mem.read(0x8000_0ffe, dst);
    expect([...dst]).toEqual([1, 2]);
    mem.fill(0x8000_0100, 16, 0xaa);
    expect(mem.readU32(0x8000_010c)).toBe(0xaaaaaaaa);
    expect(writes).toEqual([[0x8000_0010, 4], [0x8000_0020, 8], [0x8000_0ffe, 2], [0x8000_0100, 16]]);
  });

  it('throws a TypervisorError for anything outside RAM and touches nothing', () => {
    const { mem, writes } = make();
    const bad: (() => unknown)[] = [
      () => mem.readU8(0x7fff_ffff),
      () => mem.readU32(0x8000_0ffd),
      () => mem.write(0x8000_0fff, Uint8Array.of(1, 2)),
      () => mem.fill(0x8000_0000, 0x1001, 0),
      () => mem.fill(0x8000_0000, -1, 0),
      () => mem.readU64(Number.NaN),
      () => mem.writeU16(0x8000_0000 + 0.5, 1),
      () => mem.read(2 ** 60, new Uint8Array(1)),
    ];
    for (const f of bad) expect(f).toThrow(TypervisorError);
    expect(writes).toEqual([]);
    expect(mem.bytes.every((b) => b === 0)).toBe(true);
  });

  it('knows its extent', () => {
    const { mem } = make();
    expect(mem.size).toBe(0x1000);
    expect(mem.contains(0x8000_0000, 0x1000)).toBe(true);
    expect(mem.contains(0x8000_1000, 0)).toBe(true);
    expect(mem.contains(0x8000_0001, 0x1000)).toBe(false);
  });
});
