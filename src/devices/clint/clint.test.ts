import { describe, expect, it } from 'vitest';
import { TypervisorError } from '../../core/errors.js';
import { Irq } from '../../cpu/hart-api.js';
import { Clint, type ClintHart } from './clint.js';
import { MtimeClock } from './mtime-clock.js';

class FakeHart implements ClintHart {
  mtimecmp = 0n;
  mip = 0;
  setInterruptLevel(bits: number, level: boolean): void {
    this.mip = level ? this.mip | bits : this.mip & ~bits;
  }
}

const setup = (harts = 1) => {
  let ms = 1000;
  const clock = new MtimeClock(() => ms);
  const hs = Array.from({ length: harts }, () => new FakeHart());
  const clint = new Clint(hs, clock);
  return { clint, clock, harts: hs, advance: (d: number) => (ms += d) };
};

describe('Clint', () => {
  it('decodes the widths QEMU does: msip 4 bytes, mtimer 4 and 8, nothing above 0xbfff', () => {
    const { clint } = setup();
    expect([1, 2, 4, 8].map((w) => clint.accepts(0, w as 1))).toEqual([false, false, true, false]);
    expect([1, 2, 4, 8].map((w) => clint.accepts(0x4000, w as 1))).toEqual([false, false, true, true]);
    expect([1, 2, 4, 8].map((w) => clint.accepts(0xbff8, w as 1))).toEqual([false, false, true, true]);
    expect(clint.accepts(0xc000, 4)).toBe(false);
    expect(clint.accepts(0xfffc, 4)).toBe(false);
  });

  it('resets msip and mtimecmp to 0, as QEMU does', () => {
    const { clint, harts } = setup(2);
    harts[1]!.mtimecmp = 5n;
    clint.write(4, 4, 1);
    clint.reset();
    expect(harts.map((h) => [h.mtimecmp, h.mip])).toEqual([[0n, 0], [0n, 0]]);
  });

  it('drives MSIP from bit 0 of msip', () => {
    const { clint, harts } = setup();
    clint.write(0, 4, 3);
    expect(harts[0]!.mip).toBe(Irq.MSIP);
    expect(clint.read(0, 4)).toBe(1);
    clint.write(0, 4, 2);
    expect(harts[0]!.mip).toBe(0);
    expect(clint.read(0, 4)).toBe(0);
  });

  it('reads 0 and ignores writes for harts that do not exist', () => {
    const { clint, harts } = setup();
    clint.write(4, 4, 1);
    clint.write(0x4008, 8, 5n);
    expect(clint.read(4, 4)).toBe(0);
    expect(clint.read(0x3ffc, 4)).toBe(0);
    expect(clint.read(0x4008, 8)).toBe(0);
    expect(clint.read(0xbff0, 8)).toBe(0);
    expect(harts[0]!.mip).toBe(0);
    expect(harts[0]!.mtimecmp).toBe(0n);
  });

  it('reads and writes mtimecmp whole or by halves', () => {
    const { clint, harts } = setup();
    clint.write(0x4000, 4, 0x11223344);
    expect(harts[0]!.mtimecmp).toBe(0x11223344n);
    clint.write(0x4004, 4, 0x55667788);
    expect(clint.read(0x4000, 8)).toBe(0x5566778811223344n);
    expect(clint.read(0x4004, 4)).toBe(0x55667788);
    expect(clint.read(0x4000, 4)).toBe(0x11223344);
    clint.write(0x4000, 8, 0xffff_ffff_ffff_ffffn);
    expect(harts[0]!.mtimecmp).toBe(0xffff_ffff_ffff_ffffn);
  });

  it('addresses each hart separately', () => {
    const { clint, harts } = setup(2);
    clint.write(4, 4, 1);
    clint.write(0x4008, 8, 77n);
    expect(harts[0]!.mip).toBe(0);
    expect(harts[1]!.mip).toBe(Irq.MSIP);
    expect(harts[1]!.mtimecmp).toBe(77n);
  });

  it('counts mtime at 10 MHz and lets the guest set it (as QEMU 7.2 does)', () => {
    const { clint, clock, advance } = setup();
    expect(clint.read(0xbff8, 8)).toBe(0n);
    advance(2.5);
    expect(clint.read(0xbff8, 8)).toBe(25_000n);
    clint.write(0xbff8, 8, 0x1234_5678_9000n);
    advance(1);
    expect(clint.read(0xbff8, 8)).toBe(0x1234_5678_9000n + 10_000n);
    expect(clint.read(0xbffc, 4)).toBe(0x1234);
    clint.write(0xbff8, 4, 0x10); // low half: the high half stays
    expect(clint.read(0xbff8, 8)).toBe(0x1234_0000_0010n);
    clint.write(0xbffc, 4, 0); // high half
    expect(clock.now()).toBe(0x10);
    clint.write(0xbff8, 8, 0xffff_ffff_ffff_ffffn); // saturates instead of losing precision
    expect(clock.now()).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('saves and restores msip, re-driving the interrupt line', () => {
    const { clint, harts } = setup(2);
    clint.write(4, 4, 1);
    const saved = clint.save();
    expect(saved).toEqual({ version: 1, msip: [0, 1] });
    const other = setup(2);
    other.clint.restore(saved);
    expect(other.harts[1]!.mip).toBe(Irq.MSIP);
    expect(() => other.clint.restore({ version: 1, msip: [0, 2] })).toThrow(TypervisorError);
    expect(() => other.clint.restore({ version: 1, msip: [0] })).toThrow(TypervisorError);
    expect(harts[0]!.mip).toBe(0);
  });
});

describe('MtimeClock', () => {
  it('is monotonic, converts deadlines to host ms, and restores', () => {
    let ms = 5;
    const clock = new MtimeClock(() => ms);
    ms += 1;
    expect(clock.now()).toBe(10_000);
    expect(clock.msUntil(30_000)).toBe(2);
    expect(clock.msUntil(0)).toBe(0);
    const saved = clock.save();
    ms += 100;
    clock.restore(saved);
    expect(clock.now()).toBe(10_000);
    expect(() => clock.restore({ version: 1, mtime: -1 })).toThrow(TypervisorError);
    expect(() => clock.restore({ version: 1, mtime: 1.5 })).toThrow(TypervisorError);
  });
});
