// Emptying a qcow2 image (what qemu-img commit does to the image it committed, unless -d).
// Spec: QEMU docs/interop/qcow2.txt "== Cluster mapping ==", "== Host cluster management ==".
//
// Crash safety: one write zeroes the whole L1 table — from then on the image maps nothing and
// every data cluster and L2 table is merely leaked — then their refcounts are dropped one by
// one, and the file is cut after the last metadata cluster. A process dying at any point leaves
// a valid image with at worst leaked clusters (qemu instead marks the image dirty meanwhile).
import { TypervisorError } from '../../core/errors.js';
import type { ImageFile } from '../image-file.js';
import { loadRefcounts, readQcow2Header, refuseMetadataChange } from './qcow2-resize.js';

const TWO_32 = 0x1_0000_0000;

/** Unmaps every guest cluster of the qcow2 image in `file` and frees what only they used. */
export async function makeQcow2Empty(file: ImageFile): Promise<void> {
  const name = file.name;
  const { header: h, fileSize } = await readQcow2Header(file);
  refuseMetadataChange(name, h, 'empty it');
  if (h.nbSnapshots > 0) throw new TypervisorError(`${name}: cannot empty an image with internal snapshots`, { hint: 'use -d to keep the image as it is' });
  const cs = h.clusterSize;
  // Loaded (and validated) before anything is written.
  const refcounts = await loadRefcounts(file, h, fileSize);
  // The clusters that stay: the header, the L1 table, the refcount table and its blocks.
  const keep = new Set<number>([0]);
  for (let c = 0; c < Math.ceil((h.l1Size * 8) / cs); c++) keep.add(h.l1TableOffset + c * cs);
  const rt = new Uint8Array(h.refcountTableClusters * cs);
  await file.pread(rt, h.refcountTableOffset);
  const rv = new DataView(rt.buffer);
  for (let c = 0; c < h.refcountTableClusters; c++) keep.add(h.refcountTableOffset + c * cs);
  for (let i = 0; i < rt.length / 8; i++) {
    const off = rv.getUint32(i * 8) * TWO_32 + (rv.getUint32(i * 8 + 4) & 0xfffffe00);
    if (off !== 0) keep.add(off);
  }
  await file.pwrite(new Uint8Array(h.l1Size * 8), h.l1TableOffset);
  await file.flush();
  const clusters = Math.ceil(fileSize / cs);
  for (let c = 0; c < clusters; c++) {
    const at = c * cs;
    if (keep.has(at)) continue;
    // Above 1 only for a host cluster shared by several compressed clusters (no snapshots here).
    for (let n = await refcounts.get(at); n > 0; n--) await refcounts.add(at, -1);
  }
  await file.flush();
  let end = 0;
  for (const at of keep) end = Math.max(end, at + cs);
  if (end < fileSize) await file.truncate(end);
}
