import type { RunExit } from '../cpu/hart-api.js';
import type { HartOptions } from '../cpu/hart.js';
import type { SbiHart } from '../board/sbi/index.js';
import type { ClintHart } from '../devices/clint/index.js';
import type { PlicHart } from '../devices/plic/index.js';

/** What the machine uses of a hart: src/cpu/hart.ts's Hart, or a test double. */
export interface MachineHart extends ClintHart, PlicHart, SbiHart {
  readonly ram: Uint8Array;
  readonly ramBase: number;
  run(maxInstructions: number): RunExit;
  requestStop(): void;
  nextTimerDeadline(): number | undefined;
  invalidateCode(paddr: number, length: number): void;
  /** Hands the hart to S-mode at `entry` with the VMM as its SBI firmware. */
  enterSupervisor(entry: bigint): void;
}

export type HartFactory = (options: HartOptions) => Promise<MachineHart>;
