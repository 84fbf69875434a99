// Creating empty VHD images as `qemu-img create -f vpc [-o subformat=fixed|dynamic]` does.
// Spec: Microsoft "Virtual Hard Disk Image Format Specification" v1.0.
import { TypervisorError } from '../../core/errors.js';
import type { ImageFile } from '../image-file.js';
import {
  BAT_UNALLOCATED,
  DISK_DYNAMIC,
  DISK_FIXED,
  DYNAMIC_COOKIE,
  DYNAMIC_HEADER_BYTES,
  FOOTER_BYTES,
  FOOTER_COOKIE,
  MAX_CHS_SECTORS,
  MAX_SECTORS,
  SECTOR,
  VHD_EPOCH,
  chsGeometry,
  vhdChecksum,
} from './vhd-footer.js';

export interface VhdCreateOptions {
  /** Requested virtual size in bytes. */
  size: number;
  /** 'dynamic' (default): blocks allocated on first write; 'fixed': the whole disk, then the footer. */
  subformat?: 'dynamic' | 'fixed';
  /**
   * Keep the size exactly (rounded down to sectors) and record creator "qem2", so that readers
   * use the footer's size; by default the size is rounded up to a CHS geometry (creator "qemu").
   */
  forceSize?: boolean;
}

/** QEMU's default block size for dynamic disks, as Virtual PC's. */
export const DEFAULT_BLOCK_SIZE = 2 * 1024 * 1024;

/**
 * The size and geometry of a new disk of `size` bytes, as QEMU 7.2 chooses them: the smallest
 * CHS geometry that holds the requested sectors (so that converting into VHD never truncates),
 * or, when none does, the maximum geometry and the requested size (at most 2040 GiB).
 */
export function vhdCreateGeometry(size: number, forceSize = false): { sectors: number; cylinders: number; heads: number; sectorsPerTrack: number } {
  if (!Number.isSafeInteger(size) || size < 0) throw new TypervisorError(`invalid image size ${size}`);
  // qemu-img rounds the requested size up to whole sectors first.
  const wanted = Math.ceil(size / SECTOR);
  const tooBig = () => new TypervisorError(`a VHD disk of ${size} bytes is too large: the format's limit is 2040 GiB`, { hint: 'use qcow2 for bigger disks' });
  if (forceSize) {
    // QEMU records the maximum geometry, which makes every reader use the footer's size.
    if (wanted > MAX_SECTORS) throw tooBig();
    return { sectors: wanted, cylinders: 65535, heads: 16, sectorsPerTrack: 255 };
  }
  const target = Math.min(MAX_CHS_SECTORS, wanted);
  let g = { cylinders: 0, heads: 0, sectorsPerTrack: 0 };
  for (let i = 0; target > g.cylinders * g.heads * g.sectorsPerTrack; i++) g = chsGeometry(target + i);
  const chs = g.cylinders * g.heads * g.sectorsPerTrack;
  if (chs === MAX_CHS_SECTORS) {
    if (wanted > MAX_SECTORS) throw tooBig();
    return { sectors: wanted, ...g };
  }
  return { sectors: chs, ...g };
}

/** A footer for a new disk ("Hard Disk Footer Format"), checksum included. */
export function buildFooter(o: { sectors: number; cylinders: number; heads: number; sectorsPerTrack: number; type: number; forceSize: boolean; now?: Date; uuid?: Uint8Array }): Uint8Array {
  const f = new Uint8Array(FOOTER_BYTES);
  const v = new DataView(f.buffer);
  const enc = new TextEncoder();
  const u64 = (at: number, n: number) => {
    v.setUint32(at, Math.floor(n / 0x1_0000_0000));
    v.setUint32(at + 4, n >>> 0);
  };
  f.set(enc.encode(FOOTER_COOKIE), 0);
  v.setUint32(8, 2); // features: "reserved", always set
  v.setUint32(12, 0x00010000); // file format version 1.0
  if (o.type === DISK_DYNAMIC) u64(16, FOOTER_BYTES);
  else f.fill(0xff, 16, 24); // fixed disks: no data offset
  v.setUint32(24, Math.max(0, Math.floor((o.now ?? new Date()).getTime() / 1000) - VHD_EPOCH) >>> 0);
  f.set(enc.encode(o.forceSize ? 'qem2' : 'qemu'), 28);
  v.setUint32(32, 0x00050003); // creator version as QEMU records it (Virtual PC 2007's, 5.3)
  f.set(enc.encode('Wi2k'), 36);
  u64(40, o.sectors * SECTOR); // original size
  u64(48, o.sectors * SECTOR); // current size
  v.setUint16(56, o.cylinders);
  f[58] = o.heads;
  f[59] = o.sectorsPerTrack;
  v.setUint32(60, o.type);
  const uuid = o.uuid ?? crypto.getRandomValues(new Uint8Array(16));
  f.set(uuid.subarray(0, 16), 68);
  f[74] = (f[74] & 0x0f) | 0x40; // RFC 4122 version 4 (random)
  f[76] = (f[76] & 0x3f) | 0x80; // RFC 4122 variant
  v.setUint32(64, vhdChecksum(f, 64));
  return f;
}

/**
 * Writes an empty VHD into `file`, which should be empty, laid out as qemu-img does:
 * dynamic — footer copy, dynamic disk header at 512, BAT at 1536 (all unallocated, padded to
 * a sector), footer; fixed — the zeroed disk (sparse where the file system allows), then the
 * footer. Returns the virtual size in bytes.
 */
export async function createVhd(file: ImageFile, options: VhdCreateOptions): Promise<number> {
  const forceSize = options.forceSize ?? false;
  const g = vhdCreateGeometry(options.size, forceSize);
  const subformat = options.subformat ?? 'dynamic';
  if (subformat !== 'dynamic' && subformat !== 'fixed') {
    throw new TypervisorError(`unknown VHD subformat '${String(subformat)}'`, { hint: 'use subformat=dynamic or subformat=fixed' });
  }
  const type = subformat === 'fixed' ? DISK_FIXED : DISK_DYNAMIC;
  const footer = buildFooter({ ...g, type, forceSize });
  const size = g.sectors * SECTOR;
  if (type === DISK_FIXED) {
    await file.pwrite(footer, size);
    await file.flush();
    return size;
  }
  const entries = Math.ceil(size / DEFAULT_BLOCK_SIZE);
  const batAt = FOOTER_BYTES + DYNAMIC_HEADER_BYTES;
  const batBytes = Math.ceil((entries * 4) / SECTOR) * SECTOR;
  const image = new Uint8Array(batAt + batBytes + FOOTER_BYTES);
  image.set(footer, 0);
  // "Dynamic Disk Header Format".
  const h = image.subarray(FOOTER_BYTES, batAt);
  const v = new DataView(h.buffer, h.byteOffset, DYNAMIC_HEADER_BYTES);
  h.set(new TextEncoder().encode(DYNAMIC_COOKIE), 0);
  h.fill(0xff, 8, 16); // data offset: unused, all ones (the spec's 0xFFFFFFFF, widened as Microsoft's tools expect)
  v.setUint32(16, 0);
  v.setUint32(20, batAt); // table offset
  v.setUint32(24, 0x00010000); // header version 1.0
  v.setUint32(28, entries);
  v.setUint32(32, DEFAULT_BLOCK_SIZE);
  v.setUint32(36, vhdChecksum(h, 36));
  image.fill(BAT_UNALLOCATED & 0xff, batAt, batAt + batBytes);
  image.set(footer, batAt + batBytes);
  await file.pwrite(image, 0);
  await file.flush();
  return size;
}
