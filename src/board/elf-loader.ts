import { TypervisorError } from '../core/errors.js';
import type { RamGuestMemory } from '../core/guest-memory.js';
import { hex } from '../core/hex.js';

// ELF-64 object file format (System V gABI §4, "ELF Header" and "Program Header"), the parts a
// loader of statically linked RISC-V programs needs.
const EHDR_SIZE = 64;
const PHDR_SIZE = 56;
const ELFCLASS64 = 2;
const ELFDATA2LSB = 1;
const EV_CURRENT = 1;
const ET_EXEC = 2;
const ET_DYN = 3;
const EM_RISCV = 243;
const PT_LOAD = 1;
const PN_XNUM = 0xffff;

/** One PT_LOAD segment as it was placed in RAM. */
export interface LoadedSegment {
  /** Index of the segment's program header (as `readelf -l` numbers them, from 0). */
  readonly index: number;
  readonly paddr: number;
  /** Bytes copied from the file. */
  readonly fileSize: number;
  /** Bytes occupied in RAM (the rest after fileSize is zero-filled). */
  readonly memSize: number;
}

export interface LoadedElf {
  /** e_entry: where the program starts (bare-metal programs run with virtual = physical). */
  readonly entry: number;
  readonly segments: readonly LoadedSegment[];
}

/**
 * Loads an ELF64 little-endian RISC-V executable into RAM: every PT_LOAD segment goes to its
 * p_paddr (as QEMU's loader does), with p_memsz − p_filesz bytes of zeros after the file bytes.
 *
 * The image is untrusted: it is validated completely before the first byte is written, so a bad
 * image leaves RAM untouched, and every defect is a TypervisorError naming `name` and what is
 * wrong.
 */
export function loadElf(name: string, image: Uint8Array, ram: RamGuestMemory): LoadedElf {
  const plan = planElf(name, image, ram);
  for (const s of plan.segments) {
    ram.write(s.paddr, image.subarray(s.offset, s.offset + s.fileSize));
    ram.fill(s.paddr + s.fileSize, s.memSize - s.fileSize, 0);
  }
  return {
    entry: plan.entry,
    segments: plan.segments.map(({ index, paddr, fileSize, memSize }) => ({ index, paddr, fileSize, memSize })),
  };
}

interface PlannedSegment extends LoadedSegment {
  readonly offset: number;
}

function planElf(name: string, image: Uint8Array, ram: RamGuestMemory): { entry: number; segments: PlannedSegment[] } {
  const fail = (message: string, hint?: string) =>
    new TypervisorError(`${name}: ${message}`, hint === undefined ? {} : { hint });
  const fileSize = BigInt(image.length);
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const u16 = (at: number) => view.getUint16(at, true);
  const u32 = (at: number) => view.getUint32(at, true);
  const u64 = (at: number) => view.getBigUint64(at, true);

  if (image.length < 4 || image[0] !== 0x7f || image[1] !== 0x45 || image[2] !== 0x4c || image[3] !== 0x46) {
    throw fail('not an ELF file (bad magic number)', 'pass a statically linked RISC-V ELF executable to --kernel');
  }
  if (image.length < EHDR_SIZE) throw fail(`truncated ELF header (${image.length} of ${EHDR_SIZE} bytes)`);
  if (image[4] !== ELFCLASS64) {
    throw fail(`ELF class ${image[4]} is not ELFCLASS64`, 'typervisor runs RV64 programs; build with an rv64 toolchain (-march=rv64…)');
  }
  if (image[5] !== ELFDATA2LSB) throw fail(`ELF data encoding ${image[5]} is not little-endian`);
  if (image[6] !== EV_CURRENT || u32(20) !== EV_CURRENT) throw fail('unknown ELF version');
  const type = u16(16);
  if (type !== ET_EXEC && type !== ET_DYN) {
    throw fail(`ELF type ${type} is not an executable`, 'link the program (an object file or core dump cannot run)');
  }
  const machine = u16(18);
  if (machine !== EM_RISCV) {
    throw fail(`built for ELF machine ${machine}, not RISC-V (${EM_RISCV})`, 'build with a riscv64 toolchain');
  }
  const ehsize = u16(52);
  if (ehsize < EHDR_SIZE) throw fail(`e_ehsize ${ehsize} is smaller than the ELF64 header (${EHDR_SIZE})`);
  const phnum = u16(56);
  if (phnum === 0) throw fail('has no program headers, so nothing to load');
  if (phnum === PN_XNUM) throw fail('uses extended program header numbering (65535 or more segments), which is not supported');
  const phentsize = u16(54);
  if (phentsize < PHDR_SIZE) throw fail(`e_phentsize ${phentsize} is smaller than an ELF64 program header (${PHDR_SIZE})`);
  const phoff = u64(32);
  if (phoff + BigInt(phnum) * BigInt(phentsize) > fileSize) {
    throw fail(`program headers (offset ${hex(phoff)}, ${phnum} × ${phentsize} bytes) extend past the end of the file (${image.length} bytes)`);
  }

  const ramBase = BigInt(ram.base);
  const ramEnd = ramBase + BigInt(ram.size); // exclusive
  const ramText = `RAM ${hex(ram.base)}–${hex(ramEnd - 1n)}`;
  const segments: PlannedSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const ph = Number(phoff) + i * phentsize;
    if (u32(ph) !== PT_LOAD) continue;
    const offset = u64(ph + 8);
    const paddr = u64(ph + 24);
    const filesz = u64(ph + 32);
    const memsz = u64(ph + 40);
    const what = `segment ${i} (paddr ${hex(paddr)}, ${hex(memsz)} bytes)`;
    if (filesz > memsz) throw fail(`${what} has p_filesz ${hex(filesz)} larger than p_memsz`);
    if (offset + filesz > fileSize) {
      throw fail(`${what}: file bytes ${hex(offset)}+${hex(filesz)} extend past the end of the file (${image.length} bytes)`);
    }
    if (memsz === 0n) continue;
    if (paddr < ramBase || paddr + memsz > ramEnd) {
      throw fail(
        `${what} lies outside ${ramText}`,
        paddr >= ramBase
          ? 'give the machine more RAM (--mem)'
          : `link the program for the board's RAM at ${hex(ram.base)}`,
      );
    }
    segments.push({ index: i, offset: Number(offset), paddr: Number(paddr), fileSize: Number(filesz), memSize: Number(memsz) });
  }
  if (segments.length === 0) throw fail('has no loadable (PT_LOAD) segment with a nonzero size');
  const entry = u64(24);
  if (entry < ramBase || entry >= ramEnd) {
    throw fail(`entry point ${hex(entry)} lies outside ${ramText}`, `link the program for the board's RAM at ${hex(ram.base)}`);
  }
  return { entry: Number(entry), segments };
}
