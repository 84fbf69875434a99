// Consistency check of a qcow2 image, as `qemu-img check` does it: every cluster's refcount is
// compared with the number of references the metadata holds (header, L1/L2 tables, data
// clusters, refcount table and blocks, snapshot table and snapshots' tables). Spec: QEMU
// docs/interop/qcow2.txt; counting rules from QEMU block/qcow2-refcount.c (qcow2_check_refcounts).
import type { ImageFile } from '../image-file.js';
import { parseQcow2Header, HEADER_PROBE_BYTES, peekClusterBits, type Qcow2Header } from './qcow2-header.js';

/** What a check found; field meanings as qemu-img's `ImageCheck`. */
export interface Qcow2CheckResult {
  corruptions: number;
  leaks: number;
  checkErrors: number;
  corruptionsFixed: number;
  leaksFixed: number;
  /** Guest clusters of the virtual disk, and how many are allocated, fragmented, compressed. */
  totalClusters: number;
  allocatedClusters: number;
  fragmentedClusters: number;
  compressedClusters: number;
  /** End of the last cluster that is referenced or has a refcount. */
  imageEndOffset: number;
  /** One line per problem, in qemu-img's words ("Leaked cluster 5 refcount=1 reference=0"). */
  messages: string[];
}

export interface Qcow2CheckOptions {
  /** Repair leaked clusters ('leaks'), or refcounts in both directions ('all'). */
  repair?: 'leaks' | 'all';
}

const TWO_32 = 0x1_0000_0000;
const hex = (n: number) => `0x${n.toString(16)}`;

async function readAt(file: ImageFile, length: number, offset: number): Promise<Uint8Array> {
  const b = new Uint8Array(length);
  await file.pread(b, offset);
  return b;
}

/**
 * Checks the qcow2 image in `file` (opened writable when repairing). A header that does not
 * parse throws a `TypervisorError` (qemu-img: the check could not be completed); everything
 * else is counted and described in the result. With `repair`, refcounts are rewritten and the
 * image is checked again; the result is the second check's, with the `*Fixed` counts set.
 */
export async function checkQcow2(file: ImageFile, options: Qcow2CheckOptions = {}): Promise<Qcow2CheckResult> {
  const first = await scan(file, options.repair);
  if (options.repair === undefined || first.fixes.length === 0) return first.result;
  for (const fix of first.fixes) await fix();
  await file.flush();
  const second = await scan(file, undefined);
  second.result.leaksFixed = first.result.leaks - second.result.leaks;
  second.result.corruptionsFixed = first.result.corruptions - second.result.corruptions;
  second.result.messages = [...first.result.messages, ...second.result.messages];
  return second.result;
}

async function scan(file: ImageFile, repair: 'leaks' | 'all' | undefined): Promise<{ result: Qcow2CheckResult; fixes: (() => Promise<void>)[] }> {
  const name = file.name;
  const fileSize = await file.size();
  const probe = await readAt(file, Math.min(HEADER_PROBE_BYTES, fileSize), 0);
  const bits = peekClusterBits(name, probe);
  const h: Qcow2Header = parseQcow2Header(name, await readAt(file, Math.min(2 ** bits, fileSize), 0), fileSize);
  const cs = h.clusterSize;
  const fileClusters = Math.ceil(fileSize / cs);
  const refs = new Map<number, number>();
  const res: Qcow2CheckResult = {
    corruptions: 0, leaks: 0, checkErrors: 0, corruptionsFixed: 0, leaksFixed: 0,
    totalClusters: Math.ceil(h.size / cs), allocatedClusters: 0, fragmentedClusters: 0, compressedClusters: 0,
    imageEndOffset: 0, messages: [],
  };
  const error = (msg: string) => {
    res.corruptions++;
    res.messages.push(`ERROR ${msg}`);
  };
  /** Counts a reference to every cluster in [offset, offset + length). False if it lies past the file. */
  const inc = (offset: number, length: number, what: string, times = 1): boolean => {
    if (length <= 0) return true;
    const firstC = Math.floor(offset / cs);
    const lastC = Math.floor((offset + length - 1) / cs);
    if (lastC >= fileClusters) {
      error(`${what} at ${hex(offset)} lies past the end of the image file (${fileSize} bytes)`);
      return false;
    }
    for (let c = firstC; c <= lastC; c++) refs.set(c, (refs.get(c) ?? 0) + times);
    return true;
  };
  const entryBytes = h.extendedL2 ? 16 : 8;
  const l2Entries = cs / entryBytes;
  /** Entries whose COPIED flag must agree with the final refcount (active tables only). */
  const copiedChecks: { host: number; copied: boolean; what: string; entryAt: number; hi: number }[] = [];

  const walkL1 = async (l1Offset: number, l1Size: number, active: boolean, label: string, times1 = 1) => {
    if (!inc(l1Offset, l1Size * 8, `${label} L1 table`, times1)) return;
    const l1 = new DataView((await readAt(file, l1Size * 8, l1Offset)).buffer);
    // An L2 table that several L1 entries name (corrupt, or hostile) is read and counted once,
    // with its references multiplied, so the scan stays linear in the file's size.
    const tables = new Map<number, number>();
    for (let i = 0; i < l1Size; i++) {
      const hi = l1.getUint32(i * 8);
      const lo = l1.getUint32(i * 8 + 4);
      const l2 = (hi & 0x00ffffff) * TWO_32 + ((lo & 0xfffffe00) >>> 0);
      // Reserved bits 0-8 and 56-62: reported, and the entry used as QEMU does.
      if ((lo & 0x1ff) !== 0 || (hi & 0x7f000000) !== 0) error(`found L1 entry with reserved bits set: ${(hi * TWO_32 + (lo >>> 0)).toString(16)}`);
      if (l2 === 0) continue;
      if (l2 % cs !== 0) {
        error(`${label} L1 entry ${i}: L2 table offset ${hex(l2)} is not cluster aligned`);
        continue;
      }
      if (!inc(l2, cs, `${label} L2 table (L1 entry ${i})`, times1)) continue;
      if (active) copiedChecks.push({ host: l2, copied: hi >>> 31 !== 0, what: `L2 cluster l1_index=${i} l1_entry=${hex(hi * TWO_32 + (lo >>> 0))}`, entryAt: l1Offset + i * 8, hi });
      tables.set(l2, (tables.get(l2) ?? 0) + times1);
    }
    for (const [l2, times] of tables) {
      const t = new DataView((await readAt(file, cs, l2)).buffer);
      let nextContiguous = 0; // per L2 table, as QEMU counts fragmentation
      for (let j = 0; j < l2Entries; j++) {
        const ehi = t.getUint32(j * entryBytes);
        const elo = t.getUint32(j * entryBytes + 4);
        const where = `${label} L2 entry ${j} of the table at ${hex(l2)}`;
        if ((ehi >>> 30) & 1) {
          const v = ((BigInt(ehi) << 32n) | BigInt(elo)) & ((1n << 62n) - 1n);
          const x = BigInt(62 - (h.clusterBits - 8));
          const host = Number(v & ((1n << x) - 1n));
          const sectors = Number(v >> x) + 1;
          if (ehi >>> 31) error(`${where}: compressed cluster with the COPIED flag set`);
          const start = host - (host % 512);
          inc(start, sectors * 512, `${where}: compressed cluster`, times);
          if (active) {
            res.allocatedClusters += times;
            res.compressedClusters += times;
            res.fragmentedClusters += times;
          }
          continue;
        }
        const host = (ehi & 0x00ffffff) * TWO_32 + ((elo & 0xfffffe00) >>> 0);
        // Reserved bits 1-8 and 56-61 (bit 0 too in v2 and with extended L2 entries).
        const reservedLo = h.version === 2 || h.extendedL2 ? 0x1ff : 0x1fe;
        if ((elo & reservedLo) !== 0 || (ehi & 0x3f000000) !== 0) error(`found l2 entry with reserved bits set: ${(ehi * TWO_32 + (elo >>> 0)).toString(16)}`);
        if (host === 0) continue;
        if (host % cs !== 0) {
          error(`${where}: data cluster offset ${hex(host)} is not cluster aligned`);
          continue;
        }
        if (!inc(host, cs, `${where}: data cluster`, times)) continue;
        if (active) {
          copiedChecks.push({ host, copied: ehi >>> 31 !== 0, what: `data cluster l2_entry=${hex(ehi * TWO_32 + (elo >>> 0))}`, entryAt: l2 + j * entryBytes, hi: ehi });
          res.allocatedClusters += times;
          if (nextContiguous !== 0 && host !== nextContiguous) res.fragmentedClusters += times;
          nextContiguous = host + cs;
        }
      }
    }
  };

  inc(0, cs, 'the header');
  await walkL1(h.l1TableOffset, h.l1Size, true, 'active');

  // Snapshot table (qcow2.txt "== Snapshots =="): fixed 40 bytes, extra data, id, name, padded to 8.
  if (h.nbSnapshots > 0) {
    let at = h.snapshotsOffset;
    // Snapshots naming the same L1 table are walked once (a hostile table could name one big
    // table 65536 times).
    const l1s = new Map<string, { off: number; size: number; times: number; s: number }>();
    for (let s = 0; s < h.nbSnapshots; s++) {
      const e = new DataView((await readAt(file, 40, at)).buffer);
      const l1Off = e.getUint32(0) * TWO_32 + e.getUint32(4);
      const l1Size = e.getUint32(8);
      const len = 40 + e.getUint32(36) + e.getUint16(12) + e.getUint16(14);
      if (l1Off % cs !== 0 || l1Size * 8 > 32 * 1024 * 1024) error(`snapshot ${s}: L1 table at ${hex(l1Off)} (${l1Size} entries) is invalid`);
      else {
        const key = `${l1Off}:${l1Size}`;
        const seen = l1s.get(key);
        if (seen) seen.times++;
        else l1s.set(key, { off: l1Off, size: l1Size, times: 1, s });
      }
      at += Math.ceil(len / 8) * 8;
    }
    for (const t of l1s.values()) await walkL1(t.off, t.size, false, `snapshot ${t.s}`, t.times);
    inc(h.snapshotsOffset, at - h.snapshotsOffset, 'the snapshot table');
  }

  // The refcount table and blocks.
  const rtBytes = h.refcountTableClusters * cs;
  inc(h.refcountTableOffset, rtBytes, 'the refcount table');
  const rt = new DataView((await readAt(file, rtBytes, h.refcountTableOffset)).buffer);
  const refBits = 2 ** h.refcountOrder;
  const perBlock = (cs * 8) / refBits;
  const blockOffsets: number[] = [];
  /** Table entries naming no valid block: the refcounts they cover cannot be read (qemu-img: check errors). */
  const unreadable = new Set<number>();
  for (let i = 0; i < rtBytes / 8; i++) {
    const lo = rt.getUint32(i * 8 + 4);
    // Bits 0-8 are reserved: reported, then ignored as QEMU does.
    if ((lo & 0x1ff) !== 0) error(`refcount table entry ${i} has reserved bits set`);
    const off = rt.getUint32(i * 8) * TWO_32 + ((lo & ~0x1ff) >>> 0);
    blockOffsets.push(0);
    if (off === 0) continue;
    if (off % cs !== 0) {
      error(`refcount block ${i} is not cluster aligned (${hex(off)})`);
      unreadable.add(i);
      continue;
    }
    if (inc(off, cs, `refcount block ${i}`)) blockOffsets[i] = off;
    // QEMU reads a block past the end of the file as zeros, unless the offset is beyond what a
    // block request may address (2^63 - 2^30): then its refcounts cannot be read.
    else if ((BigInt(rt.getUint32(i * 8)) << 32n) + BigInt((lo & ~0x1ff) >>> 0) + BigInt(cs) > (1n << 63n) - (1n << 30n)) unreadable.add(i);
  }
  const blocks = new Map<number, Uint8Array>();
  for (const off of new Set(blockOffsets)) if (off !== 0) blocks.set(off, await readAt(file, cs, off));
  const getRef = (c: number): number => {
    const off = blockOffsets[Math.floor(c / perBlock)] ?? 0;
    if (off === 0) return 0;
    const b = blocks.get(off)!;
    const k = c % perBlock;
    if (refBits < 8) {
      const pos = k * refBits;
      return (b[pos >> 3] >> (pos & 7)) & ((1 << refBits) - 1);
    }
    let v = 0;
    for (let i = 0; i < refBits / 8; i++) v = v * 256 + b[(k * refBits) / 8 + i];
    return v;
  };
  const fixes: (() => Promise<void>)[] = [];
  /** Refcounts as they will be after this scan's repairs. */
  const repaired = new Map<number, number>();
  const setRef = (c: number, value: number) => {
    const off = blockOffsets[Math.floor(c / perBlock)];
    const b = blocks.get(off)!;
    const k = c % perBlock;
    let from: number;
    let to: number;
    if (refBits < 8) {
      const pos = k * refBits;
      const mask = ((1 << refBits) - 1) << (pos & 7);
      b[pos >> 3] = (b[pos >> 3] & ~mask) | ((value << (pos & 7)) & mask);
      from = pos >> 3;
      to = from + 1;
    } else {
      const n = refBits / 8;
      let v = value;
      for (let i = n - 1; i >= 0; i--) {
        b[k * n + i] = v % 256;
        v = Math.floor(v / 256);
      }
      from = k * n;
      to = from + n;
    }
    fixes.push(() => file.pwrite(b.slice(from, to), off + from));
  };

  const maxRef = refBits >= 53 ? Number.MAX_SAFE_INTEGER : 2 ** refBits - 1;
  const covered = blockOffsets.length * perBlock;
  let highest = 0; // as QEMU: the image ends after cluster 0 at least
  // Only the file's clusters, as QEMU: a refcount past the end of the file (a writer that died
  // between raising it and writing the cluster) is neither a leak nor an error until the file grows.
  for (let c = 0; c < fileClusters; c++) {
    if (unreadable.has(Math.floor(c / perBlock))) {
      res.checkErrors++;
      res.messages.push(`Can't get refcount for cluster ${c}: Input/output error`);
      continue;
    }
    const refcount = c < covered ? getRef(c) : 0;
    const reference = refs.get(c) ?? 0;
    if (refcount > 0 || reference > 0) highest = c;
    if (refcount === reference) continue;
    const canFix = (blockOffsets[Math.floor(c / perBlock)] ?? 0) !== 0 && reference <= maxRef;
    if (refcount > reference) {
      res.leaks++;
      const fix = canFix && repair !== undefined;
      res.messages.push(`${fix ? 'Repairing' : 'Leaked'} cluster ${c} refcount=${refcount} reference=${reference}`);
      if (fix) {
        setRef(c, reference);
        repaired.set(c, reference);
      }
    } else {
      res.corruptions++;
      const fix = canFix && repair === 'all';
      res.messages.push(`${fix ? 'Repairing' : 'ERROR'} cluster ${c} refcount=${refcount} reference=${reference}`);
      if (fix) {
        setRef(c, reference);
        repaired.set(c, reference);
      }
    }
  }
  // The COPIED flag (bit 63) says "refcount is exactly one"; -r all rewrites the flag to match
  // the (repaired) refcount, as qemu-img does.
  // QEMU stops this pass at the first refcount it cannot read; we skip it then.
  const copiedReadable = copiedChecks.every(({ host }) => !unreadable.has(Math.floor(host / cs / perBlock)));
  for (const { host, copied, what, entryAt, hi } of copiedReadable ? copiedChecks : []) {
    const c = host / cs;
    const refcount = repaired.get(c) ?? (c < covered ? getRef(c) : 0);
    if ((refcount === 1) === copied) continue;
    if (repair === 'all' && refcount !== 0) {
      res.corruptions++;
      res.messages.push(`Repairing OFLAG_COPIED ${what} refcount=${refcount}`);
      const word = new Uint8Array(4);
      new DataView(word.buffer).setUint32(0, refcount === 1 ? (hi | 0x80000000) >>> 0 : hi & 0x7fffffff);
      fixes.push(() => file.pwrite(word, entryAt));
    } else error(`OFLAG_COPIED ${what} refcount=${refcount}`);
  }
  res.imageEndOffset = (highest + 1) * cs;
  return { result: res, fixes };
}

/** qemu-img check's exit status for a result: 1 check errors, 2 corruptions, 3 leaks only, 0 clean. */
export function checkExitStatus(r: Qcow2CheckResult): 0 | 1 | 2 | 3 {
  if (r.checkErrors > 0) return 1;
  if (r.corruptions > 0) return 2;
  if (r.leaks > 0) return 3;
  return 0;
}
