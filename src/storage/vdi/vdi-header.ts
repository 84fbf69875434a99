// The VirtualBox Disk Image header, version 1.1 (VirtualBox's VDICore.h "VDIHEADER1PLUS"; the
// field layout is also in QEMU's block/vdi.c). All fields are little-endian.
import { TypervisorError } from '../../core/errors.js';

/** `signature` at 0x40. */
export const VDI_SIGNATURE = 0xbeda107f;
/** Version 1.1 (major in the high half). */
export const VDI_VERSION_1_1 = 0x00010001;
/** The header as QEMU and VirtualBox write it ends here; the block map follows at or after it. */
export const VDI_HEADER_BYTES = 0x200;
/** Block map entries that map no data: the block reads as zeros. */
export const VDI_UNALLOCATED = 0xffffffff;
export const VDI_DISCARDED = 0xfffffffe;
/** The only block size VirtualBox (and QEMU) use. */
export const VDI_BLOCK_SIZE = 1 << 20;

export const VDI_TYPE_DYNAMIC = 1;
export const VDI_TYPE_FIXED = 2;

export interface VdiHeader {
  readonly imageType: number;
  readonly offsetBmap: number;
  readonly offsetData: number;
  /** disk_size rounded up to whole sectors (as QEMU does): the capacity in bytes. */
  readonly diskSize: number;
  readonly blockSize: number;
  readonly blocksInImage: number;
  readonly blocksAllocated: number;
}

function bad(name: string, message: string, hint = 'the file is not a valid VDI image; VirtualBox\'s VBoxManage showmediuminfo or qemu-img info may say more'): TypervisorError {
  return new TypervisorError(`${name}: bad VDI header: ${message}`, { hint });
}

const hex = (v: number) => `0x${v.toString(16).padStart(8, '0')}`;

/**
 * Parses and validates the 512-byte header at the start of `name` (whose size is `fileSize`):
 * every offset and count is checked against the file so that later reads need only check
 * block map entries.
 */
export function parseVdiHeader(name: string, head: Uint8Array, fileSize: number): VdiHeader {
  if (head.length < VDI_HEADER_BYTES) throw bad(name, `the file is ${fileSize} bytes, smaller than a VDI header (${VDI_HEADER_BYTES} bytes)`);
  const v = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const u32 = (at: number) => v.getUint32(at, true);
  const signature = u32(0x40);
  if (signature !== VDI_SIGNATURE) throw bad(name, `signature at 0x40 is ${hex(signature)}, not ${hex(VDI_SIGNATURE)}`);
  const version = u32(0x44);
  if (version !== VDI_VERSION_1_1) {
    throw bad(name, `version is ${version >>> 16}.${version & 0xffff}; only VDI version 1.1 is supported`, 'convert it with VBoxManage clonemedium --format VDI, or with qemu-img convert -O qcow2');
  }
  const headerSize = u32(0x48);
  // cbHeader counts from 0x48; VirtualBox writes 0x190, QEMU 0x180.
  if (headerSize < 0x180 || 0x48 + headerSize > VDI_HEADER_BYTES) throw bad(name, `header_size is ${headerSize}; expected 384..440 bytes`);
  const imageType = u32(0x4c);
  if (imageType === 3 || imageType === 4) {
    throw bad(name, `image_type is ${imageType} (${imageType === 3 ? 'undo' : 'differencing'}); such images need their parent, which is not supported`, 'merge it into its parent in VirtualBox first, or convert it with VBoxManage clonemedium');
  }
  if (imageType !== VDI_TYPE_DYNAMIC && imageType !== VDI_TYPE_FIXED) throw bad(name, `image_type is ${imageType}; expected 1 (dynamic) or 2 (fixed)`);
  const offsetBmap = u32(0x154);
  const offsetData = u32(0x158);
  const sectorSize = u32(0x168);
  const rawDiskSize = v.getBigUint64(0x170, true);
  const blockSize = u32(0x178);
  const blockExtra = u32(0x17c);
  const blocksInImage = u32(0x180);
  const blocksAllocated = u32(0x184);
  if (sectorSize !== 512) throw bad(name, `sector_size is ${sectorSize}; only 512 is supported`);
  if (blockSize !== VDI_BLOCK_SIZE) throw bad(name, `block_size is ${blockSize}; only ${VDI_BLOCK_SIZE} (1 MiB) is supported`);
  if (blockExtra !== 0) throw bad(name, `block_extra is ${blockExtra}; only 0 is supported`);
  if (offsetBmap % 512 !== 0 || offsetBmap < VDI_HEADER_BYTES) throw bad(name, `offset_bmap is ${offsetBmap}; it must be a multiple of 512 at or after the header (${VDI_HEADER_BYTES})`);
  const bmapEnd = offsetBmap + blocksInImage * 4;
  if (bmapEnd > fileSize) throw bad(name, `the block map (blocks_in_image ${blocksInImage}, offset_bmap ${offsetBmap}) ends at ${bmapEnd}, past the end of the file (${fileSize} bytes)`);
  if (offsetData % 512 !== 0 || offsetData < bmapEnd) throw bad(name, `offset_data is ${offsetData}; it must be a multiple of 512 after the block map (which ends at ${bmapEnd})`);
  if (rawDiskSize > BigInt(blocksInImage) * BigInt(blockSize)) {
    throw bad(name, `disk_size is ${rawDiskSize}, more than blocks_in_image (${blocksInImage}) blocks of ${blockSize} bytes`);
  }
  // QEMU rounds a disk size that is not a whole number of sectors up (with a warning).
  const diskSize = Math.ceil(Number(rawDiskSize) / 512) * 512;
  if (blocksAllocated > blocksInImage) throw bad(name, `blocks_allocated is ${blocksAllocated}, more than blocks_in_image (${blocksInImage})`);
  for (const [what, at] of [['uuid_link', 0x1a8], ['uuid_parent', 0x1b8]] as const) {
    if (head.subarray(at, at + 16).some((b) => b !== 0)) {
      throw bad(name, `${what} is set: differencing VDI images (with a parent) are not supported`, 'merge it into its parent in VirtualBox first, or convert it with VBoxManage clonemedium');
    }
  }
  return { imageType, offsetBmap, offsetData, diskSize, blockSize, blocksInImage, blocksAllocated };
}
