// Creating empty qcow2 version 3 images (what `qemu-img create -f qcow2` writes).
// Spec: QEMU docs/interop/qcow2.txt "== Header ==", "=== Header extensions ===".
import { TypervisorError } from '../../core/errors.js';
import type { ImageFile } from '../image-file.js';
import { MAX_BACKING_NAME, MAX_CLUSTER_BITS, MAX_L1_BYTES, MIN_CLUSTER_BITS, QCOW2_MAGIC } from './qcow2-header.js';

export interface Qcow2CreateOptions {
  /** Virtual disk size in bytes; rounded up to a multiple of 512 as qemu-img does. */
  size: number;
  /** Cluster size in bytes: a power of two from 512 to 2 MiB (default 64 KiB). */
  clusterSize?: number;
  /** The backing file's name as it will be recorded (relative names are relative to the image). */
  backingFile?: string;
  /** The backing file's format, recorded in the backing format extension. */
  backingFormat?: string;
}

const HEADER_LENGTH = 112;
const EXT_BACKING_FORMAT = 0xe2792aca;
/** 16-bit refcounts, as qemu-img creates by default. */
const REFCOUNT_ORDER = 4;

const align8 = (n: number) => Math.ceil(n / 8) * 8;

/**
 * Writes an empty qcow2 v3 image (16-bit refcounts, zlib compression type, no lazy refcounts)
 * into `file`, which should be empty. Layout as qemu-img's: the header cluster, the refcount
 * table, the refcount blocks covering the metadata, then the L1 table. Returns the virtual size.
 */
export async function createQcow2(file: ImageFile, options: Qcow2CreateOptions): Promise<number> {
  const cs = options.clusterSize ?? 65536;
  const bits = Math.log2(cs);
  if (!Number.isInteger(bits) || bits < MIN_CLUSTER_BITS || bits > MAX_CLUSTER_BITS) {
    throw new TypervisorError(`cluster size ${cs} is not a power of two between 512 and 2M`, { hint: 'use e.g. -o cluster_size=64k' });
  }
  if (!Number.isSafeInteger(options.size) || options.size < 0) throw new TypervisorError(`invalid image size ${options.size}`);
  const size = Math.ceil(options.size / 512) * 512;
  const l2Covers = cs * (cs / 8);
  const l1Size = Math.ceil(size / l2Covers);
  if (l1Size * 8 > MAX_L1_BYTES) {
    throw new TypervisorError(`an image of ${size} bytes needs an L1 table of ${l1Size * 8} bytes, more than the limit of ${MAX_L1_BYTES}`, {
      hint: 'use a bigger cluster size (-o cluster_size=2M) or a smaller image',
    });
  }
  const l1Clusters = Math.ceil((l1Size * 8) / cs);
  const perBlock = (cs * 8) / 2 ** REFCOUNT_ORDER;
  let blocks = 1;
  let tableClusters = 1;
  for (;;) {
    const total = 1 + tableClusters + blocks + l1Clusters;
    if (blocks * perBlock >= total && tableClusters * (cs / 8) >= blocks) break;
    blocks = Math.ceil(total / perBlock);
    tableClusters = Math.ceil((blocks * 8) / cs);
  }
  const total = 1 + tableClusters + blocks + l1Clusters;
  const rtOffset = cs;
  const rbOffset = rtOffset + tableClusters * cs;
  const l1Offset = rbOffset + blocks * cs;

  const image = new Uint8Array(total * cs);
  const view = new DataView(image.buffer);
  const u64 = (at: number, v: number) => {
    view.setUint32(at, Math.floor(v / 0x1_0000_0000));
    view.setUint32(at + 4, v >>> 0);
  };
  view.setUint32(0, QCOW2_MAGIC);
  view.setUint32(4, 3);
  view.setUint32(20, bits);
  u64(24, size);
  view.setUint32(36, l1Size);
  u64(40, l1Offset);
  u64(48, rtOffset);
  view.setUint32(56, tableClusters);
  view.setUint32(96, REFCOUNT_ORDER);
  view.setUint32(100, HEADER_LENGTH);
  // byte 104: compression type 0 (zlib); 105-111 padding.
  let at = HEADER_LENGTH;
  const enc = new TextEncoder();
  if (options.backingFormat !== undefined) {
    const fmt = enc.encode(options.backingFormat);
    view.setUint32(at, EXT_BACKING_FORMAT);
    view.setUint32(at + 4, fmt.length);
    image.set(fmt, at + 8);
    at += 8 + align8(fmt.length);
  }
  at += 8; // end of the header extension area (type 0, length 0)
  if (options.backingFile !== undefined) {
    const name = enc.encode(options.backingFile);
    if (name.length === 0 || name.length > MAX_BACKING_NAME) {
      throw new TypervisorError(`the backing file name is ${name.length} bytes long; qcow2 allows 1 to ${MAX_BACKING_NAME}`);
    }
    if (at + name.length > cs) throw new TypervisorError(`the backing file name does not fit in the header cluster (${cs} bytes)`, { hint: 'use a shorter (relative) name or bigger clusters' });
    u64(8, at);
    view.setUint32(16, name.length);
    image.set(name, at);
  }
  for (let i = 0; i < blocks; i++) u64(rtOffset + i * 8, rbOffset + i * cs);
  for (let c = 0; c < total; c++) view.setUint16(rbOffset + c * 2, 1); // 16-bit big-endian refcounts
  await file.pwrite(image, 0);
  await file.flush();
  return size;
}
