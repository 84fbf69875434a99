import type { IrqLine } from '../../core/irq-line.js';
import type { Snapshotable } from '../../core/snapshotable.js';
import { StateReader } from '../../core/state-reader.js';
import type { AccessWidth } from '../../cpu/hart-api.js';
import { low32, type MmioDevice } from '../../board/mmio-device.js';

// Goldfish RTC ("google,goldfish-rtc"; Android's GOLDFISH-VIRTUAL-HARDWARE.TXT, "goldfish
// real-time clock"), as QEMU 7.2 models it (hw/rtc/goldfish_rtc.c) and Linux drives it
// (drivers/rtc/rtc-goldfish.c). Time is a 64-bit count of nanoseconds since the Unix epoch.
const TIME_LOW = 0x00; // read: samples the clock, returns bits 31..0, latches bits 63..32
const TIME_HIGH = 0x04; // read: the latched bits 63..32
const ALARM_LOW = 0x08; // write: sets bits 31..0 of the alarm and arms it
const ALARM_HIGH = 0x0c; // write: sets bits 63..32 (takes effect at the next ALARM_LOW write)
const IRQ_ENABLED = 0x10;
const CLEAR_ALARM = 0x14; // write: disarms the alarm
const ALARM_STATUS = 0x18; // read: 1 while the alarm is armed and has not fired
const CLEAR_INTERRUPT = 0x1c; // write: acknowledges the interrupt
/** QEMU's register block is 0x24 bytes; the rest of the 4 KiB window decodes nothing. */
const REGS_END = 0x24;

const LOW = 0xffff_ffffn;
const NS_PER_MS = 1_000_000n;
/** Longest delay host timers take (setTimeout's 2^31 − 1 ms); longer waits go in steps. */
const MAX_TIMER_MS = 0x7fff_ffff;

const U64_MAX = 0xffff_ffff_ffff_ffffn;
const clampU64 = (v: bigint): bigint => (v < 0n ? 0n : v > U64_MAX ? U64_MAX : v);

/** What the RTC needs from its host. */
export interface GoldfishRtcOptions {
  /** The host's wall clock: nanoseconds since the Unix epoch. */
  nowNs(): bigint;
  /** Interrupt output (PLIC source 11 on the virt board). */
  irq: IrqLine;
  /**
   * Calls `fire` once after `ms` milliseconds of host time; returns a function that cancels the
   * call (vmm's `setHostTimer` has this shape). `ms` is an integer in [0, 2^31 − 1].
   */
  setTimer(ms: number, fire: () => void): () => void;
  id?: string;
}

/** Saved RTC state; 64-bit values are split into 32-bit halves. */
export interface GoldfishRtcState {
  version: 1;
  /** Guest time minus host wall-clock time, in ns, modulo 2^64. */
  offsetHigh: number;
  offsetLow: number;
  /** The alarm time the guest last wrote, in guest ns. */
  alarmHigh: number;
  alarmLow: number;
  /** The alarm is armed and has not fired (re-armed on restore). */
  alarmRunning: boolean;
  /**
   * While running: the host wall-clock time (ns since the epoch) at which the armed alarm fires,
   * fixed when it was armed (the alarm register may have changed since). 0 when not running.
   */
  deadlineHigh: number;
  deadlineLow: number;
  /** The alarm fired and the guest has not cleared the interrupt. */
  irqPending: boolean;
  irqEnabled: boolean;
  /** Bits 63..32 latched by the last TIME_LOW read. */
  timeHigh: number;
}

/**
 * The board's real-time clock. The guest sees the host's wall clock plus an offset: writing
 * TIME_LOW/TIME_HIGH moves the offset, never the host clock. The alarm raises the interrupt when
 * guest time reaches it; the interrupt line is high while the alarm has fired, is not cleared, and
 * IRQ_ENABLED is 1.
 *
 * As in QEMU, an armed alarm waits for the host-time moment computed when it was armed: changing
 * the guest time afterwards does not move it.
 */
export class GoldfishRtc implements MmioDevice, Snapshotable<GoldfishRtcState> {
  readonly size = 0x1000;
  readonly id: string;
  private readonly host: GoldfishRtcOptions;
  /** Guest time − host time, mod 2^64. */
  private offset = 0n;
  private alarm = 0n;
  private alarmRunning = false;
  private irqPending = false;
  private irqEnabled = false;
  private timeHigh = 0;
  /** Host time (ns) at which the armed alarm fires. */
  private deadline = 0n;
  private cancelTimer: (() => void) | undefined;
  /** Bumped whenever the timer is cancelled, so a late callback of an old timer does nothing. */
  private timerGeneration = 0;

  constructor(options: GoldfishRtcOptions) {
    this.host = options;
    this.id = options.id ?? 'rtc';
  }

  /**
   * Machine reset, as QEMU's: alarm disarmed and zeroed, interrupt cleared and disabled. Guest
   * time keeps its offset (and TIME_HIGH its latched value).
   */
  reset(): void {
    this.cancel();
    this.alarm = 0n;
    this.alarmRunning = false;
    this.irqPending = false;
    this.irqEnabled = false;
    this.update();
  }

  /**
   * QEMU 7.2 decodes 4-byte accesses and 8-byte ones, which it splits into two 4-byte accesses,
   * low half first; everything must lie inside the 0x24-byte register block.
   */
  accepts(offset: number, width: AccessWidth): boolean {
    return (width === 4 || width === 8) && offset + width <= REGS_END;
  }

  read(offset: number, width: AccessWidth): number | bigint {
    if (width === 8) {
      const lo = this.read32(offset);
      return (BigInt(this.read32(offset + 4)) << 32n) | BigInt(lo);
    }
    return this.read32(offset);
  }

  write(offset: number, width: AccessWidth, value: number | bigint): void {
    if (width === 8) {
      const v = typeof value === 'bigint' ? BigInt.asUintN(64, value) : BigInt(low32(value));
      this.write32(offset, Number(v & LOW));
      this.write32(offset + 4, Number(v >> 32n));
      return;
    }
    this.write32(offset, low32(value));
  }

  save(): GoldfishRtcState {
    const deadline = this.alarmRunning ? clampU64(this.deadline) : 0n;
    return {
      version: 1,
      offsetHigh: Number(this.offset >> 32n),
      offsetLow: Number(this.offset & LOW),
      alarmHigh: Number(this.alarm >> 32n),
      alarmLow: Number(this.alarm & LOW),
      alarmRunning: this.alarmRunning,
      deadlineHigh: Number(deadline >> 32n),
      deadlineLow: Number(deadline & LOW),
      irqPending: this.irqPending,
      irqEnabled: this.irqEnabled,
      timeHigh: this.timeHigh,
    };
  }

  /** Restores the state; a running alarm is re-armed for its host deadline (fires now if past). */
  restore(state: GoldfishRtcState): void {
    const r = new StateReader(this.id, state, 1);
    const u32 = (key: string) => r.int(key, 0, 0xffff_ffff);
    const offset = (BigInt(u32('offsetHigh')) << 32n) | BigInt(u32('offsetLow'));
    const alarm = (BigInt(u32('alarmHigh')) << 32n) | BigInt(u32('alarmLow'));
    const alarmRunning = r.bool('alarmRunning');
    const deadline = (BigInt(u32('deadlineHigh')) << 32n) | BigInt(u32('deadlineLow'));
    const irqPending = r.bool('irqPending');
    const irqEnabled = r.bool('irqEnabled');
    const timeHigh = u32('timeHigh');
    r.done();
    r.check(alarmRunning || deadline === 0n, "has a deadline while the alarm is not running");
    this.cancel();
    this.offset = offset;
    this.alarm = alarm;
    this.alarmRunning = false;
    this.irqPending = irqPending;
    this.irqEnabled = irqEnabled;
    this.timeHigh = timeHigh;
    if (alarmRunning) {
      this.alarmRunning = true;
      this.deadline = deadline;
      this.schedule(); // fires at once if the deadline passed while the VM was saved
    }
    this.update();
  }

  private read32(offset: number): number {
    switch (offset) {
      case TIME_LOW: {
        const t = this.now();
        this.timeHigh = Number(t >> 32n);
        return Number(t & LOW);
      }
      case TIME_HIGH:
        return this.timeHigh;
      case ALARM_LOW:
        return Number(this.alarm & LOW);
      case ALARM_HIGH:
        return Number(this.alarm >> 32n);
      case IRQ_ENABLED:
        return this.irqEnabled ? 1 : 0;
      case ALARM_STATUS:
        return this.alarmRunning ? 1 : 0;
      default:
        return 0; // CLEAR_* are write-only; the rest decodes nothing
    }
  }

  private write32(offset: number, v: number): void {
    switch (offset) {
      case TIME_LOW:
      case TIME_HIGH: {
        // Replace one half of the current guest time by moving the offset.
        const t = this.now();
        const next = offset === TIME_LOW ? (t & ~LOW) | BigInt(v) : (BigInt(v) << 32n) | (t & LOW);
        this.offset = BigInt.asUintN(64, this.offset + next - t);
        return;
      }
      case ALARM_LOW:
        this.alarm = (this.alarm & ~LOW) | BigInt(v);
        this.arm();
        return;
      case ALARM_HIGH:
        this.alarm = (BigInt(v) << 32n) | (this.alarm & LOW);
        return;
      case IRQ_ENABLED:
        this.irqEnabled = (v & 1) === 1;
        this.update();
        return;
      case CLEAR_ALARM:
        this.cancel();
        this.alarmRunning = false;
        return;
      case CLEAR_INTERRUPT:
        this.irqPending = false;
        this.update();
        return;
      default:
        return; // read-only registers and holes ignore writes
    }
  }

  private now(): bigint {
    return BigInt.asUintN(64, this.offset + this.host.nowNs());
  }

  /** Arms the alarm, or fires it at once when its time has come (compared unsigned, as QEMU). */
  private arm(): void {
    this.cancel();
    const hostNow = this.host.nowNs();
    const guestNow = BigInt.asUintN(64, this.offset + hostNow);
    if (this.alarm <= guestNow) {
      this.expire();
      return;
    }
    this.alarmRunning = true;
    this.deadline = hostNow + (this.alarm - guestNow);
    this.schedule();
  }

  /** Sets a host timer towards `deadline`, in steps when it is further than a timer can wait. */
  private schedule(): void {
    const remaining = this.deadline - this.host.nowNs();
    if (remaining <= 0n) {
      this.expire();
      return;
    }
    const steps = (remaining + NS_PER_MS - 1n) / NS_PER_MS;
    const ms = steps > BigInt(MAX_TIMER_MS) ? MAX_TIMER_MS : Number(steps);
    const generation = ++this.timerGeneration;
    this.cancelTimer = this.host.setTimer(ms, () => {
      if (generation !== this.timerGeneration) return;
      this.cancelTimer = undefined;
      this.schedule();
    });
  }

  private expire(): void {
    this.cancel();
    this.alarmRunning = false;
    this.irqPending = true;
    this.update();
  }

  private cancel(): void {
    this.timerGeneration++;
    const cancel = this.cancelTimer;
    this.cancelTimer = undefined;
    cancel?.();
  }

  private update(): void {
    this.host.irq.set(this.irqPending && this.irqEnabled);
  }
}
