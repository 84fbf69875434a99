// The hosted sparse extent header ("SparseExtentHeader", VMware Virtual Disk Format 5.0, §"Hosted
// Sparse Extent Header"): 512 little-endian bytes at the start of the extent file, and for
// stream-optimized extents possibly a second copy in the footer (§"Stream-Optimized Compressed
// Sparse Extents"). All offsets and sizes are in 512-byte sectors.
import { TypervisorError } from '../../core/errors.js';

/** "KDMV" read as a little-endian u32. */
export const SPARSE_MAGIC = 0x564d444b;
/** gdOffset value meaning "the grain directory is at the end: use the footer's header". */
export const GD_AT_END = 0xffffffffffffffffn;
export const SECTOR = 512;

/** flags bits (§ Hosted Sparse Extent Header). */
export const FLAG_NEWLINE_TEST = 1 << 0;
export const FLAG_REDUNDANT_GT = 1 << 1;
export const FLAG_ZERO_GRAIN = 1 << 2;
export const FLAG_COMPRESSED = 1 << 16;
export const FLAG_MARKERS = 1 << 17;

/** Grains up to 1 MiB (VMware and QEMU write 64 KiB); bigger ones are refused, not allocated. */
export const MAX_GRAIN_SECTORS = 2048;
/** A grain table of up to 8192 entries (the spec fixes 512). */
export const MAX_GTES_PER_GT = 8192;
/** An embedded descriptor of up to 1 MiB. */
export const MAX_DESCRIPTOR_SECTORS = 2048;

export interface SparseHeader {
  readonly version: number;
  readonly flags: number;
  /** Extent size in sectors. */
  readonly capacity: number;
  readonly grainSize: number;
  readonly descriptorOffset: number;
  readonly descriptorSize: number;
  readonly numGTEsPerGT: number;
  readonly rgdOffset: number;
  /** The grain directory's sector, or GD_AT_END (as a bigint) in a stream-optimized header whose footer has it. */
  readonly gdOffset: number | typeof GD_AT_END;
  readonly overHead: number;
  readonly compressAlgorithm: number;
}

export function badHeader(name: string, message: string, hint = 'the file is not a valid VMDK sparse extent; qemu-img info may say more'): TypervisorError {
  return new TypervisorError(`${name}: bad VMDK header: ${message}`, { hint });
}

/**
 * Parses a sparse extent header (`at` names where it was found: "header" or "footer header").
 * Checks the fields on their own; their placement in the file is checked by the extent.
 */
export function parseSparseHeader(name: string, b: Uint8Array, at = 'header'): SparseHeader {
  if (b.length < SECTOR) throw badHeader(name, `the ${at} is cut short (${b.length} of ${SECTOR} bytes)`);
  const v = new DataView(b.buffer, b.byteOffset, SECTOR);
  const u32 = (o: number) => v.getUint32(o, true);
  const u64 = (o: number, field: string, max = Number.MAX_SAFE_INTEGER): number => {
    const x = v.getBigUint64(o, true);
    if (x > BigInt(max)) throw badHeader(name, `${at} ${field} is ${x}, beyond the supported ${max}`);
    return Number(x);
  };
  const magic = u32(0);
  if (magic !== SPARSE_MAGIC) throw badHeader(name, `${at} magic is 0x${magic.toString(16)}, not "KDMV" (0x${SPARSE_MAGIC.toString(16)})`);
  const version = u32(4);
  if (version < 1 || version > 3) throw badHeader(name, `${at} version is ${version}; supported versions are 1..3`);
  const flags = u32(8);
  // A file sent through a text-mode transfer has its line ends rewritten: the spec puts these
  // four characters in the header so that such damage is detected.
  if ((flags & FLAG_NEWLINE_TEST) !== 0 && (b[73] !== 0x0a || b[74] !== 0x20 || b[75] !== 0x0d || b[76] !== 0x0a)) {
    throw badHeader(name, `${at} end-of-line test bytes (offset 73) are ${[...b.subarray(73, 77)].map((x) => `0x${x.toString(16)}`).join(' ')}, not 0xa 0x20 0xd 0xa: the file was damaged by a text-mode transfer`, 'copy the file again in binary mode');
  }
  // capacity in sectors, so that capacity * 512 stays a safe integer.
  const capacity = u64(12, 'capacity', Math.floor(Number.MAX_SAFE_INTEGER / SECTOR));
  const grainSize = u64(20, 'grainSize', 2 ** 32);
  if (grainSize < 1 || grainSize > MAX_GRAIN_SECTORS || (grainSize & (grainSize - 1)) !== 0) {
    throw badHeader(name, `${at} grainSize is ${grainSize} sectors; it must be a power of two from 1 to ${MAX_GRAIN_SECTORS}`);
  }
  const descriptorOffset = u64(28, 'descriptorOffset');
  const descriptorSize = u64(36, 'descriptorSize');
  if (descriptorSize > MAX_DESCRIPTOR_SECTORS) throw badHeader(name, `${at} descriptorSize is ${descriptorSize} sectors; at most ${MAX_DESCRIPTOR_SECTORS} are supported`);
  if (descriptorSize > 0 && descriptorOffset === 0) throw badHeader(name, `${at} descriptorOffset is 0 (inside the header) with descriptorSize ${descriptorSize}`);
  const numGTEsPerGT = u32(44);
  if (numGTEsPerGT < 1 || numGTEsPerGT > MAX_GTES_PER_GT) throw badHeader(name, `${at} numGTEsPerGT is ${numGTEsPerGT}; expected 1..${MAX_GTES_PER_GT} (normally 512)`);
  const rgdOffset = u64(48, 'rgdOffset');
  const gdRaw = v.getBigUint64(56, true);
  const gdOffset = gdRaw === GD_AT_END ? GD_AT_END : u64(56, 'gdOffset');
  const overHead = u64(64, 'overHead');
  const compressAlgorithm = v.getUint16(77, true);
  if (compressAlgorithm > 1) throw badHeader(name, `${at} compressAlgorithm is ${compressAlgorithm}; only 0 (none) and 1 (deflate) exist`);
  const markers = (flags & FLAG_MARKERS) !== 0;
  if (compressAlgorithm === 1 && !markers) {
    throw badHeader(name, `${at} says grains are compressed (compressAlgorithm 1) but not framed by markers (flags 0x${flags.toString(16)}, bit 17 clear); such extents are not supported`);
  }
  if (markers && compressAlgorithm === 0) {
    throw badHeader(name, `${at} says grains are framed by markers (flags 0x${flags.toString(16)}, bit 17) but not compressed (compressAlgorithm 0); such extents are not supported`);
  }
  if (gdOffset === GD_AT_END && !markers) throw badHeader(name, `${at} gdOffset is GD_AT_END (0xffffffffffffffff) in an extent that is not stream-optimized`);
  return { version, flags, capacity, grainSize, descriptorOffset, descriptorSize, numGTEsPerGT, rgdOffset, gdOffset, overHead, compressAlgorithm };
}
