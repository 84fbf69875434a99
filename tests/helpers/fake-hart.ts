import { RunExit, type AccessWidth, type PhysicalBus } from '../../src/cpu/hart-api.js';
import type { MachineHart } from '../../src/vmm/machine.js';

export interface FakeHartOptions {
  ramBytes: number;
  ramBase?: number;
  bus: PhysicalBus;
  clock: () => number;
}

/**
 * A stand-in for the wasm hart: run() calls a script instead of executing instructions. The
 * script drives the bus the way a guest would and returns a RunExit value.
 */
export class FakeHart implements MachineHart {
  readonly ram: Uint8Array;
  readonly ramBase: number;
  readonly hartId = 0;
  pc = 0n;
  stimecmp = 0xffff_ffff_ffff_ffffn;
  /** Software-writable mip bits (setPendingBits). */
  pending = 0;
  /** Where enterSupervisor() put the hart, if it did. */
  supervisorEntry: bigint | undefined;
  tlbFlushes = 0;
  mtimecmp = 0xffff_ffff_ffff_ffffn;
  readonly x: bigint[] = new Array<bigint>(32).fill(0n);
  /** mip bits driven through setInterruptLevel. */
  irqLevels = 0;
  stopRequested = false;
  runs = 0;
  deadline: number | undefined;
  readonly invalidated: [number, number][] = [];

  constructor(
    readonly options: FakeHartOptions,
    private readonly script: (hart: FakeHart) => RunExit,
  ) {
    this.ram = new Uint8Array(options.ramBytes);
    this.ramBase = options.ramBase ?? 0x8000_0000;
  }

  get bus(): PhysicalBus {
    return this.options.bus;
  }

  run(_max: number): RunExit {
    this.runs++;
    this.stopRequested = false;
    const why = this.script(this);
    return this.stopRequested ? RunExit.Stopped : why;
  }
  requestStop(): void {
    this.stopRequested = true;
  }
  setX(i: number, v: bigint): void {
    this.x[i] = v;
  }
  getX(i: number): bigint {
    return this.x[i]!;
  }
  setInterruptLevel(bits: number, level: boolean): void {
    this.irqLevels = level ? this.irqLevels | bits : this.irqLevels & ~bits;
  }
  setPendingBits(bits: number, on: boolean): void {
    this.pending = on ? this.pending | bits : this.pending & ~bits;
  }
  flushTlb(): void {
    this.tlbFlushes++;
  }
  enterSupervisor(entry: bigint): void {
    this.supervisorEntry = entry;
    this.pc = entry;
  }
  nextTimerDeadline(): number | undefined {
    return this.deadline;
  }
  invalidateCode(paddr: number, length: number): void {
    this.invalidated.push([paddr, length]);
  }

  /** Guest-style helpers. */
  store(paddr: number, width: AccessWidth, value: number | bigint): boolean {
    return this.bus.write(paddr, width, value);
  }
  load(paddr: number, width: AccessWidth): number | bigint | undefined {
    return this.bus.read(paddr, width);
  }
  /** Writes a string to the UART's THR, byte by byte. */
  print(text: string): void {
    for (const b of new TextEncoder().encode(text)) this.bus.write(0x1000_0000, 1, b);
  }
}
