import { TypervisorError } from '../core/errors.js';
import { MAX_RAM_BYTES, MIN_RAM_BYTES } from '../board/memory-map.js';

/** A file given to the machine (kernel, initrd, firmware) and where it came from (for messages).
 *  vmm never reads files itself. */
export interface KernelImage {
  /** Shown in messages, e.g. the path given on the command line. */
  readonly name: string;
  readonly bytes: Uint8Array;
}

/**
 * Firmware choice:
 * - `builtin`: the VMM is the machine mode. The kernel starts in S-mode (a0 = hart id, a1 = the
 *   device tree) and its SBI calls are served by the host (src/board/sbi).
 * - `none`: no firmware; the kernel starts in M-mode at its entry (bare-metal programs), as with
 *   QEMU's `-bios none`.
 * - a file: firmware such as OpenSBI's fw_dynamic.bin / fw_jump.bin (raw, loaded at the start of
 *   RAM, or ELF), started in M-mode with a0 = hart id, a1 = device tree, a2 = fw_dynamic info.
 */
export type BiosKind = 'builtin' | 'none';
export type Firmware = BiosKind | KernelImage;

/** What to build: a `virt` board with one hart. */
export interface MachineConfig {
  /** Guest RAM in bytes: a multiple of 4 KiB in [16 MiB, 3.5 GiB]. */
  readonly memBytes: number;
  readonly bios: Firmware;
  /** ELF, RISC-V Linux Image (optionally gzip or EFI-zboot compressed). */
  readonly kernel: KernelImage;
  /** Initial ramdisk (cpio archives, possibly several concatenated) for Linux. */
  readonly initrd?: KernelImage;
  /** Kernel command line, passed in the device tree's /chosen/bootargs. */
  readonly append?: string;
}

/** QEMU's default for `-machine virt`. */
export const DEFAULT_MEM_BYTES = 128 * 1024 * 1024;

const PAGE = 4096;
const UNITS: Record<string, number> = { K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/**
 * Parses a memory size the way QEMU's `-m` does: a number with an optional binary suffix
 * K, M, G or T (case-insensitive, an optional trailing `iB`/`B` allowed), where a bare number
 * means MiB; fractions are allowed (`1.5G`). Returns bytes; the range is checked by
 * {@link validateMachineConfig}.
 */
export function parseMemorySize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:([kmgt])(?:i?b)?|(b))?\s*$/i.exec(text);
  if (!m) {
    throw new TypervisorError(`cannot read memory size '${text}'`, {
      hint: 'write a number with a unit, e.g. 128M, 512M or 2G (a bare number means MiB, as in QEMU)',
    });
  }
  const unit = m[2] ? UNITS[m[2].toUpperCase()]! : m[3] ? 1 : 2 ** 20;
  return Math.round(Number(m[1]) * unit);
}

/** Formats a byte count for messages: `128 MiB`, `3.5 GiB`, `4096 bytes`. */
export function formatBytes(bytes: number): string {
  for (const [unit, size] of [['GiB', 2 ** 30], ['MiB', 2 ** 20], ['KiB', 2 ** 10]] as const) {
    if (bytes >= size) return `${Number((bytes / size).toFixed(2))} ${unit}`;
  }
  return `${bytes} bytes`;
}

/**
 * Checks a config as it came from a user, a file or another process; returns it typed, or throws
 * a TypervisorError saying what to change.
 */
export function validateMachineConfig(config: {
  memBytes: number;
  bios?: string | KernelImage;
  kernel: KernelImage;
  initrd?: KernelImage;
  append?: string;
}): MachineConfig {
  const bios = config.bios === undefined ? 'builtin' : typeof config.bios === 'string' ? validateBios(config.bios) : config.bios;
  if (config.append !== undefined && (typeof config.append !== 'string' || config.append.includes('\0'))) {
    throw new TypervisorError('the kernel command line must be a string without NUL characters');
  }
  if (config.append !== undefined && new TextEncoder().encode(config.append).length > MAX_CMDLINE_BYTES) {
    throw new TypervisorError(`the kernel command line is longer than ${MAX_CMDLINE_BYTES} bytes (COMMAND_LINE_SIZE on RISC-V)`, {
      hint: 'shorten --append',
    });
  }
  return {
    memBytes: validateMemBytes(config.memBytes),
    bios,
    kernel: config.kernel,
    ...(config.initrd ? { initrd: config.initrd } : {}),
    ...(config.append !== undefined ? { append: config.append } : {}),
  };
}

/** Linux's COMMAND_LINE_SIZE on riscv (arch/riscv/include/uapi/asm/setup.h). */
export const MAX_CMDLINE_BYTES = 1024;

/** Checks a firmware name given as a word: `builtin` (alias `default`) or `none`. */
export function validateBios(bios: string): BiosKind {
  if (bios === 'default' || bios === 'builtin') return 'builtin';
  if (bios === 'none') return 'none';
  throw new TypervisorError(`unknown firmware '${bios}'`, {
    hint: 'use --bios builtin (the default: the VMM serves SBI), --bios none (bare metal, M-mode) or --bios PATH to a firmware file such as OpenSBI\'s fw_dynamic.bin',
  });
}

/** Checks a RAM size in bytes: a whole number of 4 KiB pages in [16 MiB, 3.5 GiB]. */
export function validateMemBytes(memBytes: number): number {
  if (!(memBytes >= MIN_RAM_BYTES)) {
    throw new TypervisorError(`RAM size ${formatBytes(memBytes)} is below the minimum of ${formatBytes(MIN_RAM_BYTES)}`, {
      hint: 'use --mem 16M or more',
    });
  }
  if (!(memBytes <= MAX_RAM_BYTES)) {
    throw new TypervisorError(
      `RAM size ${formatBytes(memBytes)} is above the maximum of ${formatBytes(MAX_RAM_BYTES)}: ` +
        'guest RAM lives in one WebAssembly memory, and wasm32 caps a memory at 4 GiB',
      { hint: 'use --mem 3584M or less' },
    );
  }
  if (!Number.isInteger(memBytes) || memBytes % PAGE !== 0) {
    throw new TypervisorError(`RAM size ${memBytes} bytes is not a whole number of 4 KiB pages`, {
      hint: 'use a size in MiB, e.g. --mem 128M',
    });
  }
  return memBytes;
}
