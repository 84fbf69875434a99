import { describe, expect, it } from 'vitest';
import { TypervisorError } from '../core/errors.js';
import type { AccessWidth } from '../cpu/hart-api.js';
import { MmioBus } from './mmio-bus.js';
import type { MmioDevice } from './mmio-device.js';

class Recorder implements MmioDevice {
  readonly log: string[] = [];
  constructor(
    readonly size: number,
    private readonly value: number | bigint = 0,
    readonly accepts?: (offset: number, width: AccessWidth) => boolean,
  ) {}
  read(offset: number, width: AccessWidth): number | bigint {
    this.log.push(`r${width}@${offset}`);
    return this.value;
  }
  write(offset: number, width: AccessWidth, value: number | bigint): void {
    this.log.push(`w${width}@${offset}=${value}`);
  }
}

describe('MmioBus', () => {
  it('routes by address and passes offsets', () => {
    const bus = new MmioBus();
    const a = new Recorder(0x100);
    const b = new Recorder(0x1000);
    bus.map('a', 0x1000_0000, a);
    bus.map('b', 0x10_0000, b);
    expect(bus.write(0x1000_0004, 4, 7)).toBe(true);
    expect(bus.read(0x10_0ff8, 8)).toBe(0n);
    expect(a.log).toEqual(['w4@4=7']);
    expect(b.log).toEqual(['r8@4088']);
    expect(bus.deviceAt(0x1000_00ff)).toBe('a');
    expect(bus.deviceAt(0x1000_0100)).toBeUndefined();
  });

  it('answers nothing for holes, straddles, misalignment and refused widths', () => {
    const bus = new MmioBus();
    const dev = new Recorder(0x10, 0, (_o, w) => w === 4);
    bus.map('dev', 0x2000, dev);
    expect(bus.read(0x1ffc, 4)).toBeUndefined(); // hole below
    expect(bus.read(0x2010, 4)).toBeUndefined(); // hole above
    expect(bus.read(0x200c, 8)).toBeUndefined(); // misaligned (and straddles)
    expect(bus.read(0x2002, 4)).toBeUndefined(); // misaligned
    expect(bus.read(0x2000, 1)).toBeUndefined(); // refused width
    expect(bus.write(0x2000, 2, 1)).toBe(false);
    expect(bus.read(-4, 4)).toBeUndefined();
    expect(bus.read(Number.NaN, 4)).toBeUndefined();
    expect(dev.log).toEqual([]);
  });

  it('rejects a device whose end the access crosses', () => {
    const bus = new MmioBus();
    const dev = new Recorder(12);
    bus.map('dev', 0x3000, dev);
    expect(bus.read(0x3008, 8)).toBeUndefined(); // 0x3008..0x300f crosses the end at 0x300c
    expect(bus.read(0x3008, 4)).toBe(0);
  });

  it('normalises device values to the access width', () => {
    const bus = new MmioBus();
    bus.map('big', 0x0, new Recorder(8, 0x1_2345_6789n));
    bus.map('num', 0x10, new Recorder(8, 0x1_ffff_fffe));
    bus.map('neg', 0x20, new Recorder(8, -1));
    expect(bus.read(0x0, 4)).toBe(0x2345_6789);
    expect(bus.read(0x0, 2)).toBe(0x6789);
    expect(bus.read(0x0, 1)).toBe(0x89);
    expect(bus.read(0x10, 4)).toBe(0xffff_fffe);
    expect(bus.read(0x10, 8)).toBe(0x1_ffff_fffen);
    expect(bus.read(0x20, 8)).toBe(0xffff_ffff_ffff_ffffn);
    expect(bus.read(0x20, 4)).toBe(0xffff_ffff);
  });

  it('refuses overlapping or empty mappings', () => {
    const bus = new MmioBus();
    bus.map('a', 0x1000, new Recorder(0x100));
    expect(() => bus.map('b', 0x10ff, new Recorder(1))).toThrow(/overlaps a/);
    expect(() => bus.map('c', 0xf01, new Recorder(0x100))).toThrow(TypervisorError);
    expect(() => bus.map('d', 0x2000, new Recorder(0))).toThrow(TypervisorError);
    bus.map('e', 0x1100, new Recorder(0x100)); // adjacent is fine
  });
});
