import type { Snapshotable } from '../../core/snapshotable.js';
import { StateReader } from '../../core/state-reader.js';
import { TIMEBASE_HZ } from '../../board/memory-map.js';

const TICKS_PER_MS = TIMEBASE_HZ / 1000;

export interface MtimeClockState {
  version: 1;
  /** mtime when the state was saved, in ticks. */
  mtime: number;
}

/**
 * The board's mtime counter: 10 MHz ticks derived from a host millisecond clock, starting at 0
 * when the clock is created. The guest may set it through the CLINT (QEMU 7.2 allows writes to
 * mtime too); it then counts on from the value written.
 *
 * Values are safe integers: mtime saturates at 2^53 − 1 (28 years at 10 MHz), so a guest that
 * writes a larger value sees 2^53 − 1 rather than an imprecise number.
 */
export class MtimeClock implements Snapshotable<MtimeClockState> {
  private offset: number;

  constructor(
    private readonly hostMs: () => number,
    readonly id = 'mtime',
  ) {
    this.offset = -this.hostTicks();
  }

  /** Current mtime in ticks. */
  now(): number {
    return Math.min(this.hostTicks() + this.offset, Number.MAX_SAFE_INTEGER);
  }

  /** Makes mtime read `value` now (clamped to [0, 2^53 − 1]). */
  set(value: number | bigint): void {
    const v = typeof value === 'bigint' ? (value > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(value)) : value;
    this.offset = Math.min(Math.max(Math.floor(v), 0), Number.MAX_SAFE_INTEGER) - this.hostTicks();
  }

  /** Host milliseconds until mtime reaches `ticks` (0 when it already has). */
  msUntil(ticks: number): number {
    return Math.max(0, (ticks - this.now()) / TICKS_PER_MS);
  }

  save(): MtimeClockState {
    return { version: 1, mtime: this.now() };
  }

  restore(state: MtimeClockState): void {
    const r = new StateReader(this.id, state, 1);
    const mtime = r.int('mtime', 0, Number.MAX_SAFE_INTEGER);
    r.done();
    this.set(mtime);
  }

  private hostTicks(): number {
    return Math.floor(this.hostMs() * TICKS_PER_MS);
  }
}
