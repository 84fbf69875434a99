import { RunExit } from '../cpu/hart-api.js';
import { Hart, type HartOptions } from '../cpu/hart.js';
import { ConsoleBuffer } from './console-buffer.js';
import { monotonicMs, setHostTimer, yieldToEventLoop } from './event-loop.js';
import type { MachineConfig } from './machine-config.js';
import type { HartFactory, MachineHart } from './machine-hart.js';
import { buildVirtBoard, type VirtBoard } from './virt-board.js';
import type { VirtioBlk } from '../devices/virtio/blk/index.js';
import type { VirtioBalloon } from '../devices/virtio/balloon/index.js';

export type { HartFactory, MachineHart } from './machine-hart.js';

/** Instructions per CPU slice (timers are checked when a slice starts): 1–7 ms of guest time
 *  depending on how much is translated. Measured on bench/programs/cpu-bound.c: 1 M runs it in
 *  0.29 s, 100 k in 0.35 s (translated code returns to the interpreter at every slice end). */
export const DEFAULT_SLICE_INSTRUCTIONS = 1_000_000;
/** Wall time the CPU runs between yields to the event loop. */
const RUN_QUANTUM_MS = 4;
/** A hart waiting with no timer armed is polled this often (and woken at once by input). */
const IDLE_RECHECK_MS = 1000;

/** The host side of a machine: where its console goes and what time it is. */
export interface MachineHost {
  /** Guest console output, at most one call per CPU slice. The array is the host's to keep. */
  console(bytes: Uint8Array): void;
  /** Monotonic milliseconds that drive mtime; default performance.now(). */
  now?(): number;
}

export interface MachineOptions {
  /** Builds the hart; default Hart.create (the wasm engine) with `cpu`. */
  createHart?: HartFactory;
  /** Tuning of the default hart: the JIT on or off, and after how many instructions a block is translated. */
  cpu?: Pick<HartOptions, 'jit' | 'jitThreshold'>;
  sliceInstructions?: number;
}

/** How a machine ended. */
export interface MachineExit {
  /**
   * `finisher`: the guest wrote the test finisher (also what Linux's syscon poweroff does);
   * `poweroff`: an SBI shutdown call; `quit`: the host called {@link Machine.quit}.
   */
  readonly reason: 'finisher' | 'poweroff' | 'quit';
  /** Process exit status to report (the finisher's code, or what quit() was given). */
  readonly code: number;
}

/**
 * A `virt` machine with one hart (src/vmm/virt-board.ts): Linux with the VMM as its SBI firmware,
 * real firmware such as OpenSBI, or a bare-metal program in M-mode.
 *
 * Life cycle: `await Machine.create(config, host)` builds and loads (throwing a TypervisorError
 * for a bad kernel, initrd or firmware), `start()` runs the CPU in slices on the event loop,
 * `exited` resolves when the guest powers off (finisher/syscon or SBI) or the host calls
 * `quit()`, and rejects if the machine itself fails. A guest reboot (finisher 0x7777, SBI system
 * reset) rebuilds the board and reloads the files, as QEMU does.
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
  private board!: VirtBoard;
  /** Every disk device of every board built (a reboot leaves the old ones' requests running). */
  private readonly diskDevices = new Set<VirtioBlk>();
  private readonly output: ConsoleBuffer;
  private readonly now: () => number;
  private readonly createHart: HartFactory;
  private readonly slice: number;
  /** The host terminal's size (resizeConsole), given to each board's virtio-console. */
  private consoleSize: { columns: number; rows: number } | undefined;

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
    this.createHart = options.createHart ?? ((o) => Hart.create({ ...o, ...options.cpu }));
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
    return this.board.boot.kernel.entry;
  }

  /** The board as it is now (rebuilt on reboot): devices, RAM, boot layout. */
  get devices(): VirtBoard {
    return this.board;
  }

  /** Starts the CPU loop (once; later calls do nothing). */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.loop().then(
      // The shared folders' open files are closed before anyone hears of the exit.
      () => void closeShares(this.board).then(() => this.resolveExit(this.exit!)),
      (error: unknown) => this.rejectExit(error),
    );
  }

  /**
   * Console input for the guest (keyboard or pipe): goes to the console the config chose — the
   * UART's receiver (ttyS0, default) or the virtio-console's receive queue (hvc0).
   */
  consoleInput(bytes: Uint8Array): void {
    const { console } = this.board;
    if (this.config.console === 'hvc0' && console) console.receive(bytes);
    else this.board.uart.receive(bytes);
    this.wake?.();
  }

  /**
   * The host terminal's size changed (or is first known): a virtio-console tells the guest
   * (VIRTIO_CONSOLE_F_SIZE, a configuration-change interrupt); the UART has no way to.
   */
  resizeConsole(columns: number, rows: number): void {
    this.consoleSize = { columns, rows };
    this.board.console?.resize(columns, rows);
    this.wake?.();
  }

  /**
   * The memory balloon (virtio-balloon), or undefined when the config has none. It belongs to
   * the current board: after a guest reboot this is a new device with the config's target.
   */
  get balloon(): VirtioBalloon | undefined {
    return this.board.balloon;
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

  /**
   * Resolves when no disk request is left in a backend (call after `exited`, before flushing and
   * closing the backends the config named: the machine never closes them itself).
   */
  async disksIdle(): Promise<void> {
    await Promise.all([...this.diskDevices].map((d) => d.idle()));
  }

  /**
   * Builds one boot's board. The board stops its own hart when a device ends the run (the
   * finisher); SBI shutdown and reboot arrive between slices, where the loop looks at them.
   */
  private async build(): Promise<VirtBoard> {
    const board = await buildVirtBoard(this.config, this.createHart, this.now, {
      console: (bytes) => this.output.push(bytes),
      exit: (code, reason) => this.finish({ reason, code }),
      reset: () => {
        this.resetRequested = true;
      },
      wake: () => this.wake?.(),
    });
    for (const d of board.disks) this.diskDevices.add(d);
    if (this.consoleSize) board.console?.resize(this.consoleSize.columns, this.consoleSize.rows);
    return board;
  }

  private async loop(): Promise<void> {
    while (this.exit === undefined) {
      const { hart, uart } = this.board;
      // Slices back to back for a few milliseconds, then the event loop gets in (console input,
      // timers). Yielding after every slice cost ~40% of the time once hot code is translated.
      const until = this.now() + RUN_QUANTUM_MS;
      let why: RunExit;
      for (;;) {
        why = hart.run(this.slice);
        // An SBI call is a hypercall: served here, and the hart carries on in the same quantum.
        if (why === RunExit.Ecall) {
          this.board.sbi.handle(hart);
          why = RunExit.Budget;
        }
        if (why !== RunExit.Budget || this.exit !== undefined || this.resetRequested || this.now() >= until) break;
      }
      this.output.flush();
      if (this.exit !== undefined) break;
      if (this.resetRequested) {
        this.resetRequested = false;
        // The old board's disk requests finish before the new board's driver can issue any.
        await this.disksIdle();
        this.diskDevices.clear();
        await closeShares(this.board); // the new board's devices start with nothing open
        this.board = await this.build();
        continue;
      }
      uart.tick();
      if (why === RunExit.WaitForInterrupt) await this.idle();
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

/** Closes what a board's virtio-9p devices hold open on the host (errors were the guest's to see). */
async function closeShares(board: VirtBoard): Promise<void> {
  await Promise.all(board.shares.map((s) => s.close().catch(() => undefined)));
}
