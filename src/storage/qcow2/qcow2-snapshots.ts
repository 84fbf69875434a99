// Internal snapshots of qcow2 images: list, create, apply (revert) and delete, interoperable
// with qemu-img snapshot. Spec: QEMU docs/interop/qcow2.txt "== Snapshots ==",
// "== Host cluster management ==", "== Cluster mapping ==" (the COPIED flag, bit 63).
//
// Crash safety. qemu-img check counts a COPIED flag that disagrees with the refcount as a
// corruption in both directions, and taking a snapshot changes both the refcounts of every
// cluster the active tables reach and those flags — two writes to different clusters that no
// ordering makes atomic. So every operation here builds the image's next state beside the
// current one and switches with one write:
//   1. the next state is computed: the snapshot list, and a new active L1 table whose L2
//      tables are fresh copies (of the current active tables, or of a snapshot's when applying)
//      with COPIED flags that match the new refcounts;
//   2. the new L2 tables, L1 table, snapshot table and a complete new refcount table with its
//      blocks (the reference count of every cluster in the next state) are written into
//      clusters that are free in the current state;
//   3. one 36-byte write of header bytes 36-71 (l1_size, l1_table_offset,
//      refcount_table_offset, refcount_table_clusters, nb_snapshots, snapshots_offset) switches.
// A process killed before step 3 leaves the old image untouched (only unreferenced bytes with
// refcount 0 were written: qemu-img check finds it clean); after it, the new image is complete.
// The old tables and refcount structures are then simply free (refcount 0 in the new table).
// Because refcounts are recounted from the tables, any leaked clusters of the old image are
// reclaimed too; an image with refcount errors is refused (repair it first).
import { TypervisorError } from '../../core/errors.js';
import type { ImageFile } from '../image-file.js';
import { checkQcow2 } from './qcow2-check.js';
import { HEADER_PROBE_BYTES, INCOMPAT_CORRUPT, INCOMPAT_DIRTY, MAX_REFCOUNT_TABLE_BYTES, MAX_SNAPSHOTS, type Qcow2Header, parseQcow2Header, peekClusterBits } from './qcow2-header.js';
import { Qcow2Refcounts } from './qcow2-refcounts.js';
import { findSnapshot, type Qcow2Snapshot, readSnapshotTable, serializeSnapshotTable } from './qcow2-snapshot-table.js';

const TWO_32 = 0x1_0000_0000;
const hex = (n: number) => `0x${n.toString(16)}`;

/** The header and snapshot table of a qcow2 image, parsed and validated. */
export async function readQcow2Snapshots(file: ImageFile): Promise<{ header: Qcow2Header; snapshots: Qcow2Snapshot[] }> {
  const header = await readHeader(file);
  const { snapshots } = await readSnapshotTable(file, header, await file.size());
  return { header, snapshots };
}

async function readHeader(file: ImageFile): Promise<Qcow2Header> {
  const size = await file.size();
  const probe = new Uint8Array(Math.min(HEADER_PROBE_BYTES, size));
  await file.pread(probe, 0);
  const cluster0 = new Uint8Array(Math.min(2 ** peekClusterBits(file.name, probe), size));
  await file.pread(cluster0, 0);
  return parseQcow2Header(file.name, cluster0, size);
}

/** Options of {@link createSnapshot}; the date defaults to now. */
export interface SnapshotCreateOptions {
  dateMs?: number;
}

/** Takes a disk-only snapshot named `name` of the image in `file` (opened writable). Returns its ID. */
export async function createSnapshot(file: ImageFile, name: string, options: SnapshotCreateOptions = {}): Promise<string> {
  const { header: h, snapshots } = await prepare(file);
  if (snapshots.length >= MAX_SNAPSHOTS) throw new TypervisorError(`${file.name}: the image already has ${snapshots.length} snapshots, the most qcow2 allows`, { hint: 'delete some with img snapshot -d' });
  // QEMU's find_new_snapshot_id: one more than the largest numeric ID.
  let max = 0;
  for (const s of snapshots) {
    const n = /^\d+$/.test(s.id) ? Number(s.id) : 0;
    if (n > max) max = n;
  }
  const id = String(max + 1);
  const ms = options.dateMs ?? Date.now();
  // qemu-img snapshot -c records the wall clock with microsecond precision, a VM clock of 0,
  // no VM state and an icount of 0.
  const snap: Qcow2Snapshot = {
    l1TableOffset: h.l1TableOffset, l1Size: h.l1Size, id, name,
    dateSec: Math.floor(ms / 1000), dateNsec: Math.round((ms % 1000) * 1000) * 1000,
    vmClockNsec: 0n, vmStateSize: 0, diskSize: h.size, icount: 0n, extra: new Uint8Array(0),
  };
  // The current active tables become the snapshot's; the active state gets copies.
  await commit(file, h, [...snapshots, snap], { offset: h.l1TableOffset, size: h.l1Size });
  return id;
}

/** Reverts the disk to snapshot `key` (an ID, or else a name). */
export async function applySnapshot(file: ImageFile, key: string): Promise<void> {
  const { header: h, snapshots } = await prepare(file);
  const s = snapshots[lookup(file, snapshots, key)];
  if (s.diskSize !== h.size) {
    throw new TypervisorError(`${file.name}: snapshot "${s.name}" (ID ${s.id}) was taken at a disk size of ${s.diskSize} bytes; the disk is now ${h.size} bytes`, {
      hint: 'resize the image back to the snapshot\'s size first (qemu-img resize)',
    });
  }
  await commit(file, h, snapshots, { offset: s.l1TableOffset, size: s.l1Size });
}

/** Deletes snapshot `key` (an ID, or else a name), freeing the clusters only it used. Returns the deleted entry. */
export async function deleteSnapshot(file: ImageFile, key: string): Promise<Qcow2Snapshot> {
  const { header: h, snapshots } = await prepare(file);
  const i = lookup(file, snapshots, key);
  await commit(file, h, snapshots.filter((_, j) => j !== i), { offset: h.l1TableOffset, size: h.l1Size });
  return snapshots[i];
}

function lookup(file: ImageFile, snapshots: readonly Qcow2Snapshot[], key: string): number {
  const i = findSnapshot(snapshots, key);
  if (i === undefined) {
    throw new TypervisorError(`${file.name}: no snapshot with ID or name "${key}"`, {
      hint: snapshots.length === 0 ? 'the image has no snapshots' : `snapshots: ${snapshots.map((s) => `${s.id} (${s.name})`).join(', ')}`,
    });
  }
  return i;
}

/** Reads and validates everything an operation needs; refuses images that are not consistent. */
async function prepare(file: ImageFile): Promise<{ header: Qcow2Header; snapshots: Qcow2Snapshot[] }> {
  if (!file.writable) throw new TypervisorError(`${file.name}: snapshot operations need the image opened for writing`);
  const { header: h, snapshots } = await readQcow2Snapshots(file);
  const incompat = Number(h.incompatibleFeatures);
  if (incompat & (INCOMPAT_DIRTY | INCOMPAT_CORRUPT)) {
    throw new TypervisorError(`${file.name}: the image is ${incompat & INCOMPAT_CORRUPT ? 'marked corrupt' : 'dirty'}; snapshots are not changed on it`, { hint: 'repair it with qemu-img check -r all' });
  }
  if (h.extendedL2) throw new TypervisorError(`${file.name}: snapshots of images with extended L2 entries are not implemented`, { hint: 'use qemu-img snapshot' });
  // Refcounts are recomputed from the tables, so they must agree with them now: a corrupt
  // image (a cluster referenced more often than counted) would otherwise be "repaired" silently.
  const r = await checkQcow2(file);
  if (r.corruptions > 0 || r.checkErrors > 0) {
    throw new TypervisorError(`${file.name}: the image has ${r.corruptions} refcount or table errors${r.messages.length > 0 ? ` (${r.messages[0]})` : ''}; snapshots are not changed on it`, {
      hint: 'qemu-img check shows them; qemu-img check -r all repairs them',
    });
  }
  return { header: h, snapshots };
}

/** Reference counts of the next state, by cluster index. */
class Refs {
  readonly counts = new Map<number, number>();
  highest = 0;
  add(c: number, n = 1): void {
    this.counts.set(c, (this.counts.get(c) ?? 0) + n);
    if (c > this.highest) this.highest = c;
  }
  get(c: number): number {
    return this.counts.get(c) ?? 0;
  }
}

/**
 * Writes the next state beside the current one and switches to it (see the file comment):
 * `snapshots` is the new snapshot list (entries naming existing L1 tables), `active` the L1
 * table whose contents become the active disk.
 */
async function commit(file: ImageFile, h: Qcow2Header, snapshots: readonly Qcow2Snapshot[], active: { offset: number; size: number }): Promise<void> {
  const name = file.name;
  const cs = h.clusterSize;
  const fileSize = await file.size();
  const fileClusters = Math.ceil(fileSize / cs);
  const refs = new Refs();
  const range = (offset: number, length: number, n = 1) => {
    for (let c = Math.floor(offset / cs); c <= Math.floor((offset + length - 1) / cs); c++) refs.add(c, n);
  };
  const readTable = async (offset: number, length: number, what: string): Promise<Uint8Array> => {
    const b = new Uint8Array(length);
    if ((await file.pread(b, offset)) < length) throw new TypervisorError(`${name}: ${what} at ${hex(offset)} lies past the end of the file`);
    return b;
  };
  /** Counts the references one L2 table's entries hold (qcow2.txt "L2 table entry"), `n` times. */
  const countL2 = (t: DataView, n: number) => {
    for (let j = 0; j < cs / 8; j++) {
      const hi = t.getUint32(j * 8);
      const lo = t.getUint32(j * 8 + 4);
      if ((hi >>> 30) & 1) {
        // Compressed: a reference to every host cluster its sectors touch.
        const v = ((BigInt(hi) << 32n) | BigInt(lo)) & ((1n << 62n) - 1n);
        const x = BigInt(62 - (h.clusterBits - 8));
        const host = Number(v & ((1n << x) - 1n));
        const sectors = Number(v >> x) + 1;
        const start = host - (host % 512);
        range(start, sectors * 512, n);
        continue;
      }
      const host = (hi & 0xffffff) * TWO_32 + ((lo & 0xfffffe00) >>> 0);
      if (host !== 0) refs.add(host / cs, n);
    }
  };

  // The header, and every snapshot's tree (the check before proved them consistent).
  refs.add(0);
  const byL1 = new Map<string, { s: Qcow2Snapshot; times: number }>();
  for (const s of snapshots) {
    const key = `${s.l1TableOffset}:${s.l1Size}`;
    const seen = byL1.get(key);
    if (seen) seen.times++;
    else byL1.set(key, { s, times: 1 });
  }
  for (const { s, times } of byL1.values()) {
    if (s.l1Size === 0) continue;
    range(s.l1TableOffset, s.l1Size * 8, times);
    const l1 = new DataView((await readTable(s.l1TableOffset, s.l1Size * 8, `the L1 table of snapshot ${s.id}`)).buffer);
    const tables = new Map<number, number>();
    for (let i = 0; i < s.l1Size; i++) {
      const l2 = (l1.getUint32(i * 8) & 0xffffff) * TWO_32 + ((l1.getUint32(i * 8 + 4) & 0xfffffe00) >>> 0);
      if (l2 !== 0) tables.set(l2, (tables.get(l2) ?? 0) + times);
    }
    for (const [l2, n] of tables) {
      refs.add(l2 / cs, n);
      countL2(new DataView((await readTable(l2, cs, `an L2 table of snapshot ${s.id}`)).buffer), n);
    }
  }

  // The next active tables: copies of the source's L2 tables (one per L1 entry).
  const l1Size = Math.max(active.size, h.l1Size);
  const sourceL1 = active.size === 0 ? new DataView(new ArrayBuffer(0)) : new DataView((await readTable(active.offset, active.size * 8, 'the source L1 table')).buffer);
  const copies: { index: number; table: DataView }[] = [];
  for (let i = 0; i < active.size; i++) {
    const l2 = (sourceL1.getUint32(i * 8) & 0xffffff) * TWO_32 + ((sourceL1.getUint32(i * 8 + 4) & 0xfffffe00) >>> 0);
    if (l2 === 0) continue;
    const table = new DataView((await readTable(l2, cs, `the L2 table at ${hex(l2)}`)).buffer);
    countL2(table, 1);
    copies.push({ index: i, table });
  }

  // Free clusters: refcount 0 now, and not referenced in the next state.
  const old = await Qcow2Refcounts.load(file, h, fileSize, () => undefined, () => fileSize);
  const picked = new Set<number>();
  const isFree = async (c: number) => c > 0 && !picked.has(c) && refs.get(c) === 0 && (await old.get(c * cs)) === 0;
  /** Below this cluster nothing is free (a cursor that keeps first fit linear). */
  let cursor = 1;
  /** First fit of `n` contiguous free clusters. */
  const pick = async (n: number): Promise<number> => {
    while (!(await isFree(cursor))) cursor++;
    for (let c = cursor; ; c++) {
      let k = 0;
      while (k < n && (await isFree(c + k))) k++;
      if (k === n) {
        for (let j = 0; j < n; j++) picked.add(c + j);
        return c;
      }
      c += k;
    }
  };
  const take = async (n: number): Promise<number> => {
    const c = await pick(n);
    for (let j = 0; j < n; j++) refs.add(c + j);
    return c;
  };

  // A 0-byte disk has no L1 table (l1_size 0, l1_table_offset 0, as qemu-img creates it).
  const l1Clusters = Math.ceil((l1Size * 8) / cs);
  const newL1 = l1Clusters === 0 ? 0 : (await take(l1Clusters)) * cs;
  const l2At: number[] = [];
  for (let k = 0; k < copies.length; k++) l2At.push((await take(1)) * cs);
  const snapBytes = serializeSnapshotTable(snapshots);
  const snapClusters = Math.ceil(snapBytes.length / cs);
  const snapAt = snapshots.length === 0 ? 0 : (await take(snapClusters)) * cs;

  // The refcount table and blocks, sized to cover every referenced cluster including themselves.
  const bits = 2 ** h.refcountOrder;
  const perBlock = (cs * 8) / bits;
  let nBlocks = Math.ceil((refs.highest + 1) / perBlock);
  let nTable = Math.max(1, Math.ceil((nBlocks * 8) / cs));
  let tableAt = 0;
  let blockAt: number[] = [];
  for (;;) {
    if (nTable * cs > MAX_REFCOUNT_TABLE_BYTES) throw new TypervisorError(`${name}: the refcount table would exceed 8 MiB`);
    const trial = new Set<number>();
    tableAt = await pick(nTable);
    for (let j = 0; j < nTable; j++) trial.add(tableAt + j);
    blockAt = [];
    for (let k = 0; k < nBlocks; k++) {
      const c = await pick(1);
      trial.add(c);
      blockAt.push(c);
    }
    let highest = refs.highest;
    for (const c of trial) if (c > highest) highest = c;
    const needBlocks = Math.ceil((highest + 1) / perBlock);
    const needTable = Math.max(1, Math.ceil((needBlocks * 8) / cs));
    if (needBlocks <= nBlocks && needTable <= nTable) {
      for (const c of trial) refs.add(c);
      break;
    }
    for (const c of trial) picked.delete(c);
    cursor = 1;
    nBlocks = Math.max(nBlocks, needBlocks);
    nTable = Math.max(nTable, needTable);
  }
  const max = bits >= 53 ? Number.MAX_SAFE_INTEGER : 2 ** bits - 1;
  for (const [c, n] of refs.counts) {
    if (n > max) throw new TypervisorError(`${name}: cluster ${c} would be referenced ${n} times, more than ${bits}-bit refcounts hold`, { hint: 'delete snapshots, or convert with -o refcount_bits=64' });
  }

  // Step 2: write the next state into free clusters. COPIED (bit 63) now matches the new refcounts.
  for (let k = 0; k < copies.length; k++) {
    const t = copies[k].table;
    for (let j = 0; j < cs / 8; j++) {
      const hi = t.getUint32(j * 8);
      if ((hi >>> 30) & 1) continue; // compressed: never COPIED
      const host = (hi & 0xffffff) * TWO_32 + ((t.getUint32(j * 8 + 4) & 0xfffffe00) >>> 0);
      const copied = host !== 0 && refs.get(host / cs) === 1;
      t.setUint32(j * 8, copied ? (hi | 0x80000000) >>> 0 : hi & 0x7fffffff);
    }
    await file.pwrite(new Uint8Array(t.buffer), l2At[k]);
  }
  const l1 = new Uint8Array(l1Clusters * cs);
  const l1v = new DataView(l1.buffer);
  copies.forEach(({ index }, k) => {
    // A fresh table has refcount 1: COPIED.
    l1v.setUint32(index * 8, (0x80000000 | Math.floor(l2At[k] / TWO_32)) >>> 0);
    l1v.setUint32(index * 8 + 4, l2At[k] >>> 0);
  });
  if (l1Clusters > 0) await file.pwrite(l1, newL1);
  if (snapAt !== 0) {
    const padded = new Uint8Array(snapClusters * cs);
    padded.set(snapBytes);
    await file.pwrite(padded, snapAt);
  }
  const table = new Uint8Array(nTable * cs);
  const tv = new DataView(table.buffer);
  const blocks = blockAt.map(() => new Uint8Array(cs));
  for (const [c, n] of refs.counts) {
    const b = blocks[Math.floor(c / perBlock)];
    const k = c % perBlock;
    if (bits < 8) {
      const pos = k * bits;
      b[pos >> 3] |= n << (pos & 7);
    } else {
      let v = n;
      for (let i = bits / 8 - 1; i >= 0; i--) {
        b[(k * bits) / 8 + i] = v % 256;
        v = Math.floor(v / 256);
      }
    }
  }
  for (let k = 0; k < blockAt.length; k++) {
    await file.pwrite(blocks[k], blockAt[k] * cs);
    tv.setUint32(k * 8, Math.floor((blockAt[k] * cs) / TWO_32));
    tv.setUint32(k * 8 + 4, (blockAt[k] * cs) >>> 0);
  }
  await file.pwrite(table, tableAt * cs);
  if (h.version === 3 && h.autoclearFeatures !== 0n) {
    // "An implementation may only write to an image with unknown auto-clear features if it
    // clears the respective bits from this field first": bitmaps are not carried over.
    await file.pwrite(new Uint8Array(8), 88);
  }
  await file.flush();

  // Step 3: the switch (qcow2.txt "== Header ==", bytes 36-71).
  const head = new Uint8Array(36);
  const hv = new DataView(head.buffer);
  hv.setUint32(0, l1Size);
  hv.setUint32(4, Math.floor(newL1 / TWO_32));
  hv.setUint32(8, newL1 >>> 0);
  hv.setUint32(12, Math.floor((tableAt * cs) / TWO_32));
  hv.setUint32(16, (tableAt * cs) >>> 0);
  hv.setUint32(20, nTable);
  hv.setUint32(24, snapshots.length);
  hv.setUint32(28, Math.floor(snapAt / TWO_32));
  hv.setUint32(32, snapAt >>> 0);
  await file.pwrite(head, 36);
  await file.flush();

  // Afterwards: clusters past the last one in use are free; give them back to the host.
  const end = (refs.highest + 1) * cs;
  if (end < fileSize && fileClusters > 0) await file.truncate(end);
}
