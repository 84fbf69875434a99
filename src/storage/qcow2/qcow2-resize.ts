// Resizing a qcow2 image in its file. Spec: QEMU docs/interop/qcow2.txt "== Header ==" (size,
// l1_size, l1_table_offset) and "== Cluster mapping ==" (the L1 table must cover the size).
//
// Crash safety: every step leaves an image that is valid on its own, with at worst leaked
// clusters. Growing past the L1 table's reach writes a bigger L1 table into newly allocated
// clusters (refcounts raised first), then switches to it and the new size in one 24-byte header
// write, and only then frees the old table. Shrinking first unhooks and frees L2 tables that lie
// wholly past the new end (they must map nothing), then writes the new size.
import { TypervisorError } from '../../core/errors.js';
import type { ImageFile } from '../image-file.js';
import { HEADER_PROBE_BYTES, INCOMPAT_CORRUPT, INCOMPAT_DIRTY, MAX_L1_BYTES, type Qcow2Header, parseQcow2Header, peekClusterBits } from './qcow2-header.js';
import { Qcow2Refcounts } from './qcow2-refcounts.js';

const TWO_32 = 0x1_0000_0000;

/** Reads and parses the header of the qcow2 image in `file`. */
export async function readQcow2Header(file: ImageFile): Promise<{ header: Qcow2Header; cluster0: Uint8Array; fileSize: number }> {
  const fileSize = await file.size();
  const probe = new Uint8Array(Math.min(HEADER_PROBE_BYTES, fileSize));
  await file.pread(probe, 0);
  const cluster0 = new Uint8Array(Math.min(2 ** peekClusterBits(file.name, probe), fileSize));
  await file.pread(cluster0, 0);
  return { header: parseQcow2Header(file.name, cluster0, fileSize), cluster0, fileSize };
}

/** What keeps an image's metadata from being changed here (as for writing guest data). */
export function refuseMetadataChange(name: string, h: Qcow2Header, what: string): void {
  const incompat = Number(h.incompatibleFeatures);
  if (incompat & (INCOMPAT_CORRUPT | INCOMPAT_DIRTY)) {
    throw new TypervisorError(`${name}: cannot ${what}: the qcow2 image is marked ${incompat & INCOMPAT_CORRUPT ? 'corrupt' : 'dirty'}`, { hint: 'repair it with qemu-img check -r all' });
  }
}

/** Loads the refcounts of `file` for allocating and freeing clusters. */
export async function loadRefcounts(file: ImageFile, header: Qcow2Header, fileSize: number): Promise<Qcow2Refcounts> {
  let size = fileSize;
  return Qcow2Refcounts.load(file, header, fileSize, (end) => void (size = Math.max(size, end)), () => size);
}

/**
 * Allocates `count` contiguous clusters (refcount 1 each) and returns the first one's offset.
 * Single free clusters found on the way that do not start a long enough run are freed again
 * afterwards (at worst leaked if the process dies meanwhile).
 */
export async function allocateRun(refcounts: Qcow2Refcounts, count: number, cs: number): Promise<number> {
  const strays: number[] = [];
  let start = -1;
  let len = 0;
  while (len < count) {
    const c = await refcounts.allocate();
    if (start >= 0 && c === start + len * cs) len++;
    else {
      for (let k = 0; k < len; k++) strays.push(start + k * cs);
      start = c;
      len = 1;
    }
  }
  for (const c of strays) await refcounts.add(c, -1);
  return start;
}

function u64(view: DataView, at: number, v: number): void {
  view.setUint32(at, Math.floor(v / TWO_32));
  view.setUint32(at + 4, v >>> 0);
}

/**
 * Sets the virtual size of the qcow2 image in `file` to `target(currentSize)`. Refused (image
 * unchanged): images with internal snapshots (as qemu), sizes that are not a multiple of 512
 * (as qemu), and shrinking past a cluster that is still mapped (qemu would drop its data; we
 * ask for it to be discarded first).
 */
export async function resizeQcow2(file: ImageFile, target: (current: number) => number): Promise<void> {
  const name = file.name;
  const { header: h, cluster0, fileSize } = await readQcow2Header(file);
  const size = target(h.size);
  refuseMetadataChange(name, h, 'resize it');
  if (h.nbSnapshots > 0) throw new TypervisorError(`${name}: Can't resize an image which has snapshots`, { hint: 'delete them with qemu-img snapshot -d, or use a new overlay' });
  if (!Number.isSafeInteger(size) || size < 0) throw new TypervisorError(`${name}: invalid new size ${size}`, { hint: 'a size must be a non-negative number of bytes' });
  if (size % 512 !== 0) throw new TypervisorError(`${name}: The new size must be a multiple of 512 (${size} is not)`, { hint: 'round it to a multiple of 512' });
  if (size === h.size) return;
  const cs = h.clusterSize;
  const l2Entries = cs / (h.extendedL2 ? 16 : 8);
  const perL1 = l2Entries * cs;
  const needL1 = Math.ceil(size / perL1);
  const head = new Uint8Array(24); // bytes 24..47: size, crypt_method, l1_size, l1_table_offset
  head.set(cluster0.subarray(24, 48));
  const hv = new DataView(head.buffer);
  u64(hv, 0, size);

  if (size > h.size && needL1 > h.l1Size) {
    if (needL1 * 8 > MAX_L1_BYTES) {
      throw new TypervisorError(`${name}: ${size} bytes need an L1 table of ${needL1 * 8} bytes, more than the ${MAX_L1_BYTES}-byte limit`, { hint: 'use bigger clusters (qemu-img convert -o cluster_size=2M)' });
    }
    const refcounts = await loadRefcounts(file, h, fileSize);
    const oldBytes = h.l1Size * 8;
    const l1 = new Uint8Array(Math.ceil((needL1 * 8) / cs) * cs);
    if (oldBytes > 0 && (await file.pread(l1.subarray(0, oldBytes), h.l1TableOffset)) < oldBytes) {
      throw new TypervisorError(`${name}: corrupt qcow2 image: the L1 table lies past the end of the file`);
    }
    const at = await allocateRun(refcounts, l1.length / cs, cs);
    await file.pwrite(l1, at);
    await file.flush();
    hv.setUint32(12, needL1);
    u64(hv, 16, at);
    await file.pwrite(head, 24);
    await file.flush();
    for (let c = 0; c < Math.ceil(oldBytes / cs); c++) await refcounts.add(h.l1TableOffset + c * cs, -1);
    return;
  }

  if (size < h.size) {
    // Every L2 entry of a cluster wholly past the new end must be zero (maps nothing).
    const firstGone = Math.ceil(size / cs);
    const l1 = new Uint8Array(h.l1Size * 8);
    await file.pread(l1, h.l1TableOffset);
    const lv = new DataView(l1.buffer);
    const table = new Uint8Array(cs);
    const drop: number[] = [];
    const clearTails: Array<[number, number]> = [];
    for (let i = Math.floor(firstGone / l2Entries); i < h.l1Size; i++) {
      const l2 = (lv.getUint32(i * 8) & 0xffffff) * TWO_32 + (lv.getUint32(i * 8 + 4) & 0xfffffe00);
      if (l2 === 0) continue;
      if (l2 % cs !== 0) throw new TypervisorError(`${name}: corrupt qcow2 image: L1 entry ${i}: L2 table offset 0x${l2.toString(16)} is not aligned to the cluster size`, { hint: 'qemu-img check shows what is damaged' });
      if ((await file.pread(table, l2)) < cs) throw new TypervisorError(`${name}: corrupt qcow2 image: L2 table at 0x${l2.toString(16)} lies past the end of the file`);
      const entryBytes = cs / l2Entries;
      const tv = new DataView(table.buffer);
      const from = Math.max(0, firstGone - i * l2Entries);
      let zeroFlags = false;
      for (let j = from; j < l2Entries; j++) {
        const hi = tv.getUint32(j * entryBytes);
        const lo = tv.getUint32(j * entryBytes + 4);
        // A cluster that only reads as zeros (zero flag, no host cluster) holds nothing: it may go.
        const nothing = hi === 0 && (lo & ~1) === 0 && (!h.extendedL2 || tv.getUint32(j * entryBytes + 12) === 0);
        if (!nothing) {
          const guest = (i * l2Entries + j) * cs;
          throw new TypervisorError(`${name}: cannot shrink to ${size} bytes: the cluster at guest offset ${guest} (0x${guest.toString(16)}) is allocated`, {
            hint: 'discard the data past the new end first (e.g. qemu-io -c "discard OFFSET LEN"), or convert the image',
          });
        }
        if (lo !== 0 || (h.extendedL2 && tv.getUint32(j * entryBytes + 8) !== 0)) zeroFlags = true;
      }
      // A table that stays keeps no zero flags past the end (a later grow must read the backing file there).
      if (from > 0 && zeroFlags) clearTails.push([l2 + from * entryBytes, (l2Entries - from) * entryBytes]);
      if (i * l2Entries >= firstGone) drop.push(i);
    }
    for (const [at, len] of clearTails) await file.pwrite(new Uint8Array(len), at);
    if (drop.length > 0) {
      const refcounts = await loadRefcounts(file, h, fileSize);
      for (const i of drop) {
        const l2 = (lv.getUint32(i * 8) & 0xffffff) * TWO_32 + (lv.getUint32(i * 8 + 4) & 0xfffffe00);
        await file.pwrite(new Uint8Array(8), h.l1TableOffset + i * 8);
        await file.flush();
        await refcounts.add(l2, -1);
      }
    }
  }
  await file.pwrite(head.subarray(0, 8), 24);
}
