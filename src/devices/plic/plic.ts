import { TypervisorError } from '../../core/errors.js';
import type { IrqLine } from '../../core/irq-line.js';
import type { Snapshotable } from '../../core/snapshotable.js';
import { StateReader } from '../../core/state-reader.js';
import { Irq, type AccessWidth } from '../../cpu/hart-api.js';
import { low32, type MmioDevice } from '../../board/mmio-device.js';

// The RISC-V PLIC (RISC-V PLIC spec v1.0.0, cited as §n) as QEMU 7.2's virt board configures
// it (hw/riscv/virt.c, hw/intc/sifive_plic.c): 96 sources (0 reserved), 3 priority bits, an M
// and an S context per hart (context 2·hart is M-mode, 2·hart + 1 is S-mode).
//   0x000000 + 4·src          priority of source src (0: reserved, reads 0)  §4 Priorities
//   0x001000 + 4·w            pending bits of sources 32w … 32w + 31         §5 Pending Bits
//   0x002000 + 0x80·ctx + 4·w enable bits of context ctx                     §6 Enables
//   0x200000 + 0x1000·ctx     priority threshold of context ctx              §7 Thresholds
//   0x200004 + 0x1000·ctx     claim (read) / complete (write)                §8 Claim, §9 Compl.
// Only 4-byte accesses are decoded (QEMU's valid.min/max_access_size); every other register of
// the window reads 0 and ignores writes.

/** Interrupt sources including the reserved source 0 (QEMU's VIRT_IRQCHIP_NUM_SOURCES). */
export const PLIC_SOURCES = 96;
/** Highest priority (and threshold): 3 priority bits (VIRT_IRQCHIP_NUM_PRIO_BITS). */
export const PLIC_MAX_PRIORITY = 7;
/** Most harts the 0x600000-byte window has contexts for (QEMU's VIRT_CPUS_MAX). */
export const PLIC_MAX_HARTS = 512;

const WORDS = PLIC_SOURCES / 32; // bitmap words per source set
const PENDING = 0x1000;
const ENABLE = 0x2000;
const ENABLE_STRIDE = 0x80;
const CONTEXT = 0x200000;
const CONTEXT_STRIDE = 0x1000;
const WINDOW = 0x600000;

/** What the PLIC needs of a hart (src/cpu/hart.ts's Hart has it). */
export interface PlicHart {
  setInterruptLevel(bits: number, level: boolean): void;
}

/**
 * Saved PLIC state. Bitmaps are 32-bit words, bit (n mod 32) of word (n / 32) standing for
 * source n, as the registers lay them out; contexts are numbered as on the bus (2·hart for
 * M-mode, 2·hart + 1 for S-mode).
 */
export interface PlicState {
  version: 1;
  /** Priority of each source, by source number (entry 0 is always 0). */
  priority: number[];
  /** Interrupt requests the gateways have forwarded and no claim has taken yet. */
  pending: number[];
  /** Sources claimed and not yet completed (their gateway forwards nothing until then). */
  claimed: number[];
  /** Current level of each source's input line. */
  level: number[];
  /** Enable bits, 3 words per context: enable[3·ctx + w]. */
  enable: number[];
  /** Priority threshold of each context. */
  threshold: number[];
}

/**
 * The platform-level interrupt controller: devices drive its inputs through
 * {@link irqLine}; it drives each hart's MEIP (M-mode context) and SEIP (S-mode context).
 *
 * Gateways are level-triggered (§1.2 Interrupt Gateways): a rising line becomes one request (its
 * pending bit), which stays until claimed even if the line falls again; after the claim the
 * gateway forwards nothing until the guest completes the source, and then forwards a new request
 * at once if the line is still high.
 */
export class Plic implements MmioDevice, Snapshotable<PlicState> {
  readonly size = WINDOW;
  private readonly contexts: number;
  private readonly priority = new Uint8Array(PLIC_SOURCES);
  private readonly pending = new Uint32Array(WORDS);
  private readonly claimed = new Uint32Array(WORDS);
  private readonly level = new Uint32Array(WORDS);
  private readonly enable: Uint32Array;
  private readonly threshold: Uint8Array;
  /** Last level driven to each context's MEIP/SEIP, so unchanged levels are not re-driven. */
  private readonly eip: Uint8Array;
  private readonly lines = new Map<number, IrqLine>();

  /**
   * @param harts one entry per hart, by hart id: contexts 2·i and 2·i + 1 drive its MEIP and
   *   SEIP.
   * @throws TypervisorError when there are no harts or more than {@link PLIC_MAX_HARTS}.
   */
  constructor(
    private readonly harts: readonly PlicHart[],
    readonly id = 'plic',
  ) {
    if (harts.length < 1 || harts.length > PLIC_MAX_HARTS) {
      throw new TypervisorError(`the PLIC serves 1 to ${PLIC_MAX_HARTS} harts, not ${harts.length}`);
    }
    this.contexts = 2 * harts.length;
    this.enable = new Uint32Array(WORDS * this.contexts);
    this.threshold = new Uint8Array(this.contexts);
    this.eip = new Uint8Array(this.contexts);
  }

  /**
   * The input wire of interrupt source `source` (1 … {@link PLIC_SOURCES} − 1), for a device to
   * drive. The same object is returned for the same source.
   * @throws TypervisorError for source 0 (reserved, PLIC spec §1.4) or one out of range.
   */
  irqLine(source: number): IrqLine {
    if (!Number.isInteger(source) || source < 1 || source >= PLIC_SOURCES) {
      const valid = `1 to ${PLIC_SOURCES - 1}`;
      throw new TypervisorError(`PLIC interrupt source ${source} does not exist (valid: ${valid})`);
    }
    let line = this.lines.get(source);
    if (!line) {
      line = { set: (level: boolean) => this.setLevel(source, level) };
      this.lines.set(source, line);
    }
    return line;
  }

  /**
   * Machine reset, as QEMU's: priorities, enables, thresholds, pending and claimed bits cleared.
   * Input lines keep their levels (they belong to the devices), so a line still high is forwarded
   * again as a new request.
   */
  reset(): void {
    this.priority.fill(0);
    this.enable.fill(0);
    this.threshold.fill(0);
    this.claimed.fill(0);
    this.pending.set(this.level);
    this.update(true);
  }

  accepts(_offset: number, width: AccessWidth): boolean {
    return width === 4;
  }

  read(offset: number, _width: AccessWidth): number {
    if (offset < PENDING) return this.priority[offset >>> 2] ?? 0;
    if (offset < ENABLE) return this.pending[(offset - PENDING) >>> 2] ?? 0;
    if (offset < CONTEXT) {
      const ctx = Math.floor((offset - ENABLE) / ENABLE_STRIDE);
      const w = ((offset - ENABLE) % ENABLE_STRIDE) >>> 2;
      return ctx < this.contexts && w < WORDS ? this.enable[ctx * WORDS + w]! : 0;
    }
    const ctx = Math.floor((offset - CONTEXT) / CONTEXT_STRIDE);
    if (ctx >= this.contexts) return 0;
    const reg = (offset - CONTEXT) % CONTEXT_STRIDE;
    if (reg === 0) return this.threshold[ctx]!;
    if (reg === 4) return this.claim(ctx);
    return 0;
  }

  write(offset: number, _width: AccessWidth, value: number | bigint): void {
    const v = low32(value);
    if (offset < PENDING) {
      const src = offset >>> 2;
      if (src === 0 || src >= PLIC_SOURCES) return;
      // §4: WARL; QEMU keeps the low 3 bits.
      this.priority[src] = v & PLIC_MAX_PRIORITY;
      this.update(false);
      return;
    }
    if (offset < ENABLE) return; // §5: pending bits are read-only
    if (offset < CONTEXT) {
      const ctx = Math.floor((offset - ENABLE) / ENABLE_STRIDE);
      const w = ((offset - ENABLE) % ENABLE_STRIDE) >>> 2;
      if (ctx >= this.contexts || w >= WORDS) return;
      // §6: the enable bit of source 0 is hardwired to 0.
      this.enable[ctx * WORDS + w] = w === 0 ? v & ~1 : v;
      this.update(false);
      return;
    }
    const ctx = Math.floor((offset - CONTEXT) / CONTEXT_STRIDE);
    if (ctx >= this.contexts) return;
    const reg = (offset - CONTEXT) % CONTEXT_STRIDE;
    if (reg === 0) {
      this.threshold[ctx] = v & PLIC_MAX_PRIORITY; // §7: WARL, 3 bits
      this.update(false);
    } else if (reg === 4) {
      this.complete(ctx, v);
    }
  }

  save(): PlicState {
    return {
      version: 1,
      priority: Array.from(this.priority),
      pending: Array.from(this.pending),
      claimed: Array.from(this.claimed),
      level: Array.from(this.level),
      enable: Array.from(this.enable),
      threshold: Array.from(this.threshold),
    };
  }

  restore(state: PlicState): void {
    const r = new StateReader(this.id, state, 1);
    const priority = r.ints('priority', 0, PLIC_MAX_PRIORITY, PLIC_SOURCES, true);
    const pending = r.ints('pending', 0, 0xffff_ffff, WORDS, true);
    const claimed = r.ints('claimed', 0, 0xffff_ffff, WORDS, true);
    const level = r.ints('level', 0, 0xffff_ffff, WORDS, true);
    const enable = r.ints('enable', 0, 0xffff_ffff, WORDS * this.contexts, true);
    const threshold = r.ints('threshold', 0, PLIC_MAX_PRIORITY, this.contexts, true);
    r.done();
    r.check(priority[0] === 0, "field 'priority' gives the reserved source 0 a priority");
    const bitmaps = [['pending', pending], ['claimed', claimed], ['level', level]] as const;
    for (const [name, bits] of bitmaps) {
      r.check((bits[0]! & 1) === 0, `field '${name}' sets the bit of the reserved source 0`);
    }
    const enablesZero = enable.some((e, i) => i % WORDS === 0 && (e & 1) !== 0);
    r.check(!enablesZero, "field 'enable' enables the reserved source 0");
    for (let w = 0; w < WORDS; w++) {
      // A gateway has at most one request in flight, and a high line always has one (§1.2).
      r.check((pending[w]! & claimed[w]!) === 0, "fields 'pending' and 'claimed' share a source");
      const orphan = level[w]! & ~(pending[w]! | claimed[w]!);
      r.check(orphan === 0, "field 'level' has a raised line with no request in flight");
    }
    this.priority.set(priority);
    this.pending.set(pending);
    this.claimed.set(claimed);
    this.level.set(level);
    this.enable.set(enable);
    this.threshold.set(threshold);
    this.update(true);
  }

  private setLevel(source: number, high: boolean): void {
    const w = source >>> 5;
    const bit = 1 << (source & 31);
    const was = (this.level[w]! & bit) !== 0;
    if (was === high) return;
    if (!high) {
      // §1.2: a forwarded request cannot be retracted; the pending bit stays.
      this.level[w]! &= ~bit;
      return;
    }
    this.level[w]! |= bit;
    if ((this.claimed[w]! | this.pending[w]!) & bit) return; // a request is already in flight
    this.pending[w]! |= bit;
    this.update(false);
  }

  /**
   * The highest-priority source pending and enabled for `ctx` with a priority above its
   * threshold (ties: lowest id), or 0. QEMU 7.2 applies the threshold to claims too, so a claim
   * returns exactly what raised the notification.
   */
  private best(ctx: number): number {
    let best = 0;
    let bestPriority = this.threshold[ctx]!;
    const base = ctx * WORDS;
    for (let w = 0; w < WORDS; w++) {
      let bits = this.pending[w]! & this.enable[base + w]!;
      while (bits !== 0) {
        const b = 31 - Math.clz32(bits & -bits);
        bits &= bits - 1;
        const src = (w << 5) | b;
        const p = this.priority[src]!;
        if (p > bestPriority) {
          best = src;
          bestPriority = p;
        }
      }
    }
    return best;
  }

  /** §8: returns the best source and moves it from pending to claimed. */
  private claim(ctx: number): number {
    const src = this.best(ctx);
    if (src !== 0) {
      const bit = 1 << (src & 31);
      this.pending[src >>> 5]! &= ~bit;
      this.claimed[src >>> 5]! |= bit;
      this.update(false);
    }
    return src;
  }

  /**
   * §9: completion of a source enabled for `ctx` frees its gateway, which forwards a new request
   * at once if the line is still high. Completions of sources not enabled for `ctx` (or not
   * claimed, or out of range) are ignored.
   */
  private complete(ctx: number, src: number): void {
    if (src === 0 || src >= PLIC_SOURCES) return;
    const w = src >>> 5;
    const bit = 1 << (src & 31);
    if (!(this.enable[ctx * WORDS + w]! & bit) || !(this.claimed[w]! & bit)) return;
    this.claimed[w]! &= ~bit;
    if (this.level[w]! & bit) {
      this.pending[w]! |= bit;
      this.update(false);
    }
  }

  /** Drives each context's notification (§1.3) where it changed, or everywhere when `force`. */
  private update(force: boolean): void {
    for (let ctx = 0; ctx < this.contexts; ctx++) {
      const eip = this.best(ctx) !== 0 ? 1 : 0;
      if (!force && eip === this.eip[ctx]) continue;
      this.eip[ctx] = eip;
      this.harts[ctx >>> 1]!.setInterruptLevel(ctx & 1 ? Irq.SEIP : Irq.MEIP, eip === 1);
    }
  }
}
