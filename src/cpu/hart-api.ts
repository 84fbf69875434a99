/**
 * The contract between the CPU engine and the board that hosts it.
 *
 * The engine owns one WebAssembly.Memory holding hart state and guest RAM; everything that is
 * not RAM is MMIO and goes to the board through {@link PhysicalBus}. The board never touches
 * hart state except through {@link Hart}.
 */

/** MMIO access width in bytes. */
export type AccessWidth = 1 | 2 | 4 | 8;

/**
 * What the hart sees outside RAM. Addresses are guest-physical and below 2^32 (the `virt`
 * board has no MMIO above that). Values are unsigned; 8-byte values are bigint, narrower are
 * numbers in [0, 2^(8·width)).
 */
export interface PhysicalBus {
  /** Returns the value read, or `undefined` when no device answers (the hart raises an access fault). */
  read(paddr: number, width: AccessWidth): number | bigint | undefined;
  /** Returns false when no device answers (the hart raises an access fault). */
  write(paddr: number, width: AccessWidth, value: number | bigint): boolean;
}

/** Why {@link Hart.run} returned. */
export const enum RunExit {
  /** Executed the requested number of instructions. */
  Budget = 0,
  /** Executed `wfi` with no interrupt pending: call run() again once one may be. */
  WaitForInterrupt = 1,
  /** {@link Hart.requestStop} was called (e.g. by a device during an MMIO access). */
  Stopped = 2,
  /** An S-mode `ecall` for the host's SBI implementation (see {@link Hart.setSbiInHost}); pc is
   *  already past the ecall, a7/a6/a0… hold the call: write the results and run on. */
  Ecall = 3,
}

/** Bits of mip a board may drive. Privileged spec §3.1.9. */
export const enum Irq {
  SSIP = 1 << 1,
  MSIP = 1 << 3,
  STIP = 1 << 5,
  MTIP = 1 << 7,
  SEIP = 1 << 9,
  MEIP = 1 << 11,
}
