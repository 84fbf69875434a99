// The VHD footer and dynamic disk header. Spec: Microsoft "Virtual Hard Disk Image Format
// Specification" v1.0 — "Hard Disk Footer Format", "Dynamic Disk Header Format", and
// Appendix "CHS Calculation". All fields are big-endian.
import { TypervisorError } from '../../core/errors.js';

export const SECTOR = 512;
export const FOOTER_BYTES = 512;
export const DYNAMIC_HEADER_BYTES = 1024;
export const FOOTER_COOKIE = 'conectix';
export const DYNAMIC_COOKIE = 'cxsparse';
/** A BAT entry for a block that has no data (reads as zeros). */
export const BAT_UNALLOCATED = 0xffffffff;
/** Seconds from the Unix epoch to the VHD epoch (2000-01-01 00:00:00 UTC). */
export const VHD_EPOCH = 946684800;
/** The largest CHS geometry the footer can hold: 65535 cylinders × 16 heads × 255 sectors. */
export const MAX_CHS_SECTORS = 65535 * 16 * 255;
/** QEMU's (and Virtual PC's) limit: 2040 GiB. */
export const MAX_SECTORS = 0xff000000;

export const DISK_FIXED = 2;
export const DISK_DYNAMIC = 3;
export const DISK_DIFFERENCING = 4;

export interface VhdFooter {
  readonly features: number;
  readonly version: number;
  /** Absolute offset of the dynamic disk header (all ones for fixed disks), as a bigint. */
  readonly dataOffset: bigint;
  readonly timestamp: number;
  /** Four characters, e.g. "qemu", "win ", "vpc ". */
  readonly creatorApp: string;
  readonly creatorVersion: number;
  readonly creatorOs: string;
  readonly originalSize: bigint;
  readonly currentSize: bigint;
  readonly cylinders: number;
  readonly heads: number;
  readonly sectorsPerTrack: number;
  readonly diskType: number;
  readonly checksum: number;
  readonly uuid: Uint8Array;
  /** The 512 bytes as read (rewritten verbatim when the footer moves). */
  readonly bytes: Uint8Array;
}

export interface DynamicHeader {
  readonly tableOffset: bigint;
  readonly version: number;
  readonly maxTableEntries: number;
  readonly blockSize: number;
  /** Differencing disks: the parent's footer UUID, its name (UTF-16BE in the header) and its locators. */
  readonly parentUuid: Uint8Array;
  readonly parentName: string;
  readonly locators: readonly ParentLocator[];
}

/** A "Parent Locator Entry" with a platform code set. */
export interface ParentLocator {
  /** "W2ru" (relative Windows path, UTF-16LE), "W2ku" (absolute, UTF-16LE), "MacX" (file URL, UTF-8), … */
  readonly code: string;
  readonly dataSpace: number;
  readonly dataLength: number;
  readonly dataOffset: bigint;
}

const ascii = (b: Uint8Array, at: number, len: number) => String.fromCharCode(...b.subarray(at, at + len));
const u64 = (v: DataView, at: number) => (BigInt(v.getUint32(at)) << 32n) | BigInt(v.getUint32(at + 4));
const hex = (n: number | bigint) => `0x${n.toString(16)}`;

/** The spec's checksum: the one's complement of the byte sum, with the checksum field taken as zero. */
export function vhdChecksum(bytes: Uint8Array, checksumAt: number): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i++) if (i < checksumAt || i >= checksumAt + 4) sum += bytes[i];
  return ~sum >>> 0;
}

/** True when `bytes` starts with the footer cookie "conectix". */
export function hasFooterCookie(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && ascii(bytes, 0, 8) === FOOTER_COOKIE;
}

/**
 * Parses a 512-byte footer found at file offset `at`, verifying the cookie and the checksum
 * (QEMU refuses a bad checksum too: "Incorrect header checksum").
 */
export function parseFooter(name: string, bytes: Uint8Array, at: number): VhdFooter {
  if (bytes.length < FOOTER_BYTES || !hasFooterCookie(bytes)) {
    throw new TypervisorError(`${name}: no VHD footer ("${FOOTER_COOKIE}") at offset ${at}`, { hint: 'the file is not a VHD (vpc) image, or it is truncated; give the right format' });
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset, FOOTER_BYTES);
  const checksum = v.getUint32(64);
  const computed = vhdChecksum(bytes.subarray(0, FOOTER_BYTES), 64);
  if (checksum !== computed) {
    throw new TypervisorError(`${name}: the VHD footer at offset ${at} has checksum ${hex(checksum)} but its bytes give ${hex(computed)}`, {
      hint: 'the image is damaged (qemu-img reports "Incorrect header checksum"); restore it from a copy',
    });
  }
  return {
    features: v.getUint32(8),
    version: v.getUint32(12),
    dataOffset: u64(v, 16),
    timestamp: v.getUint32(24),
    creatorApp: ascii(bytes, 28, 4),
    creatorVersion: v.getUint32(32),
    creatorOs: ascii(bytes, 36, 4),
    originalSize: u64(v, 40),
    currentSize: u64(v, 48),
    cylinders: v.getUint16(56),
    heads: bytes[58],
    sectorsPerTrack: bytes[59],
    diskType: v.getUint32(60),
    checksum,
    uuid: bytes.slice(68, 84),
    bytes: bytes.slice(0, FOOTER_BYTES),
  };
}

/**
 * The disk's size in sectors as QEMU 7.2 reports it. Virtual PC sizes a disk by its CHS
 * geometry, Hyper-V, Disk2vhd and XenServer by the footer's current size; QEMU picks by the
 * creator application ("win ", "qem2", "d2v ", "CTXS", "tap\0" → current size; anything else,
 * e.g. "vpc " and "qemu" → geometry), and uses the current size whenever the geometry is the
 * maximum 65535×16×255 (a disk too big for CHS).
 */
export function footerSectors(name: string, f: VhdFooter): number {
  const chs = f.cylinders * f.heads * f.sectorsPerTrack;
  const bySize = ['win ', 'qem2', 'd2v ', 'CTXS', 'tap\0'].includes(f.creatorApp) || chs === MAX_CHS_SECTORS;
  const sectors = bySize ? f.currentSize / BigInt(SECTOR) : BigInt(chs);
  if (sectors > BigInt(MAX_SECTORS)) {
    throw new TypervisorError(`${name}: the VHD footer gives a disk of ${sectors} sectors, more than the format's 2040 GiB (${MAX_SECTORS} sectors)`, {
      hint: 'the footer is damaged, or the image is not a VHD',
    });
  }
  return Number(sectors);
}

/** Parses the 1024-byte dynamic disk header found at file offset `at` ("cxsparse"). */
export function parseDynamicHeader(name: string, bytes: Uint8Array, at: bigint): DynamicHeader {
  if (bytes.length < DYNAMIC_HEADER_BYTES || ascii(bytes, 0, 8) !== DYNAMIC_COOKIE) {
    throw new TypervisorError(`${name}: no VHD dynamic disk header ("${DYNAMIC_COOKIE}") at offset ${at} (the footer's data offset)`, {
      hint: 'the image is damaged or truncated',
    });
  }
  // QEMU does not verify this header's checksum; neither do we, so that both read the same images.
  const v = new DataView(bytes.buffer, bytes.byteOffset, DYNAMIC_HEADER_BYTES);
  let parentName = '';
  for (let at = 64; at < 576; at += 2) {
    const c = v.getUint16(at);
    if (c === 0) break;
    parentName += String.fromCharCode(c);
  }
  const locators: ParentLocator[] = [];
  for (let i = 0; i < 8; i++) {
    const at = 576 + i * 24;
    if (v.getUint32(at) === 0) continue;
    locators.push({ code: ascii(bytes, at, 4), dataSpace: v.getUint32(at + 4), dataLength: v.getUint32(at + 8), dataOffset: u64(v, at + 16) });
  }
  return {
    tableOffset: u64(v, 16),
    version: v.getUint32(24),
    maxTableEntries: v.getUint32(28),
    blockSize: v.getUint32(32),
    parentUuid: bytes.slice(40, 56),
    parentName,
    locators,
  };
}

/**
 * The spec's CHS geometry for a disk of `sectors` sectors (Appendix "CHS Calculation"):
 * 17, 31 or 63 sectors per track and up to 16 heads, 255 sectors per track above 65535×16×63.
 * The product may be smaller than `sectors`: callers search upwards for a geometry that fits.
 */
export function chsGeometry(sectors: number): { cylinders: number; heads: number; sectorsPerTrack: number } {
  const total = Math.min(sectors, MAX_CHS_SECTORS);
  let spt: number;
  let heads: number;
  let cylTimesHeads: number;
  if (total >= 65535 * 16 * 63) {
    spt = 255;
    heads = 16;
    cylTimesHeads = Math.floor(total / spt);
  } else {
    spt = 17;
    cylTimesHeads = Math.floor(total / spt);
    heads = Math.max(4, Math.floor((cylTimesHeads + 1023) / 1024));
    if (cylTimesHeads >= heads * 1024 || heads > 16) {
      spt = 31;
      heads = 16;
      cylTimesHeads = Math.floor(total / spt);
    }
    if (cylTimesHeads >= heads * 1024) {
      spt = 63;
      heads = 16;
      cylTimesHeads = Math.floor(total / spt);
    }
  }
  return { cylinders: Math.floor(cylTimesHeads / heads), heads, sectorsPerTrack: spt };
}
