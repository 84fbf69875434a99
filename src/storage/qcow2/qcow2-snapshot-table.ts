// The qcow2 internal snapshot table: parsing (from untrusted bytes, fully validated) and
// serialising. Spec: QEMU docs/interop/qcow2.txt "== Snapshots ==". Limits are QEMU's
// (block/qcow2.h: QCOW_MAX_SNAPSHOTS, QCOW_MAX_SNAPSHOT_EXTRA_DATA, QCOW_MAX_SNAPSHOTS_SIZE)
// so that no table QEMU refuses is accepted here and none we write is refused by QEMU.
import { TypervisorError } from '../../core/errors.js';
import type { ImageFile } from '../image-file.js';
import { MAX_L1_BYTES, MAX_SNAPSHOTS, type Qcow2Header } from './qcow2-header.js';

/** Extra data QEMU allows per entry, and the whole table's size limit (1 KiB per snapshot). */
export const MAX_SNAPSHOT_EXTRA_DATA = 1024;
export const MAX_SNAPSHOT_TABLE_BYTES = 1024 * MAX_SNAPSHOTS;
/** The entry's fixed part (bytes 0-39) before the extra data. */
const FIXED = 40;
/** The extra data we write: vm_state_size_large, disk_size, icount (qcow2.txt, "Extra data"). */
const OUR_EXTRA = 24;
const TWO_32 = 0x1_0000_0000;

/** One snapshot table entry. */
export interface Qcow2Snapshot {
  readonly l1TableOffset: number;
  /** Entries of the snapshot's L1 table. */
  readonly l1Size: number;
  /** The unique ID string ("1", "2", …, as QEMU numbers them). */
  readonly id: string;
  readonly name: string;
  readonly dateSec: number;
  readonly dateNsec: number;
  readonly vmClockNsec: bigint;
  /** Size of the saved VM state (0 for disk-only snapshots; 64-bit from the extra data when present). */
  readonly vmStateSize: number;
  /** The virtual disk size when the snapshot was taken (extra data bytes 8-15; the image size when absent). */
  readonly diskSize: number;
  /** The instruction counter for record/replay (extra data bytes 16-23); -1n when absent. */
  readonly icount: bigint;
  /** The entry's extra data as found (kept when the table is rewritten: unknown fields survive). */
  readonly extra: Uint8Array;
}

function fail(name: string, message: string): never {
  throw new TypervisorError(`${name}: corrupt qcow2 snapshot table: ${message}`, {
    hint: 'qemu-img snapshot -l shows what QEMU makes of it; convert the image (qemu-img convert -O qcow2) to drop the snapshots',
  });
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Bytes of an entry with these id/name/extra lengths: fixed part, extra, id, name, padded to 8. */
export function entryBytes(idLen: number, nameLen: number, extraLen: number): number {
  return Math.ceil((FIXED + extraLen + idLen + nameLen) / 8) * 8;
}

/**
 * Parses the snapshot table of an image with header `h` from `table` (the bytes from
 * snapshots_offset to at most the end of the file, or the table limit). Every entry is checked:
 * it lies inside the bytes read, its extra data is at most 1 KiB (and at least 16 bytes in
 * version 3, which must carry the disk size), names are UTF-8, and the snapshot's L1 table is
 * cluster-aligned, at most 32 MiB, big enough for the snapshot's disk size and inside the file.
 */
export function parseSnapshotTable(name: string, h: Qcow2Header, table: Uint8Array, fileSize: number): { snapshots: Qcow2Snapshot[]; bytes: number } {
  const view = new DataView(table.buffer, table.byteOffset, table.byteLength);
  const snapshots: Qcow2Snapshot[] = [];
  const cs = h.clusterSize;
  let at = 0;
  for (let i = 0; i < h.nbSnapshots; i++) {
    const where = `snapshot entry ${i} (byte ${at} of the table at 0x${h.snapshotsOffset.toString(16)})`;
    if (at + FIXED > table.length) fail(name, `${where} lies past the end of the ${table.length < MAX_SNAPSHOT_TABLE_BYTES ? `file (${fileSize} bytes)` : `table size limit (${MAX_SNAPSHOT_TABLE_BYTES} bytes)`}`);
    const l1Hi = view.getUint32(at);
    const l1Lo = view.getUint32(at + 4);
    if (l1Hi >= 0x200000) fail(name, `${where}: l1_table_offset 0x${l1Hi.toString(16)}${l1Lo.toString(16).padStart(8, '0')} is beyond 2^53`);
    const l1TableOffset = l1Hi * TWO_32 + l1Lo;
    const l1Size = view.getUint32(at + 8);
    const idLen = view.getUint16(at + 12);
    const nameLen = view.getUint16(at + 14);
    const dateSec = view.getUint32(at + 16);
    const dateNsec = view.getUint32(at + 20);
    const vmClockNsec = view.getBigUint64(at + 24);
    const vmState32 = view.getUint32(at + 32);
    const extraLen = view.getUint32(at + 36);
    if (extraLen > MAX_SNAPSHOT_EXTRA_DATA) fail(name, `${where}: extra_data_size is ${extraLen}; the limit is ${MAX_SNAPSHOT_EXTRA_DATA}`);
    if (h.version === 3 && extraLen < 16) fail(name, `${where}: extra_data_size is ${extraLen}; version 3 images need at least 16 (vm_state_size_large and disk_size)`);
    const len = entryBytes(idLen, nameLen, extraLen);
    // The padding after the last entry may be missing: QEMU writes the table unpadded at the end of the file.
    if (at + FIXED + extraLen + idLen + nameLen > table.length) fail(name, `${where}: the entry (${FIXED + extraLen + idLen + nameLen} bytes) ends past the end of the ${table.length < MAX_SNAPSHOT_TABLE_BYTES ? `file (${fileSize} bytes)` : `table size limit (${MAX_SNAPSHOT_TABLE_BYTES} bytes)`}`);
    const extra = table.slice(at + FIXED, at + FIXED + extraLen);
    const ev = new DataView(extra.buffer);
    let vmStateSize = vmState32;
    if (extraLen >= 8) {
      const big = ev.getBigUint64(0);
      if (big > BigInt(Number.MAX_SAFE_INTEGER)) fail(name, `${where}: vm_state_size_large is ${big}, beyond 2^53`);
      vmStateSize = Number(big);
    }
    let diskSize = h.size;
    if (extraLen >= 16) {
      const big = ev.getBigUint64(8);
      if (big > BigInt(Number.MAX_SAFE_INTEGER)) fail(name, `${where}: disk_size is ${big}, beyond 2^53`);
      diskSize = Number(big);
    }
    const icount = extraLen >= 24 ? ev.getBigUint64(16) : -1n;
    const idAt = at + FIXED + extraLen;
    let id: string;
    let label: string;
    try {
      id = utf8.decode(table.subarray(idAt, idAt + idLen));
      label = utf8.decode(table.subarray(idAt + idLen, idAt + idLen + nameLen));
    } catch {
      fail(name, `${where}: the ID or name is not valid UTF-8`);
    }
    if (id.length === 0) fail(name, `${where}: the ID string is empty`);
    // The snapshot's L1 table (QEMU's "Snapshot L1 table" validation).
    if (l1Size * 8 > MAX_L1_BYTES) fail(name, `${where} ("${label}"): l1_size is ${l1Size} entries (${l1Size * 8} bytes), beyond the 32 MiB limit`);
    const l2Covers = (cs / (h.extendedL2 ? 16 : 8)) * cs;
    const needed = Math.ceil(diskSize / l2Covers);
    if (needed * 8 > MAX_L1_BYTES) fail(name, `${where} ("${label}"): disk_size ${diskSize} needs more than the 32 MiB L1 limit`);
    if (l1Size < needed) fail(name, `${where} ("${label}"): l1_size is ${l1Size} entries, too small for its disk size ${diskSize} (needs ${needed})`);
    if (l1Size > 0) {
      if (l1TableOffset === 0 || l1TableOffset % cs !== 0) fail(name, `${where} ("${label}"): l1_table_offset 0x${l1TableOffset.toString(16)} is not a cluster-aligned offset (cluster size ${cs})`);
      if (l1TableOffset + l1Size * 8 > fileSize) {
        fail(name, `${where} ("${label}"): its L1 table (0x${l1TableOffset.toString(16)}, ${l1Size} entries) ends past the end of the file (${fileSize} bytes)`);
      }
    }
    snapshots.push({ l1TableOffset, l1Size, id, name: label, dateSec, dateNsec, vmClockNsec, vmStateSize, diskSize, icount, extra });
    at += len;
  }
  return { snapshots, bytes: at };
}

/**
 * Reads and parses the snapshot table of `file` (header `h`, already validated: nb_snapshots
 * within the limit, snapshots_offset aligned and inside the file).
 */
export async function readSnapshotTable(file: ImageFile, h: Qcow2Header, fileSize: number): Promise<{ snapshots: Qcow2Snapshot[]; bytes: number }> {
  if (h.nbSnapshots === 0) return { snapshots: [], bytes: 0 };
  // The table cannot be longer than the limit nor than 8 KiB… per entry; read what can be there.
  const want = Math.min(MAX_SNAPSHOT_TABLE_BYTES, h.nbSnapshots * entryBytes(0xffff, 0xffff, MAX_SNAPSHOT_EXTRA_DATA), Math.max(0, fileSize - h.snapshotsOffset));
  const bytes = new Uint8Array(want);
  const n = await file.pread(bytes, h.snapshotsOffset);
  return parseSnapshotTable(file.name, h, bytes.subarray(0, n), fileSize);
}

/** Serialises `snapshots` as a table (entries keep their extra data, at least the 24 bytes we write). */
export function serializeSnapshotTable(snapshots: readonly Qcow2Snapshot[]): Uint8Array {
  const enc = new TextEncoder();
  const parts = snapshots.map((s) => ({ s, id: enc.encode(s.id), name: enc.encode(s.name) }));
  let total = 0;
  for (const p of parts) total += entryBytes(p.id.length, p.name.length, Math.max(OUR_EXTRA, p.s.extra.length));
  if (total > MAX_SNAPSHOT_TABLE_BYTES) throw new TypervisorError(`the snapshot table would be ${total} bytes, beyond QEMU's limit of ${MAX_SNAPSHOT_TABLE_BYTES}`, { hint: 'delete snapshots or use shorter names' });
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let at = 0;
  for (const { s, id, name } of parts) {
    if (id.length > 0xffff || name.length > 0xffff) throw new TypervisorError(`snapshot name or ID "${s.name}" is longer than 65535 bytes`);
    const extraLen = Math.max(OUR_EXTRA, s.extra.length);
    view.setUint32(at, Math.floor(s.l1TableOffset / TWO_32));
    view.setUint32(at + 4, s.l1TableOffset >>> 0);
    view.setUint32(at + 8, s.l1Size);
    view.setUint16(at + 12, id.length);
    view.setUint16(at + 14, name.length);
    view.setUint32(at + 16, s.dateSec);
    view.setUint32(at + 20, s.dateNsec);
    view.setBigUint64(at + 24, s.vmClockNsec);
    // vm_state_size: the low 32 bits stay meaningful for readers without the extra data.
    view.setUint32(at + 32, s.vmStateSize > 0xffffffff ? 0xffffffff : s.vmStateSize);
    view.setUint32(at + 36, extraLen);
    const e = at + FIXED;
    out.set(s.extra, e);
    view.setBigUint64(e, BigInt(s.vmStateSize));
    view.setBigUint64(e + 8, BigInt(s.diskSize));
    view.setBigUint64(e + 16, s.icount < 0n ? 0xffffffffffffffffn : s.icount);
    out.set(id, e + extraLen);
    out.set(name, e + extraLen + id.length);
    at += entryBytes(id.length, name.length, extraLen);
  }
  return out;
}

/** The snapshot with ID `key`, or else the first one named `key` (QEMU's lookup order), or undefined. */
export function findSnapshot(snapshots: readonly Qcow2Snapshot[], key: string): number | undefined {
  const byId = snapshots.findIndex((s) => s.id === key);
  if (byId >= 0) return byId;
  const byName = snapshots.findIndex((s) => s.name === key);
  return byName >= 0 ? byName : undefined;
}
