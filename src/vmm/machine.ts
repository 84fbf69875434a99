import { RamGuestMemory } from '../core/guest-memory.js';
import { RunExit } from '../cpu/hart-api.js';
import { Hart, type HartOptions } from '../cpu/hart.js';
import { loadElf, type LoadedElf } from '../board/elf-loader.js';
import { VIRT_MAP } from '../board/memory-map.js';
import { MmioBus } from '../board/mmio-bus.js';
import { Clint, MtimeClock, type ClintHart } from '../devices/clint/index.js';
import { TestFinisher } from '../devices/test-finisher/index.js';
import { Uart16550 } from '../devices/uart16550/index.js';
import { ConsoleBuffer } from './console-buffer.js';
import { monotonicMs, setHostTimer, yieldToEventLoop } from './event-loop.js';
import type { MachineConfig } from './machine-config.js';

/** Instructions per CPU slice (timers are checked when a slice starts): 1–7 ms of guest time
 *  depending on how much is translated. Measured on bench/programs/cpu-bound.c: 1 M runs it in
 *  0.29 s, 100 k in 0.35 s (translated code returns to the interpreter at every slice end). */
export const DEFAULT_SLICE_INSTRUCTIONS = 1_000_000;
/** Wall time the CPU runs between yields to the event loop. */
const RUN_QUANTUM_MS = 4;
/** A hart waiting with no timer armed is polled this often (and woken at once by input). */
const IDLE_RECHECK_MS = 1000;

/** What the machine uses of a hart: src/cpu/hart.ts's Hart, or a test double. */
export interface MachineHart extends ClintHart {
  readonly ram: Uint8Array;
  readonly ramBase: number;
  run(maxInstructions: number): RunExit;
  requestStop(): void;
  pc: bigint;
  setX(i: number, value: bigint): void;
  nextTimerDeadline(): number | undefined;
  invalidateCode(paddr: number, length: number): void;
}

export type HartFactory = (options: HartOptions) => Promise<MachineHart>;

/** The host side of a machine: where its console goes and what time it is. */
export interface MachineHost {
  /** Guest console output, at most one call per CPU slice. The array is the host's to keep. */
  console(bytes: Uint8Array): void;
  /** Monotonic milliseconds that drive mtime; default performance.now(). */
  now?(): number;
}

export interface MachineOptions {
  /** Builds the hart; default Hart.create (the wasm engine). */
  createHart?: HartFactory;
  sliceInstructions?: number;
}

/** How a machine ended. */
export interface MachineExit {
  /** `finisher`: the guest wrote the test finisher; `quit`: the host called {@link Machine.quit}. */
  readonly reason: 'finisher' | 'quit';
  /** Process exit status to report (the finisher's code, or what quit() was given). */
  readonly code: number;
}

/** One boot's worth of board: rebuilt from the config on a guest-requested reset. */
interface Board {
  readonly hart: MachineHart;
  readonly bus: MmioBus;
  readonly uart: Uart16550;
  readonly clint: Clint;
  readonly finisher: TestFinisher;
  readonly clock: MtimeClock;
  readonly kernel: LoadedElf;
}

/**
 * A bare-metal `virt` machine: one hart in M-mode, RAM, the NS16550A UART, the CLINT and the
 * test finisher, with the kernel ELF loaded at its physical addresses.
 *
 * Life cycle: `await Machine.create(config, host)` builds and loads (throwing a TypervisorError
 * for a bad kernel), `start()` runs the CPU in slices on the event loop, `exited` resolves when
 * the guest writes the finisher or the host calls `quit()`, and rejects if the machine itself
 * fails. A finisher reset (0x7777) reboots: the board is rebuilt and the kernel reloaded, as
 * QEMU does.
 */
export class Machine {
  readonly exited: Promise<MachineExit>;
  private resolveExit!: (exit: MachineExit) => void;
  private rejectExit!: (error: unknown) => void;
  private exit: MachineExit | undefined;
  private resetRequested = false;
  private started = false;
  private wake: (() => void) | undefined;
  /** A timer deadline that had passed when the hart last went idle (see idle()). */
  private passedDeadline: number | undefined;
  private board!: Board;
  private readonly output: ConsoleBuffer;
  private readonly now: () => number;
  private readonly createHart: HartFactory;
  private readonly slice: number;

  private constructor(
    private readonly config: MachineConfig,
    host: MachineHost,
    options: MachineOptions,
  ) {
    this.exited = new Promise((resolve, reject) => {
      this.resolveExit = resolve;
      this.rejectExit = reject;
    });
    this.output = new ConsoleBuffer((bytes) => host.console(bytes));
    this.now = host.now ? () => host.now!() : monotonicMs;
    this.createHart = options.createHart ?? ((o) => Hart.create(o));
    this.slice = options.sliceInstructions ?? DEFAULT_SLICE_INSTRUCTIONS;
  }

  /** Builds the board and loads the kernel; does not run it yet. */
  static async create(config: MachineConfig, host: MachineHost, options: MachineOptions = {}): Promise<Machine> {
    const machine = new Machine(config, host, options);
    machine.board = await machine.build();
    return machine;
  }

  /** The running hart (for tests and debugging tools). */
  get hart(): MachineHart {
    return this.board.hart;
  }

  /** Where the kernel starts. */
  get entry(): number {
    return this.board.kernel.entry;
  }

  /** Starts the CPU loop (once; later calls do nothing). */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.loop().then(
      () => this.resolveExit(this.exit!),
      (error: unknown) => this.rejectExit(error),
    );
  }

  /** Console input for the guest (keyboard or pipe): goes to the UART's receiver. */
  consoleInput(bytes: Uint8Array): void {
    this.board.uart.receive(bytes);
    this.wake?.();
  }

  /** Ends the machine from the host side (e.g. Ctrl-A x) at the end of the current slice. */
  quit(code = 0): void {
    this.finish({ reason: 'quit', code });
    if (!this.started) this.resolveExit(this.exit!);
    this.wake?.();
  }

  private finish(exit: MachineExit): void {
    this.exit ??= exit;
  }

  private async build(): Promise<Board> {
    const clock = new MtimeClock(this.now);
    const bus = new MmioBus();
    const hart = await this.createHart({
      ramBytes: this.config.memBytes,
      ramBase: VIRT_MAP.dram.base,
      bus,
      hartId: 0,
      clock: () => clock.now(),
    });
    const uart = new Uart16550({ tx: (bytes) => this.output.push(bytes) });
    const clint = new Clint([hart], clock);
    clint.reset();
    const finisher = new TestFinisher({
      onExit: (code) => {
        this.finish({ reason: 'finisher', code });
        hart.requestStop();
      },
      onReset: () => {
        this.resetRequested = true;
        hart.requestStop();
      },
    });
    bus.map('test', VIRT_MAP.test.base, finisher);
    bus.map('clint', VIRT_MAP.clint.base, clint);
    bus.map('uart0', VIRT_MAP.uart0.base, uart);

    const ram = new RamGuestMemory(hart.ram, hart.ramBase, (gpa, length) => hart.invalidateCode(gpa, length));
    const kernel = loadElf(this.config.kernel.name, this.config.kernel.bytes, ram);
    // Boot protocol of QEMU's virt reset vector: a0 = hart id, a1 = device tree address.
    // There is no device tree yet, so a1 = 0. (QEMU -bios none jumps to the start of RAM
    // whatever e_entry says; we honour e_entry.)
    hart.pc = BigInt(kernel.entry);
    hart.setX(10, 0n);
    hart.setX(11, 0n);
    return { hart, bus, uart, clint, finisher, clock, kernel };
  }

  private async loop(): Promise<void> {
    while (this.exit === undefined) {
      const { hart, uart } = this.board;
      // Slices back to back for a few milliseconds, then the event loop gets in (console input,
      // timers). Yielding after every slice cost ~40% of the time once hot code is translated.
      const until = this.now() + RUN_QUANTUM_MS;
      let why: RunExit;
      do why = hart.run(this.slice);
      while (why === RunExit.Budget && this.exit === undefined && !this.resetRequested && this.now() < until);
      this.output.flush();
      if (this.exit !== undefined) break;
      if (this.resetRequested) {
        this.resetRequested = false;
        this.board = await this.build();
        continue;
      }
      uart.tick();
      if (why === RunExit.WaitForInterrupt) await this.idle();
      else if (why === RunExit.Ecall) throw new Error('hart exited for an SBI call, but bare-metal machines have no SBI');
      else await yieldToEventLoop();
    }
  }

  /**
   * Waits until the hart's next timer deadline, console input, or quit(). A deadline that has
   * passed yet did not wake the hart belongs to a masked interrupt (WFI ignores those): after one
   * immediate retry it no longer shortens the wait.
   */
  private idle(): Promise<void> {
    const { hart, clock } = this.board;
    const deadline = hart.nextTimerDeadline();
    let ms = IDLE_RECHECK_MS;
    if (deadline !== undefined) {
      const until = Math.ceil(clock.msUntil(deadline));
      if (until > 0) ms = Math.min(ms, until);
      else if (this.passedDeadline !== deadline) ms = 0;
      this.passedDeadline = until > 0 ? undefined : deadline;
    }
    return new Promise((resolve) => {
      const done = () => {
        cancel();
        this.wake = undefined;
        resolve();
      };
      const cancel = setHostTimer(ms, done);
      this.wake = done;
    });
  }
}
