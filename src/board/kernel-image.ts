import { gunzipSync } from 'fflate';
import { TypervisorError } from '../core/errors.js';
import type { RamGuestMemory } from '../core/guest-memory.js';
import { hex } from '../core/hex.js';
import { loadElf } from './elf-loader.js';

// Linux Documentation/arch/riscv/boot-image-header.rst: the 64-byte header of a RISC-V `Image`.
const IMAGE_HEADER_SIZE = 64;
const IMAGE_TEXT_OFFSET = 8; // u64: where in RAM (from a 2 MiB-aligned base) the image wants to go
const IMAGE_SIZE = 16; // u64: bytes the kernel occupies once running (file + bss), 0 in old kernels
const IMAGE_FLAGS = 24; // u64: bit 0 = big-endian
const IMAGE_MAGIC = 48; // u64 "RISCV\0\0\0" (deprecated, still written)
const IMAGE_MAGIC2 = 56; // u32 "RSC\x05"
const MAGIC_RISCV = 0x5643534952n;
const MAGIC2_RSC = 0x05435352;
// Linux drivers/firmware/efi/libstub/zboot-header.S: an EFI "zboot" image wraps a compressed
// Image behind an MZ/PE header with "zimg" at offset 4.
const ZBOOT_MAGIC = 0x676d697a; // "zimg"
const ZBOOT_PAYLOAD_OFFSET = 8;
const ZBOOT_PAYLOAD_SIZE = 12;
const ZBOOT_COMPRESSION = 24; // NUL-padded name, e.g. "gzip"
/** Unpacked kernels larger than this are refused rather than filling the host's memory. */
export const MAX_KERNEL_BYTES = 512 * 1024 * 1024;

/** Where a kernel was placed. */
export interface LoadedKernel {
  readonly format: 'elf' | 'linux-image';
  /** First instruction. */
  readonly entry: number;
  /** Guest-physical bytes it occupies (file and, for Images, the bss the header announces). */
  readonly start: number;
  readonly end: number;
}

const isGzip = (b: Uint8Array) => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;
const isElf = (b: Uint8Array) => b.length >= 4 && b[0] === 0x7f && b[1] === 0x45 && b[2] === 0x4c && b[3] === 0x46;
const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);

function gunzip(name: string, bytes: Uint8Array): Uint8Array {
  // RFC 1952 §2.3.1: the last 4 bytes (ISIZE) give the unpacked size mod 2^32. Check it first so
  // a small file that unpacks to gigabytes is refused before it fills the host's memory.
  const isize = bytes.length >= 18 ? view(bytes).getUint32(bytes.length - 4, true) : 0;
  if (isize > MAX_KERNEL_BYTES) {
    // No real kernel is that large: the file is truncated, corrupt or a decompression bomb.
    throw new TypervisorError(`${name}: the gzip-compressed kernel is corrupt (its trailer announces ${isize} bytes unpacked, more than ${MAX_KERNEL_BYTES >> 20} MiB)`, {
      hint: 'check the file (gzip -t) or pass the uncompressed Image',
    });
  }
  let out: Uint8Array;
  try {
    out = gunzipSync(bytes);
  } catch (error) {
    throw new TypervisorError(`${name}: the gzip-compressed kernel is corrupt (${(error as Error).message})`, {
      hint: 'check the file (gzip -t) or pass the uncompressed Image',
    });
  }
  if (out.length > MAX_KERNEL_BYTES) throw new TypervisorError(`${name}: the kernel unpacks to more than ${MAX_KERNEL_BYTES >> 20} MiB`);
  return out;
}

/**
 * Removes the wrappings a kernel file may come in: gzip (`Image.gz`) and the EFI zboot
 * container (`vmlinuz.efi` with a gzip payload). Other files come back unchanged.
 */
export function unwrapKernel(name: string, bytes: Uint8Array): Uint8Array {
  if (isGzip(bytes)) return gunzip(name, bytes);
  if (bytes.length >= 64 && bytes[0] === 0x4d && bytes[1] === 0x5a && view(bytes).getUint32(4, true) === ZBOOT_MAGIC) {
    const dv = view(bytes);
    const offset = dv.getUint32(ZBOOT_PAYLOAD_OFFSET, true);
    const size = dv.getUint32(ZBOOT_PAYLOAD_SIZE, true);
    const kind = new TextDecoder().decode(bytes.subarray(ZBOOT_COMPRESSION, ZBOOT_COMPRESSION + 32)).replace(/\0.*$/s, '');
    if (offset + size > bytes.length) {
      throw new TypervisorError(`${name}: EFI zboot payload (${hex(offset)}+${hex(size)}) extends past the end of the file (${bytes.length} bytes)`);
    }
    if (kind !== 'gzip') {
      throw new TypervisorError(`${name}: EFI zboot image compressed with '${kind}', but only gzip is supported`, {
        hint: 'pass the uncompressed Image (arch/riscv/boot/Image) instead',
      });
    }
    return gunzip(name, bytes.subarray(offset, offset + size));
  }
  return bytes;
}

/** True when `bytes` (unwrapped) start with a RISC-V Linux Image header. */
export function isLinuxImage(bytes: Uint8Array): boolean {
  if (bytes.length < IMAGE_HEADER_SIZE) return false;
  const dv = view(bytes);
  return dv.getUint32(IMAGE_MAGIC2, true) === MAGIC2_RSC || dv.getBigUint64(IMAGE_MAGIC, true) === MAGIC_RISCV;
}

/**
 * Loads a kernel (after {@link unwrapKernel}): an ELF at its physical addresses, or a RISC-V
 * Linux Image at the higher of `RAM base + text_offset` (the header's request) and `lowest`
 * (2 MiB aligned, e.g. above firmware). Validates before writing, so a bad file leaves RAM
 * untouched.
 */
export function loadKernel(name: string, bytes: Uint8Array, ram: RamGuestMemory, lowest: number): LoadedKernel {
  if (isElf(bytes)) {
    const elf = loadElf(name, bytes, ram);
    const start = Math.min(...elf.segments.map((s) => s.paddr));
    const end = Math.max(...elf.segments.map((s) => s.paddr + s.memSize));
    return { format: 'elf', entry: elf.entry, start, end };
  }
  if (!isLinuxImage(bytes)) {
    throw new TypervisorError(`${name}: not a kernel: neither an ELF file nor a RISC-V Linux Image (no "RSC\\x05" magic at offset 56), nor gzip or EFI zboot compressed`, {
      hint: 'pass a RISC-V Linux Image (arch/riscv/boot/Image, Debian\'s /boot/vmlinux-*-riscv64), an Image.gz, or an ELF',
    });
  }
  const dv = view(bytes);
  if (dv.getBigUint64(IMAGE_FLAGS, true) & 1n) throw new TypervisorError(`${name}: a big-endian kernel Image cannot run on this little-endian CPU`);
  const textOffset = dv.getBigUint64(IMAGE_TEXT_OFFSET, true);
  const imageSize = dv.getBigUint64(IMAGE_SIZE, true);
  const footprint = imageSize > BigInt(bytes.length) ? imageSize : BigInt(bytes.length);
  const wanted = BigInt(ram.base) + textOffset;
  const start = wanted > BigInt(lowest) ? wanted : BigInt(lowest);
  const end = start + footprint;
  const ramEnd = BigInt(ram.base + ram.size);
  if (textOffset % 4096n !== 0n || start < BigInt(ram.base) || end > ramEnd) {
    throw new TypervisorError(
      `${name}: the kernel needs ${hex(start)}–${hex(end - 1n)} (text_offset ${hex(textOffset)}, ${footprint} bytes), outside RAM ${hex(ram.base)}–${hex(ramEnd - 1n)}`,
      { hint: 'give the machine more RAM (--mem)' },
    );
  }
  ram.write(Number(start), bytes);
  ram.fill(Number(start) + bytes.length, Number(footprint) - bytes.length, 0);
  return { format: 'linux-image', entry: Number(start), start: Number(start), end: Number(end) };
}
