/**
 * The TypeScript face of one RISC-V hart: creates the WebAssembly.Memory that holds hart state
 * and guest RAM, instantiates the AssemblyScript core, routes its MMIO to a {@link PhysicalBus},
 * and exposes registers, interrupt lines and state as plain data.
 */
import * as L from './layout.js';
import { type PhysicalBus, type AccessWidth, RunExit, Irq } from './hart-api.js';
import { loadCoreModule } from './core-module.js';
import type { HartState } from './hart-state.js';
import { captureHartState, applyHartState } from './hart-state.js';
import { BlockCompiler, type JitBatching, type JitCoreExports } from './jit/block-compiler.js';

export interface HartOptions {
  /** Bytes of guest RAM (multiple of 4 KiB). */
  ramBytes: number;
  /** Guest physical address of RAM; 0x8000_0000 on `virt`. */
  ramBase?: number;
  bus: PhysicalBus;
  hartId?: number;
  /** Current mtime in 10 MHz ticks (the CLINT's clock). */
  clock: () => number;
  /** Translate hot blocks to wasm (default true); off, every instruction is interpreted. */
  jit?: boolean;
  /** How translations are batched into modules (default DEFAULT_JIT_BATCHING). */
  jitBatching?: JitBatching;
  /** Instructions run from a block entry before it is translated (default layout's HOT_THRESHOLD). */
  jitThreshold?: number;
}

interface CoreExports extends JitCoreExports {
  run(budget: number): number;
  reset(ramPaddr: bigint, ramSize: bigint, hartId: bigint): void;
  resync(): void;
  invalidateCode(offset: bigint, len: bigint): void;
  invalidateAllCode(): void;
}

const WASM_PAGE = 65536;
/** The most RAM one hart's wasm32 memory can hold (4 GiB minus the core's own 16 MiB). */
export const MAX_RAM_BYTES = 0x1_0000_0000 - L.RAM_OFFSET - WASM_PAGE;

export class Hart {
  readonly memory: WebAssembly.Memory;
  readonly ram: Uint8Array;
  readonly ramBase: number;
  readonly ramBytes: number;
  readonly hartId: number;
  private readonly core: CoreExports;
  private readonly view: DataView;
  /** Translator of hot blocks; undefined when the JIT is off. */
  readonly jit: BlockCompiler | undefined;

  private constructor(o: HartOptions, memory: WebAssembly.Memory, core: CoreExports, table: WebAssembly.Table) {
    this.memory = memory;
    this.core = core;
    this.ramBase = o.ramBase ?? 0x8000_0000;
    this.ramBytes = o.ramBytes;
    this.hartId = o.hartId ?? 0;
    this.ram = new Uint8Array(memory.buffer, L.RAM_OFFSET, o.ramBytes);
    this.view = new DataView(memory.buffer);
    core.reset(BigInt(this.ramBase), BigInt(o.ramBytes), BigInt(this.hartId));
    this.jit = o.jit === false ? undefined : new BlockCompiler(memory, table, core, o.jitBatching);
    if (this.jit) this.view.setInt32(L.S_FLAGS, this.view.getInt32(L.S_FLAGS, true) | L.FLAG_JIT, true);
    const threshold = o.jitThreshold ?? L.HOT_THRESHOLD;
    if (!Number.isInteger(threshold) || threshold < 1 || threshold > 0xffff_ffff) {
      throw new RangeError(`JIT threshold ${threshold} must be a whole number from 1 to 2^32 - 1`);
    }
    this.view.setUint32(L.S_HOT_THRESHOLD, threshold, true);
  }

  static async create(o: HartOptions): Promise<Hart> {
    if (!Number.isInteger(o.ramBytes) || o.ramBytes < 4096 || o.ramBytes % 4096 !== 0) {
      throw new RangeError(`RAM size ${o.ramBytes} must be a positive multiple of 4 KiB`);
    }
    if (o.ramBytes > MAX_RAM_BYTES) {
      throw new RangeError(`RAM size ${o.ramBytes} exceeds ${MAX_RAM_BYTES} bytes, the most a wasm32 memory can hold`);
    }
    const pages = Math.ceil((L.RAM_OFFSET + o.ramBytes) / WASM_PAGE);
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
    // Translated blocks are called through this table (slot 0 stays empty).
    const table = new WebAssembly.Table({ element: 'anyfunc', initial: 1024 });
    let hart: Hart | undefined;
    const bus = o.bus;
    const imports = {
      env: {
        memory,
        table,
        clock: o.clock,
        mmio_read: (pa: number, width: number): number => {
          const v = bus.read(pa >>> 0, width as AccessWidth);
          const h = hart!;
          if (v === undefined) {
            h.view.setInt32(L.S_MMIO_FAULT, 1, true);
            return 0;
          }
          if (typeof v === 'bigint') {
            h.view.setUint32(L.S_MMIO_HI, Number((v >> 32n) & 0xffff_ffffn), true);
            return Number(v & 0xffff_ffffn) | 0;
          }
          return v | 0;
        },
        mmio_write: (pa: number, width: number, lo: number, hi: number): void => {
          const value: number | bigint = width === 8 ? (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0) : lo >>> 0;
          const masked = width === 8 || width === 4 ? value : (lo >>> 0) & (width === 1 ? 0xff : 0xffff);
          if (!bus.write(pa >>> 0, width as AccessWidth, masked)) hart!.view.setInt32(L.S_MMIO_FAULT, 1, true);
        },
      },
    };
    const instance = await WebAssembly.instantiate(await loadCoreModule(), imports);
    hart = new Hart(o, memory, instance.exports as unknown as CoreExports, table);
    return hart;
  }

  /** Runs up to `maxInstructions` instructions. */
  run(maxInstructions: number): RunExit {
    this.view.setInt32(L.S_STOP, 0, true);
    let left = maxInstructions;
    const jit = this.jit;
    for (;;) {
      // While translations wait for their batch, run in shorter stretches so that they are
      // installed soon even when the batch does not fill up.
      const stretch = jit?.hasPending() ? Math.min(left, jit.batching.instructions) : left;
      const exit = this.core.run(stretch);
      if (exit === L.EXIT_JIT) {
        // A block became hot: translate it, then carry on with what is left of the budget.
        jit!.compilePending();
        left -= this.view.getInt32(L.S_RAN, true);
      } else if (exit === L.EXIT_BUDGET && stretch < left) {
        left -= stretch;
        jit!.flush();
        continue;
      } else {
        jit?.flush();
        return exit as RunExit;
      }
      if (left <= 0) {
        jit!.flush();
        return RunExit.Budget;
      }
    }
  }

  /** From inside an MMIO callback: run() returns {@link RunExit.Stopped} after this instruction. */
  requestStop(): void {
    this.view.setInt32(L.S_STOP, 1, true);
  }

  get pc(): bigint { return this.view.getBigUint64(L.S_PC, true); }
  set pc(v: bigint) { this.view.setBigUint64(L.S_PC, BigInt.asUintN(64, v), true); }

  /** Privilege level: 0 = U, 1 = S, 3 = M. */
  get privilege(): number { return this.view.getInt32(L.S_PRIV, true); }

  getX(i: number): bigint { return i === 0 ? 0n : this.view.getBigUint64(L.X_REGS + i * 8, true); }
  setX(i: number, v: bigint): void {
    if (i !== 0) this.view.setBigUint64(L.X_REGS + i * 8, BigInt.asUintN(64, v), true);
  }
  getF(i: number): bigint { return this.view.getBigUint64(L.F_REGS + i * 8, true); }

  /** Drives device interrupt lines into mip (MSIP from the CLINT, MEIP/SEIP from the PLIC). */
  setInterruptLevel(bits: number, level: boolean): void {
    const cur = this.view.getBigUint64(L.S_MIP_HW, true);
    const b = BigInt(bits);
    this.view.setBigUint64(L.S_MIP_HW, level ? cur | b : cur & ~b, true);
  }

  get mtimecmp(): bigint { return this.view.getBigUint64(L.S_MTIMECMP, true); }
  /** MTIP follows mtime >= mtimecmp (privileged spec §3.2.1); the core re-evaluates it after
   *  the MMIO access that wrote it and whenever run() starts. */
  set mtimecmp(v: bigint) {
    this.view.setBigUint64(L.S_MTIMECMP, BigInt.asUintN(64, v), true);
  }

  /** Earliest mtime at which a timer interrupt (mtimecmp or Sstc's stimecmp) can fire. */
  nextTimerDeadline(): number | undefined {
    let t = this.view.getBigUint64(L.S_MTIMECMP, true);
    const stce = (this.view.getBigUint64(L.S_MENVCFG, true) >> 63n) & 1n;
    if (stce) {
      const s = this.view.getBigUint64(L.S_STIMECMP, true);
      if (s < t) t = s;
    }
    return t === 0xffff_ffff_ffff_ffffn ? undefined : Number(t);
  }

  /**
   * Plays the part of M-mode firmware handing the hart to a supervisor (what OpenSBI does before
   * jumping to Linux): every exception but ecall-from-S and the S-level interrupts are delegated
   * to S (privileged spec §3.1.8), counters and Sstc/Zicbo* are opened to S (mcounteren, scounteren as OpenSBI sets it,
   * menvcfg §3.1.11–12), PMP entry 0 grants all memory (with entries implemented, an
   * unmatched S access would fault, §3.7.1), S-mode ecalls exit to the host as SBI calls, and
   * the hart continues in S-mode at `entry` with satp = 0.
   */
  enterSupervisor(entry: bigint): void {
    const v = this.view;
    v.setBigUint64(L.S_MEDELEG, 0xb3ffn & ~(1n << 9n), true);
    v.setBigUint64(L.S_MIDELEG, BigInt(Irq.SSIP | Irq.STIP | Irq.SEIP), true);
    v.setBigUint64(L.S_MCOUNTEREN, 0xffff_ffffn, true);
    // OpenSBI's hart init opens cycle, time and instret to U-mode too (scounteren = CY|TM|IR);
    // Linux narrows it only when the SBI PMU extension is there. Without it user rdtime — the
    // vDSO's clock_gettime — would trap as an illegal instruction.
    v.setBigUint64(L.S_SCOUNTEREN, 7n, true);
    v.setBigUint64(L.S_MENVCFG, (1n << 63n) | 0xf0n, true); // STCE | CBZE | CBCFE | CBIE
    v.setBigUint64(L.S_PMPADDR, 0x3f_ffff_ffff_ffffn, true); // NAPOT covering all of 2^56
    v.setUint8(L.S_PMPCFG, 0x1f); // A = NAPOT, R W X
    v.setBigUint64(L.S_STIMECMP, 0xffff_ffff_ffff_ffffn, true);
    v.setInt32(L.S_PRIV, 1, true);
    v.setBigUint64(L.S_SATP, 0n, true);
    this.setSbiInHost(true);
    this.pc = entry;
    this.core.resync();
  }

  /** Supervisor timer compare (Sstc); STIP follows time >= stimecmp. Seen from the next run(). */
  get stimecmp(): bigint { return this.view.getBigUint64(L.S_STIMECMP, true); }
  set stimecmp(value: bigint) { this.view.setBigUint64(L.S_STIMECMP, BigInt.asUintN(64, value), true); }

  /** Sets or clears software-writable bits of mip, as M-mode code would (e.g. SSIP for an SBI IPI). */
  setPendingBits(bits: number, on: boolean): void {
    const cur = this.view.getBigUint64(L.S_MIP, true);
    const b = BigInt(bits);
    this.view.setBigUint64(L.S_MIP, on ? cur | b : cur & ~b, true);
  }

  /** Forgets every cached address translation (an SBI remote sfence.vma reaching this hart). */
  flushTlb(): void {
    this.core.resync();
  }

  /** Enables serving S-mode ecalls in the host (SBI); run() then returns {@link RunExit.Ecall}. */
  setSbiInHost(on: boolean): void {
    const f = this.view.getInt32(L.S_FLAGS, true);
    this.view.setInt32(L.S_FLAGS, on ? f | L.FLAG_SBI_IN_HOST : f & ~L.FLAG_SBI_IN_HOST, true);
  }

  /** The host wrote guest RAM at physical [paddr, paddr + length): drop stale decoded code. */
  invalidateCode(paddr: number, length: number): void {
    this.core.invalidateCode(BigInt(paddr - this.ramBase), BigInt(length));
  }

  /** Every register and CSR as plain data (RAM excluded). */
  save(): HartState { return captureHartState(this.view); }
  restore(s: HartState): void {
    applyHartState(this.view, s);
    this.core.invalidateAllCode();
    this.jit?.reset();
    this.core.resync();
  }
}

export { RunExit, Irq };
