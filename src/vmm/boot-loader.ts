import { TypervisorError } from '../core/errors.js';
import type { RamGuestMemory } from '../core/guest-memory.js';
import { hex } from '../core/hex.js';
import { loadElf } from '../board/elf-loader.js';
import { loadKernel, unwrapKernel, type LoadedKernel } from '../board/kernel-image.js';
import { buildVirtFdt } from '../board/virt-fdt.js';
import type { MachineConfig } from './machine-config.js';
import { formatBytes, virtioSlots as slotsOf } from './machine-config.js';

const MiB = 1024 * 1024;
const alignUp = (v: number, a: number) => Math.ceil(v / a) * a;
const alignDown = (v: number, a: number) => Math.floor(v / a) * a;

// OpenSBI include/sbi/fw_dynamic.h: the struct a2 points to when fw_dynamic starts.
const FW_DYNAMIC_MAGIC = 0x4942534fn; // "OSBI"
const FW_DYNAMIC_VERSION = 2n; // with boot_hart
const FW_DYNAMIC_NEXT_MODE_S = 1n;

/** What the hart must look like when the machine starts. */
export interface BootState {
  /** Where the hart starts. */
  readonly pc: number;
  /** `M` for firmware and bare-metal programs, `S` when the VMM itself is the firmware. */
  readonly mode: 'M' | 'S';
  /** a0, a1, a2. */
  readonly args: readonly [number, number, number];
  readonly kernel: LoadedKernel;
  readonly fdt: { readonly address: number; readonly size: number };
  readonly initrd?: { readonly start: number; readonly end: number };
}

/**
 * Puts firmware, kernel, initrd and the generated device tree into RAM the way QEMU 7.2's
 * `virt` does (hw/riscv/boot.c), so the same files boot the same way:
 * - firmware (a file) at the start of RAM, the kernel at the next 2 MiB boundary after it (a
 *   Linux Image also no lower than RAM + its text_offset; an ELF at its physical addresses);
 * - the initrd at kernel start + min(RAM / 2, 128 MiB): far enough above the kernel that it is
 *   not overwritten while the kernel unpacks, and low enough to stay reachable;
 * - the device tree 2 MiB-aligned just below the end of RAM (or of the first 3 GiB), with the
 *   fw_dynamic info 4 KiB below it.
 * The device tree lists the virtio-mmio slots `virtioSlots` (default: those the config's
 * devices occupy).
 * Each file is checked before it is written (a failed boot leaves the machine unusable anyway,
 * so later files are checked after earlier ones went in), and errors say which did not fit.
 */
export function loadBoot(config: MachineConfig, ram: RamGuestMemory, virtioSlots: readonly number[] = slotsOf(config)): BootState {
  const ramEnd = ram.base + ram.size;
  let firmwareEnd = ram.base;
  let firmwareEntry: number | undefined;
  if (typeof config.bios === 'object') {
    const fw = config.bios;
    if (fw.bytes.length >= 4 && fw.bytes[0] === 0x7f && fw.bytes[1] === 0x45) {
      const elf = loadElf(fw.name, fw.bytes, ram);
      firmwareEntry = elf.entry;
      firmwareEnd = Math.max(...elf.segments.map((s) => s.paddr + s.memSize));
    } else {
      if (fw.bytes.length === 0 || fw.bytes.length > ram.size / 2) {
        throw new TypervisorError(`firmware ${fw.name} is ${formatBytes(fw.bytes.length)}; it must be non-empty and fit in half of RAM`);
      }
      ram.write(ram.base, fw.bytes);
      firmwareEntry = ram.base;
      firmwareEnd = ram.base + fw.bytes.length;
    }
  }

  const kernelBytes = unwrapKernel(config.kernel.name, config.kernel.bytes);
  const kernel = loadKernel(config.kernel.name, kernelBytes, ram, alignUp(firmwareEnd, 2 * MiB));
  if (firmwareEntry !== undefined && kernel.start < firmwareEnd) {
    // An ELF kernel goes to its own addresses; QEMU refuses the same overlap ("regions overlap").
    throw new TypervisorError(
      `kernel ${config.kernel.name} (${hex(kernel.start)}–${hex(kernel.end - 1)}) overlaps the firmware (${hex(ram.base)}–${hex(firmwareEnd - 1)})`,
      { hint: 'link the kernel above the firmware, or boot it with the built-in SBI (drop --bios)' },
    );
  }

  let initrd: { start: number; end: number } | undefined;
  if (config.initrd) {
    const size = config.initrd.bytes.length;
    const start = alignUp(kernel.start + Math.min(ram.size / 2, 128 * MiB), 4096);
    if (start < kernel.end || start + size > ramEnd) {
      throw new TypervisorError(
        `initrd ${config.initrd.name} (${formatBytes(size)}) does not fit in RAM at ${hex(start)} above the kernel (RAM ends at ${hex(ramEnd)})`,
        { hint: `give the machine more RAM, e.g. --mem ${Math.max(256, 2 ** Math.ceil(Math.log2((size + 160 * MiB) / MiB)))}M` },
      );
    }
    ram.write(start, config.initrd.bytes);
    initrd = { start, end: start + size };
  }

  const fdtBytes = buildVirtFdt({
    memBytes: ram.size,
    ...(config.append !== undefined ? { bootargs: config.append } : {}),
    ...(initrd ? { initrd } : {}),
    virtioSlots,
  });
  const top = Math.min(ramEnd, ram.base < 3072 * MiB ? 3072 * MiB : ramEnd);
  const fdtAddress = alignDown(top - fdtBytes.length, 2 * MiB);
  if (fdtAddress < Math.max(kernel.end, initrd?.end ?? 0) + 4096) {
    throw new TypervisorError(`the kernel${initrd ? ' and initrd leave' : ' leaves'} no room for the device tree below ${hex(top)}`, {
      hint: 'give the machine more RAM (--mem)',
    });
  }
  ram.write(fdtAddress, fdtBytes);
  const fdt = { address: fdtAddress, size: fdtBytes.length };

  if (firmwareEntry !== undefined) {
    const info = fdtAddress - 4096;
    [FW_DYNAMIC_MAGIC, FW_DYNAMIC_VERSION, BigInt(kernel.entry), FW_DYNAMIC_NEXT_MODE_S, 0n, 0n].forEach((v, i) =>
      ram.writeU64(info + 8 * i, v),
    );
    return { pc: firmwareEntry, mode: 'M', args: [0, fdtAddress, info], kernel, fdt, ...(initrd ? { initrd } : {}) };
  }
  return {
    pc: kernel.entry,
    mode: config.bios === 'builtin' ? 'S' : 'M',
    args: [0, fdtAddress, 0],
    kernel,
    fdt,
    ...(initrd ? { initrd } : {}),
  };
}
