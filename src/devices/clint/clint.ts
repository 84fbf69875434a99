import type { Snapshotable } from '../../core/snapshotable.js';
import { StateReader } from '../../core/state-reader.js';
import { Irq, type AccessWidth } from '../../cpu/hart-api.js';
import { low32, type MmioDevice } from '../../board/mmio-device.js';
import type { MtimeClock } from './mtime-clock.js';

// SiFive CLINT layout as QEMU 7.2's virt board builds it (hw/intc/riscv_aclint.c):
//   0x0000 + 4·hart   msip      (ACLINT MSWI region 0x0000–0x3fff: 4-byte accesses only)
//   0x4000 + 8·hart   mtimecmp  (ACLINT MTIMER region 0x4000–0xbfff: 4- and 8-byte accesses)
//   0xbff8            mtime
// Offsets 0xc000–0xffff of the 64 KiB window decode nothing, so accesses there fault, as do
// accesses of other widths; unknown registers inside the two regions read 0 and ignore writes.
const MSWI_END = 0x4000;
const MTIMECMP = 0x4000;
const MTIME = 0xbff8;
const MTIMER_END = 0xc000;
const LOW32 = 0xffff_ffffn;

/** What the CLINT needs of a hart (src/cpu/hart.ts's Hart has it). */
export interface ClintHart {
  setInterruptLevel(bits: number, level: boolean): void;
  /** The hart compares it with mtime itself and raises MTIP. */
  mtimecmp: bigint;
}

export interface ClintState {
  version: 1;
  /** msip bit of each hart, by hart id. */
  msip: number[];
}

/**
 * The core-local interruptor: software interrupts (msip → mip.MSIP) and the machine timer
 * (mtimecmp lives in the hart, mtime in the shared {@link MtimeClock}).
 */
export class Clint implements MmioDevice, Snapshotable<ClintState> {
  readonly size = 0x10000;
  private readonly msip: number[];

  constructor(
    private readonly harts: readonly ClintHart[],
    private readonly clock: MtimeClock,
    readonly id = 'clint',
  ) {
    this.msip = harts.map(() => 0);
  }

  /**
   * Machine reset: msip clear, and mtimecmp 0 as QEMU 7.2 resets it (so MTIP is pending until
   * software programs the timer).
   */
  reset(): void {
    this.harts.forEach((hart, i) => {
      this.setMsip(i, 0);
      hart.mtimecmp = 0n;
    });
  }

  accepts(offset: number, width: AccessWidth): boolean {
    if (offset < MSWI_END) return width === 4;
    return offset < MTIMER_END && (width === 4 || width === 8);
  }

  read(offset: number, width: AccessWidth): number | bigint {
    if (offset < MSWI_END) return this.msip[offset / 4] ?? 0;
    const reg = offset & ~7;
    let value: bigint;
    if (reg === MTIME) value = BigInt(this.clock.now());
    else {
      const hart = this.harts[(reg - MTIMECMP) / 8];
      if (!hart) return 0;
      value = hart.mtimecmp;
    }
    if (width === 8) return value;
    return Number((offset & 4 ? value >> 32n : value) & LOW32);
  }

  write(offset: number, width: AccessWidth, value: number | bigint): void {
    if (offset < MSWI_END) {
      const i = offset / 4;
      if (i < this.harts.length) this.setMsip(i, low32(value) & 1);
      return;
    }
    const reg = offset & ~7;
    const hart = reg === MTIME ? undefined : this.harts[(reg - MTIMECMP) / 8];
    if (reg !== MTIME && !hart) return;
    const old = hart ? hart.mtimecmp : BigInt(this.clock.now());
    let next: bigint;
    if (width === 8) next = BigInt.asUintN(64, BigInt(value));
    else if (offset & 4) next = (BigInt(low32(value)) << 32n) | (old & LOW32);
    else next = (old & ~LOW32) | BigInt(low32(value));
    if (hart) hart.mtimecmp = next;
    else this.clock.set(next);
  }

  save(): ClintState {
    return { version: 1, msip: [...this.msip] };
  }

  restore(state: ClintState): void {
    const r = new StateReader(this.id, state, 1);
    const msip = r.ints('msip', 0, 1, this.harts.length, true);
    r.done();
    msip.forEach((bit, i) => this.setMsip(i, bit));
  }

  private setMsip(i: number, bit: number): void {
    this.msip[i] = bit;
    this.harts[i]!.setInterruptLevel(Irq.MSIP, bit === 1);
  }
}
