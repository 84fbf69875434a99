// Reading qcow2 images (versions 2 and 3). Spec: QEMU docs/interop/qcow2.txt.
import { inflateSync } from 'fflate';
import { TypervisorError } from '../../core/errors.js';
import { type BlockBackend, type BlockStatus, checkRange } from '../block-backend.js';
import type { ImageFile } from '../image-file.js';
import { AsyncMutex } from '../async-mutex.js';
import { TableCache } from './l2-cache.js';
import { HEADER_PROBE_BYTES, INCOMPAT_CORRUPT, INCOMPAT_DIRTY, type Qcow2Header, parseQcow2Header, peekClusterBits } from './qcow2-header.js';
import { Qcow2Refcounts } from './qcow2-refcounts.js';
import { type Qcow2Snapshot, readSnapshotTable } from './qcow2-snapshot-table.js';

/** Opens a backing file named in an image: `name` as recorded, `format` from the backing format extension (undefined: probe). */
export type OpenBacking = (name: string, format: string | undefined) => Promise<BlockBackend>;

export interface Qcow2OpenOptions {
  /** Open for reading only (default true). */
  readOnly?: boolean;
  /**
   * Opens the backing file. Loops and depth are the resolver's to limit — `openImage` does it;
   * an image with a backing file and no resolver is refused.
   */
  openBacking?: OpenBacking;
  /** Bytes of L2 tables to keep in memory (default 4 MiB; at least one table is kept). */
  l2CacheBytes?: number;
}

/** Where a guest cluster's bytes come from. */
type Mapping =
  | { readonly kind: 'unallocated' }
  /** `host`: a preallocated zero cluster's place (0: none). */
  | { readonly kind: 'zero'; readonly host?: number }
  | { readonly kind: 'data'; readonly host: number }
  | { readonly kind: 'compressed'; readonly host: number; readonly length: number }
  /** A standard cluster with extended L2 entries: per-subcluster allocation and zero bitmaps. */
  | { readonly kind: 'subclusters'; readonly host: number; readonly alloc: number; readonly zero: number };

const UNALLOCATED: Mapping = { kind: 'unallocated' };
const ZERO: Mapping = { kind: 'zero' };
const TWO_32 = 0x1_0000_0000;

interface Region {
  readonly what: string;
  readonly start: number;
  readonly end: number;
}

/**
 * A qcow2 image as a {@link BlockBackend}. Everything read from the file is validated before
 * use: a malformed header or L1 table fails `open`, a malformed L2 entry or compressed cluster
 * fails the request that reaches it, always with a `TypervisorError` naming the field, its value
 * and where it is.
 *
 * Writing (images without extended L2 entries) allocates clusters on first write and keeps
 * refcounts exact, writing every metadata change through at once in a safe order (see
 * qcow2-refcounts.ts and `writeCluster`): a process killed at any moment leaves an image that
 * `qemu-img check` finds clean or with leaked clusters only. Requests on a writable image run
 * one at a time. `discard` frees whole clusters; the refcount table grows when full. Clusters
 * and L2 tables shared with internal snapshots (refcount above 1) are copied before they are
 * written (qcow2-snapshots.ts takes and applies snapshots). Not yet: writing images with
 * extended L2 entries.
 */
export class Qcow2Image implements BlockBackend {
  readonly capacity: number;
  readonly readOnly: boolean;
  private readonly clusterSize: number;
  private readonly l2Entries: number;
  private readonly entryBytes: number;
  private readonly subclusterSize: number;
  private readonly l2Cache: TableCache<DataView>;
  /** The last few inflated compressed clusters (a guest reads a cluster in several requests). */
  private readonly inflated: TableCache<Uint8Array>;
  private readonly metadata: Region[];
  private closed = false;
  /** Serialises requests on a writable image (allocation must not interleave). */
  private readonly mutex: AsyncMutex | undefined;
  /** Present when writable. */
  private refcounts: Qcow2Refcounts | undefined;
  /** Every L2 table the active L1 table points at or pointed at (guest data never goes there). */
  private readonly l2Tables = new Set<number>();
  /** Where the next compressed cluster goes (0: start a new host cluster) and the end of that host cluster. */
  private packNext = 0;
  private packEnd = 0;
  /** The internal snapshots (qcow2-snapshots.ts changes them; an open image only reads the list). */
  snapshots: readonly Qcow2Snapshot[] = [];
  /** Guest clusters looked up so far, by how they map (for tests, and `img map` later). */
  readonly lookups: Record<Mapping['kind'], number> = { unallocated: 0, zero: 0, data: 0, compressed: 0, subclusters: 0 };

  private constructor(
    private readonly file: ImageFile,
    /** The image's header as it is now (the refcount table moves when it grows). */
    public header: Qcow2Header,
    private fileSize: number,
    /** Host offsets of the L2 tables, one per L1 entry (0: unallocated). */
    private readonly l2Offsets: Float64Array,
    /** Bit 63 of each L1 entry: the L2 table's refcount is exactly one (it may be written in place). */
    private readonly l1Copied: Uint8Array,
    /** The opened backing image, if the image has one. */
    readonly backing: BlockBackend | undefined,
    l2CacheBytes: number,
    readOnly: boolean,
  ) {
    this.readOnly = readOnly;
    this.mutex = readOnly ? undefined : new AsyncMutex();
    this.capacity = header.size;
    this.clusterSize = header.clusterSize;
    this.entryBytes = header.extendedL2 ? 16 : 8;
    this.l2Entries = header.clusterSize / this.entryBytes;
    this.subclusterSize = header.clusterSize / 32;
    this.l2Cache = new TableCache(l2CacheBytes);
    this.inflated = new TableCache(4 * header.clusterSize);
    this.metadata = [{ what: 'the header cluster', start: 0, end: header.clusterSize }];
    if (header.l1Size > 0) this.metadata.push({ what: 'the L1 table', start: header.l1TableOffset, end: header.l1TableOffset + header.l1Size * 8 });
    this.metadata.push({
      what: 'the refcount table',
      start: header.refcountTableOffset,
      end: header.refcountTableOffset + header.refcountTableClusters * header.clusterSize,
    });
  }

  /** Opens `file` as a qcow2 image (and its backing chain through `options.openBacking`). */
  static async open(file: ImageFile, options: Qcow2OpenOptions = {}): Promise<Qcow2Image> {
    const name = file.name;
    const readOnly = options.readOnly ?? true;
    if (!readOnly && !file.writable) throw new TypervisorError(`${name}: cannot open a read-only file for writing`);
    const fileSize = await file.size();
    const probe = new Uint8Array(Math.min(HEADER_PROBE_BYTES, fileSize));
    await readFully(file, probe, 0);
    const clusterBits = peekClusterBits(name, probe);
    const cluster0 = new Uint8Array(Math.min(2 ** clusterBits, fileSize));
    await readFully(file, cluster0, 0);
    const header = parseQcow2Header(name, cluster0, fileSize);
    if (!readOnly) refuseWriting(name, header);

    // "== Cluster mapping ==": L1 entries — bits 9-55 the L2 table's offset, 63 the COPIED flag,
    // bits 0-8 and 56-62 reserved. Every entry is checked here, once.
    const l1 = new Uint8Array(header.l1Size * 8);
    await readFully(file, l1, header.l1TableOffset);
    const view = new DataView(l1.buffer);
    const l2Offsets = new Float64Array(header.l1Size);
    const l1Copied = new Uint8Array(header.l1Size);
    const cs = header.clusterSize;
    const l1End = header.l1TableOffset + header.l1Size * 8;
    const rtStart = header.refcountTableOffset;
    const rtEnd = rtStart + header.refcountTableClusters * cs;
    for (let i = 0; i < header.l1Size; i++) {
      const hi = view.getUint32(i * 8);
      const lo = view.getUint32(i * 8 + 4);
      const where = `L1 entry ${i} (0x${hex64(hi, lo)})`;
      if ((lo & 0x1ff) !== 0 || (hi & 0x7f000000) !== 0) throw corrupt(name, `${where} has reserved bits set`);
      const off = (hi & 0xffffff) * TWO_32 + (lo >>> 0);
      if (off === 0) continue;
      if (off % cs !== 0) throw corrupt(name, `${where}: L2 table offset 0x${off.toString(16)} is not aligned to the cluster size (${cs})`);
      if (off + cs > fileSize) throw corrupt(name, `${where}: L2 table at 0x${off.toString(16)} lies past the end of the file (${fileSize} bytes)`);
      if (off < l1End && header.l1TableOffset < off + cs) throw corrupt(name, `${where}: L2 table at 0x${off.toString(16)} overlaps the L1 table`);
      if (off < rtEnd && rtStart < off + cs) throw corrupt(name, `${where}: L2 table at 0x${off.toString(16)} overlaps the refcount table`);
      l2Offsets[i] = off;
      l1Copied[i] = hi >>> 31;
    }

    // The snapshot table ("== Snapshots =="), validated here so a malformed one fails open as in
    // QEMU; guest data must never land on it.
    const snapshotTable = await readSnapshotTable(file, header, fileSize);

    let backing: BlockBackend | undefined;
    if (header.backingFile !== undefined) {
      if (options.openBacking === undefined) {
        throw new TypervisorError(`${name}: the image has a backing file (${header.backingFile}) and no way to open it was given`);
      }
      backing = await options.openBacking(header.backingFile, header.backingFormat);
    }
    try {
      const image = new Qcow2Image(file, header, fileSize, l2Offsets, l1Copied, backing, Math.max(0, options.l2CacheBytes ?? 4 * 1024 * 1024), readOnly);
      image.snapshots = snapshotTable.snapshots;
      if (snapshotTable.bytes > 0) image.metadata.push({ what: 'the snapshot table', start: header.snapshotsOffset, end: header.snapshotsOffset + snapshotTable.bytes });
      if (!readOnly) await image.prepareWriting();
      return image;
    } catch (e) {
      await backing?.close().catch(() => undefined);
      throw e;
    }
  }

  async read(offset: number, dst: Uint8Array): Promise<void> {
    this.check('read', offset, dst.length);
    if (this.mutex === undefined) return this.readGuest(offset, dst);
    return this.mutex.run(() => this.readGuest(offset, dst));
  }

  private async readGuest(offset: number, dst: Uint8Array): Promise<void> {
    const cs = this.clusterSize;
    // Consecutive pieces from contiguous host bytes (or the backing file, or zeros) are merged
    // into one request.
    let run: { kind: 'data' | 'backing' | 'zero'; src: number; at: number; len: number } | undefined;
    const flushRun = async (): Promise<void> => {
      if (run === undefined) return;
      const { kind, src, at, len } = run;
      run = undefined;
      const part = dst.subarray(at, at + len);
      if (kind === 'zero') part.fill(0);
      else if (kind === 'data') {
        const n = await this.file.pread(part, src);
        if (n < len) part.fill(0, n); // a cluster cut short by the end of the file reads as zeros
      } else await this.readBacking(src, part);
    };
    let done = 0;
    while (done < dst.length) {
      const pos = offset + done;
      const cluster = Math.floor(pos / cs);
      const inCluster = pos - cluster * cs;
      let n = Math.min(dst.length - done, cs - inCluster);
      const m = await this.lookup(cluster, pos);
      this.lookups[m.kind]++;
      let kind: 'data' | 'backing' | 'zero';
      let src = 0;
      switch (m.kind) {
        case 'unallocated':
          kind = 'backing';
          src = pos;
          break;
        case 'zero':
          kind = 'zero';
          break;
        case 'data':
          kind = 'data';
          src = m.host + inCluster;
          break;
        case 'compressed': {
          await flushRun();
          const bytes = await this.inflate(m.host, m.length, pos);
          dst.set(bytes.subarray(inCluster, inCluster + n), done);
          done += n;
          continue;
        }
        case 'subclusters': {
          // "== Extended L2 Entries ==": bit x of the allocation bitmap, bit 32+x reads as zeros.
          const sub = Math.floor(inCluster / this.subclusterSize);
          n = Math.min(n, (sub + 1) * this.subclusterSize - inCluster);
          if ((m.alloc >>> sub) & 1) {
            kind = 'data';
            src = m.host + inCluster;
          } else if ((m.zero >>> sub) & 1) kind = 'zero';
          else {
            kind = 'backing';
            src = pos;
          }
          break;
        }
      }
      if (run !== undefined && run.kind === kind && run.at + run.len === done && (kind === 'zero' || run.src + run.len === src)) {
        run.len += n;
      } else {
        await flushRun();
        run = { kind, src, at: done, len: n };
      }
      done += n;
    }
    await flushRun();
  }

  async write(offset: number, src: Uint8Array): Promise<void> {
    this.check('write', offset, src.length);
    if (this.readOnly || this.mutex === undefined) throw new TypervisorError(`${this.file.name}: write refused: the disk is read-only`);
    return this.mutex.run(async () => {
      if (this.closed) throw new TypervisorError(`${this.file.name}: write after close`);
      const cs = this.clusterSize;
      for (let done = 0; done < src.length; ) {
        const pos = offset + done;
        const cluster = Math.floor(pos / cs);
        const inCluster = pos - cluster * cs;
        const n = Math.min(src.length - done, cs - inCluster);
        await this.writeCluster(cluster, inCluster, src.subarray(done, done + n));
        done += n;
      }
    });
  }

  async flush(): Promise<void> {
    if (this.closed) throw new TypervisorError(`${this.file.name}: flush after close`);
    if (this.mutex !== undefined) await this.mutex.run(() => this.file.flush());
  }

  /** Loads the refcounts and clears autoclear features we do not maintain (qcow2.txt, autoclear_features). */
  private async prepareWriting(): Promise<void> {
    this.refcounts = await Qcow2Refcounts.load(this.file, this.header, this.fileSize, (end) => this.grew(end), () => this.fileSize);
    this.refcounts.onTableMoved = (offset, clusters) => {
      const i = this.metadata.findIndex((r) => r.what === 'the refcount table');
      this.metadata[i] = { what: 'the refcount table', start: offset, end: offset + clusters * this.clusterSize };
      this.header = { ...this.header, refcountTableOffset: offset, refcountTableClusters: clusters };
    };
    for (const off of this.l2Offsets) if (off !== 0) this.l2Tables.add(off);
    if (this.header.autoclearFeatures !== 0n) {
      // "An implementation may only write to an image with unknown auto-clear features if it
      // clears the respective bits from this field first." We keep no bitmaps, so all go.
      await this.file.pwrite(new Uint8Array(8), 88);
    }
  }

  private grew(end: number): void {
    if (end > this.fileSize) this.fileSize = end;
  }

  /**
   * Writes `data` at `inCluster` of guest cluster `cluster`. In place when the cluster is a
   * standard one with refcount 1 (COPIED); otherwise a new cluster is allocated (refcount
   * written first), filled with the old contents around `data` and written, then the L2 entry
   * points at it, and only then is the old cluster's refcount dropped.
   */
  private async writeCluster(cluster: number, inCluster: number, data: Uint8Array): Promise<void> {
    const cs = this.clusterSize;
    const refcounts = this.refcounts!;
    const l1Index = Math.floor(cluster / this.l2Entries);
    const l2Index = cluster - l1Index * this.l2Entries;
    const l2Offset = await this.writableL2(l1Index);
    const table = await this.l2Table(l2Offset);
    const at = l2Index * 8;
    const hi = table.getUint32(at);
    const lo = table.getUint32(at + 4);
    const m = this.decode(hi, lo, table, at, `L2 entry ${l2Index} of the table at 0x${l2Offset.toString(16)} (guest offset ${cluster * cs + inCluster})`);
    const copied = hi >>> 31 !== 0;
    const oldHost = m.kind === 'zero' || m.kind === 'unallocated' ? (hi & 0xffffff) * TWO_32 + ((lo & 0xfffffe00) >>> 0) : m.kind === 'data' ? m.host : 0;
    // COPIED promises refcount 1; a hostile or stale flag must not let a write reach a cluster a
    // snapshot shares, so the refcount itself decides (its block is cached).
    if (m.kind === 'data' && copied && (await refcounts.get(m.host)) === 1) {
      this.checkNotTable(m.host, 'data cluster');
      await this.file.pwrite(data, m.host + inCluster);
      this.grew(m.host + inCluster + data.length);
      return;
    }
    // The whole new cluster: the old contents (backing file, zeros, compressed, shared) around `data`.
    const full = new Uint8Array(cs);
    if (data.length < cs) {
      const valid = Math.min(cs, this.capacity - cluster * cs);
      await this.readGuest(cluster * cs, full.subarray(0, valid));
    }
    full.set(data, inCluster);
    // A preallocated zero cluster of our own (zero flag, COPIED) is reused in place.
    const reuse = m.kind === 'zero' && copied && oldHost !== 0 && (await refcounts.get(oldHost)) === 1;
    const host = reuse ? oldHost : await refcounts.allocate();
    this.checkNotTable(host, reuse ? 'preallocated zero cluster' : 'free cluster');
    await this.file.pwrite(full, host);
    this.grew(host + cs);
    await this.setL2Entry(table, l2Offset, at, host, true);
    if (!reuse) await this.release(m, oldHost);
  }

  /**
   * Stores guest cluster `offset / cluster size` as a compressed cluster (qcow2.txt "Compressed
   * Clusters Descriptor"): `deflated` is one whole cluster, raw-deflated as compression type 0
   * (zlib) expects it, shorter than a cluster. Compressed clusters are packed one after another,
   * each starting on a 512-byte sector, into host clusters; every host cluster a compressed
   * cluster touches gets one reference for it (the first by allocation, then +1 each), raised
   * before the data and the L2 entry are written. A descriptor may run into the next host
   * cluster only when that is the next one allocated.
   */
  async writeCompressed(offset: number, deflated: Uint8Array): Promise<void> {
    const cs = this.clusterSize;
    this.check('write', offset, Math.min(cs, this.capacity - offset));
    if (this.readOnly || this.mutex === undefined) throw new TypervisorError(`${this.file.name}: write refused: the disk is read-only`);
    if (offset % cs !== 0) throw new TypervisorError(`${this.file.name}: a compressed write must start on a cluster (offset ${offset})`);
    const len = deflated.length;
    if (len === 0 || Math.ceil(len / 512) >= cs / 512) {
      throw new TypervisorError(`${this.file.name}: a compressed cluster of ${len} bytes saves no space in ${cs}-byte clusters`);
    }
    return this.mutex.run(async () => {
      if (this.closed) throw new TypervisorError(`${this.file.name}: write after close`);
      const refcounts = this.refcounts!;
      const cluster = offset / cs;
      const l1Index = Math.floor(cluster / this.l2Entries);
      const l2Index = cluster - l1Index * this.l2Entries;
      const l2Offset = await this.writableL2(l1Index);
      const table = await this.l2Table(l2Offset);
      const at = l2Index * 8;
      const hi = table.getUint32(at);
      const lo = table.getUint32(at + 4);
      const m = this.decode(hi, lo, table, at, `L2 entry ${l2Index} of the table at 0x${l2Offset.toString(16)} (guest offset ${offset})`);
      const oldHost = m.kind === 'compressed' ? 0 : (hi & 0xffffff) * TWO_32 + ((lo & 0xfffffe00) >>> 0);
      const bytes = Math.ceil(len / 512) * 512;
      let start = this.packNext;
      if (start !== 0 && start + bytes <= this.packEnd) {
        await refcounts.add(this.packEnd - cs, 1); // one more compressed cluster in the current host cluster
      } else {
        const fresh = await refcounts.allocate();
        this.checkNotTable(fresh, 'free cluster');
        if (start !== 0 && fresh === this.packEnd && start < this.packEnd) {
          await refcounts.add(this.packEnd - cs, 1); // runs on from the current host cluster into the next
        } else start = fresh;
        this.packEnd = fresh + cs;
      }
      await this.file.pwrite(deflated, start);
      this.grew(start + len);
      // x = 62 - (cluster_bits - 8) bits of offset, then the count of additional sectors.
      const x = 62n - BigInt(this.header.clusterBits - 8);
      const entry = (1n << 62n) | (BigInt(bytes / 512 - 1) << x) | BigInt(start);
      await this.setL2Raw(table, l2Offset, at, Number(entry >> 32n) >>> 0, Number(entry & 0xffffffffn) >>> 0);
      this.packNext = start + bytes;
      await this.release(m, oldHost);
    });
  }

  /** Drops the references an L2 entry held, once nothing points at them any more. */
  private async release(m: Mapping, oldHost: number): Promise<void> {
    const cs = this.clusterSize;
    const refcounts = this.refcounts!;
    if (m.kind === 'compressed') {
      // A compressed cluster holds a reference to every host cluster its sectors touch.
      const start = m.host - (m.host % 512);
      const first = Math.floor(start / cs);
      const last = Math.floor((start + Math.ceil((m.length + (m.host % 512)) / 512) * 512 - 1) / cs);
      for (let c = first; c <= last; c++) await refcounts.add(c * cs, -1);
      this.inflated.clear();
      this.packNext = 0; // the host cluster being packed may have just been freed
    } else if (oldHost !== 0) {
      await refcounts.add(oldHost, -1);
    }
  }

  /**
   * Forgets whole clusters in the range and frees their host clusters. Afterwards they read as
   * zeros: version 3 marks them with the zero flag when there is a backing file (which must not
   * show through) and unallocated otherwise; version 2 unallocates them when there is no backing
   * file. Partial clusters, and clusters of a version 2 image with a backing file, keep their
   * contents (the BlockBackend contract allows both).
   */
  async discard(offset: number, length: number): Promise<void> {
    this.check('discard', offset, length);
    if (this.readOnly || this.mutex === undefined) throw new TypervisorError(`${this.file.name}: discard refused: the disk is read-only`);
    return this.mutex.run(async () => {
      if (this.closed) throw new TypervisorError(`${this.file.name}: discard after close`);
      if (this.header.version === 2 && this.backing !== undefined) return;
      const cs = this.clusterSize;
      const end = offset + length;
      const first = Math.ceil(offset / cs);
      // The disk's last cluster may be partial: reaching the end of the disk covers it.
      const last = end === this.capacity ? Math.ceil(end / cs) : Math.floor(end / cs);
      for (let c = first; c < last; c++) await this.discardCluster(c);
    });
  }

  private async discardCluster(cluster: number): Promise<void> {
    const l1Index = Math.floor(cluster / this.l2Entries);
    const l2Index = cluster - l1Index * this.l2Entries;
    const zeroFlag = this.backing !== undefined; // only version 3 gets here with a backing file
    if (this.l2Offsets[l1Index] === 0 && !zeroFlag) return; // already reads as zeros
    const l2Offset = await this.writableL2(l1Index);
    const table = await this.l2Table(l2Offset);
    const at = l2Index * 8;
    const hi = table.getUint32(at);
    const lo = table.getUint32(at + 4);
    const m = this.decode(hi, lo, table, at, `L2 entry ${l2Index} of the table at 0x${l2Offset.toString(16)} (guest offset ${cluster * this.clusterSize})`);
    const newLo = zeroFlag ? 1 : 0;
    if (hi === 0 && lo === newLo) return;
    const oldHost = m.kind === 'compressed' ? 0 : (hi & 0xffffff) * TWO_32 + ((lo & 0xfffffe00) >>> 0);
    await this.setL2Raw(table, l2Offset, at, 0, newLo);
    await this.release(m, oldHost);
  }

  /**
   * The L2 table for L1 entry `l1Index`, ready to be written in place: allocated (zeroed) when
   * absent, copied when shared with a snapshot (its refcount is above 1, COPIED clear).
   */
  private async writableL2(l1Index: number): Promise<number> {
    const old = this.l2Offsets[l1Index];
    const refcounts = this.refcounts!;
    if (old !== 0 && this.l1Copied[l1Index]) {
      if ((await refcounts.get(old)) === 1) return old;
      this.l1Copied[l1Index] = 0; // shared after all (COPIED was wrong): copy it below
    }
    const cs = this.clusterSize;
    const fresh = await refcounts.allocate();
    this.checkNotTable(fresh, 'free cluster');
    const bytes = new Uint8Array(cs);
    if (old !== 0) bytes.set(new Uint8Array((await this.l2Table(old)).buffer));
    await this.file.pwrite(bytes, fresh);
    this.grew(fresh + cs);
    const entry = new Uint8Array(8);
    const view = new DataView(entry.buffer);
    view.setUint32(0, (0x80000000 | Math.floor(fresh / TWO_32)) >>> 0);
    view.setUint32(4, fresh >>> 0);
    await this.file.pwrite(entry, this.header.l1TableOffset + l1Index * 8);
    this.l2Offsets[l1Index] = fresh;
    this.l1Copied[l1Index] = 1;
    this.l2Tables.add(fresh);
    this.l2Cache.set(fresh, new DataView(bytes.buffer)); // the offset may be a freed table's
    // Snapshots keep their references to the data clusters; only the table itself is unshared.
    if (old !== 0) await refcounts.add(old, -1);
    return fresh;
  }

  /** Guest data must never land on an L2 table or refcount block (a hostile image's L2 entries or refcounts may say so). */
  private checkNotTable(host: number, what: string): void {
    if (this.l2Tables.has(host) || this.refcounts!.isBlock(host)) {
      throw corrupt(this.file.name, `${what} at 0x${host.toString(16)} is also an L2 table or refcount block`);
    }
  }

  private l2Table(l2Offset: number): Promise<DataView> {
    return this.l2Cache.get(l2Offset, async () => {
      const bytes = new Uint8Array(this.clusterSize);
      await readFully(this.file, bytes, l2Offset);
      return new DataView(bytes.buffer);
    });
  }

  private setL2Entry(table: DataView, l2Offset: number, at: number, host: number, copied: boolean): Promise<void> {
    return this.setL2Raw(table, l2Offset, at, ((copied ? 0x80000000 : 0) | Math.floor(host / TWO_32)) >>> 0, host >>> 0);
  }

  private async setL2Raw(table: DataView, l2Offset: number, at: number, hi: number, lo: number): Promise<void> {
    table.setUint32(at, hi);
    table.setUint32(at + 4, lo);
    await this.file.pwrite(new Uint8Array(table.buffer, at, 8), l2Offset + at);
    this.l2Cache.set(l2Offset, table); // the cache may have reloaded the table meanwhile
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.l2Cache.clear();
    this.inflated.clear();
    try {
      await this.backing?.close();
    } finally {
      await this.file.close();
    }
  }

  /**
   * How guest bytes from `offset` are stored in this image (BlockBackend contract): one
   * cluster's (or subcluster's) mapping, extended over following clusters that map the same
   * way (host offsets contiguous). Unallocated L1 entries are skipped whole.
   */
  async blockStatus(offset: number, length: number): Promise<BlockStatus> {
    this.check('block status', offset, length);
    if (length === 0) throw new TypervisorError(`${this.file.name}: block status of 0 bytes`);
    const cs = this.clusterSize;
    const end = offset + length;
    let first: BlockStatus | undefined;
    for (let pos = offset; pos < end; ) {
      const cluster = Math.floor(pos / cs);
      const inCluster = pos - cluster * cs;
      let n = Math.min(end - pos, cs - inCluster);
      let st: BlockStatus;
      if (this.l2Offsets[Math.floor(cluster / this.l2Entries)] === 0) {
        const tableEnd = (Math.floor(cluster / this.l2Entries) + 1) * this.l2Entries * cs;
        n = Math.min(end, tableEnd) - pos;
        st = { length: n, data: false, zero: false };
      } else {
        const m = await this.lookup(cluster, pos);
        switch (m.kind) {
          case 'unallocated': st = { length: n, data: false, zero: false }; break;
          case 'zero': st = m.host ? { length: n, data: false, zero: true, offset: m.host + inCluster } : { length: n, data: false, zero: true }; break;
          case 'data': st = { length: n, data: true, zero: false, offset: m.host + inCluster }; break;
          case 'compressed': st = { length: n, data: true, zero: false }; break;
          case 'subclusters': {
            const sub = Math.floor(inCluster / this.subclusterSize);
            n = Math.min(n, (sub + 1) * this.subclusterSize - inCluster);
            const at = m.host === 0 ? {} : { offset: m.host + inCluster };
            if ((m.alloc >>> sub) & 1) st = { length: n, data: true, zero: false, ...at };
            else if ((m.zero >>> sub) & 1) st = { length: n, data: false, zero: true, ...at };
            else st = { length: n, data: false, zero: false, ...at }; // qemu: UNALLOCATED_ALLOC keeps its offset
            break;
          }
        }
      }
      if (first === undefined) first = st;
      else {
        const same = st.data === first.data && st.zero === first.zero && (st.offset === undefined) === (first.offset === undefined);
        if (!same || (st.offset !== undefined && st.offset !== first.offset! + first.length)) break;
        first = { ...first, length: first.length + st.length };
      }
      pos += n;
    }
    return first!;
  }

  /** "If there is no backing file or the backing file is smaller than the image, they shall read zeros". */
  private async readBacking(pos: number, part: Uint8Array): Promise<void> {
    const b = this.backing;
    const avail = b === undefined ? 0 : Math.max(0, Math.min(part.length, b.capacity - pos));
    if (avail > 0) await b!.read(pos, part.subarray(0, avail));
    if (avail < part.length) part.fill(0, avail);
  }

  /** The mapping of guest cluster `cluster` (containing guest byte `pos`, for messages). */
  private async lookup(cluster: number, pos: number): Promise<Mapping> {
    const l1Index = Math.floor(cluster / this.l2Entries);
    const l2Index = cluster - l1Index * this.l2Entries;
    const l2Offset = this.l2Offsets[l1Index]; // l1_size covers `size`: checked at open
    if (l2Offset === 0) return UNALLOCATED;
    const table = await this.l2Table(l2Offset);
    const at = l2Index * this.entryBytes;
    const hi = table.getUint32(at);
    const lo = table.getUint32(at + 4);
    return this.decode(hi, lo, table, at, `L2 entry ${l2Index} of the table at 0x${l2Offset.toString(16)} (guest offset ${pos})`);
  }

  /** Decodes one L2 entry ("== Cluster mapping ==", L2 table entry). */
  private decode(hi: number, lo: number, table: DataView, at: number, where: string): Mapping {
    const name = this.file.name;
    const h = this.header;
    const cs = this.clusterSize;
    const what = `${where}, 0x${hex64(hi, lo)}`;
    const bitmapHi = h.extendedL2 ? table.getUint32(at + 8) : 0;
    const bitmapLo = h.extendedL2 ? table.getUint32(at + 12) : 0;
    if ((hi >>> 30) & 1) {
      // Compressed Clusters Descriptor: x = 62 - (cluster_bits - 8) bits of host offset, then
      // the number of additional 512-byte sectors up to bit 61.
      if (bitmapHi !== 0 || bitmapLo !== 0) throw corrupt(name, `${what}: a compressed cluster has a non-zero subcluster bitmap`);
      const v = ((BigInt(hi) << 32n) | BigInt(lo >>> 0)) & ((1n << 62n) - 1n);
      const x = BigInt(62 - (h.clusterBits - 8));
      const hostBig = v & ((1n << x) - 1n);
      const sectors = Number(v >> x) + 1;
      if (hostBig >= 1n << 56n) throw corrupt(name, `${what}: compressed cluster offset 0x${hostBig.toString(16)} uses bits above 55`);
      const host = Number(hostBig);
      const length = sectors * 512 - (host % 512);
      if (host < cs || host >= this.fileSize) {
        throw corrupt(name, `${what}: compressed cluster at 0x${host.toString(16)} is not inside the data area of the file (${this.fileSize} bytes)`);
      }
      this.checkNotMetadata(host, Math.min(length, this.fileSize - host), what);
      return { kind: 'compressed', host, length };
    }
    // Standard Cluster Descriptor: bit 0 zero flag (v3 without extended L2), bits 1-8 and 56-61
    // reserved, bits 9-55 the host offset; bit 63 COPIED.
    if ((lo & 0x1fe) !== 0 || (hi & 0x3f000000) !== 0) throw corrupt(name, `${what} has reserved bits set`);
    const zeroFlag = (lo & 1) !== 0;
    if (zeroFlag && (h.version === 2 || h.extendedL2)) {
      throw corrupt(name, `${what} has bit 0 (zero flag) set, which is reserved in ${h.version === 2 ? 'version 2 images' : 'images with extended L2 entries'}`);
    }
    const host = (hi & 0xffffff) * TWO_32 + ((lo & 0xfffffe00) >>> 0);
    const copied = hi >>> 31 !== 0;
    if (host % cs !== 0) throw corrupt(name, `${what}: host cluster offset 0x${host.toString(16)} is not aligned to the cluster size (${cs})`);
    if (zeroFlag) return host === 0 ? ZERO : { kind: 'zero', host }; // "the cluster reads as all zeros" whatever its offset
    if (host === 0 && copied) throw corrupt(name, `${what}: host cluster offset 0 with bit 63 set (only valid with an external data file)`);
    if (h.extendedL2) {
      const alloc = bitmapLo >>> 0;
      const zero = bitmapHi >>> 0;
      if ((alloc & zero) !== 0) throw corrupt(name, `${what}: subclusters 0x${(alloc & zero).toString(16)} are both allocated and zero`);
      if (alloc !== 0) {
        if (host === 0) throw corrupt(name, `${what}: allocated subclusters 0x${alloc.toString(16)} with host cluster offset 0`);
        this.checkData(host, what);
      }
      if (alloc === 0 && zero === 0) return UNALLOCATED;
      if (alloc === 0 && zero === 0xffffffff) return ZERO;
      return { kind: 'subclusters', host, alloc, zero };
    }
    if (host === 0) return UNALLOCATED;
    this.checkData(host, what);
    return { kind: 'data', host };
  }

  private checkData(host: number, what: string): void {
    if (host >= this.fileSize) throw corrupt(this.file.name, `${what}: data cluster at 0x${host.toString(16)} lies past the end of the file (${this.fileSize} bytes)`);
    this.checkNotMetadata(host, this.clusterSize, what);
  }

  private checkNotMetadata(start: number, length: number, what: string): void {
    for (const r of this.metadata) {
      if (start < r.end && r.start < start + length) {
        throw corrupt(this.file.name, `${what}: data at 0x${start.toString(16)} overlaps ${r.what} (0x${r.start.toString(16)}..0x${r.end.toString(16)})`);
      }
    }
  }

  /** A compressed cluster, inflated (raw deflate, "zlib" compression type 0), cached briefly. */
  private inflate(host: number, length: number, pos: number): Promise<Uint8Array> {
    const cs = this.clusterSize;
    return this.inflated.get(host, async () => {
      const packed = new Uint8Array(length);
      const n = await this.file.pread(packed, host); // the last sector may end past the file: zeros
      void n;
      let out: Uint8Array;
      try {
        out = inflateSync(packed, { out: new Uint8Array(cs) });
      } catch (e) {
        throw corrupt(this.file.name, `compressed cluster at 0x${host.toString(16)} (guest offset ${pos}) does not inflate: ${(e as Error).message}`);
      }
      // Decompression "stops when it has produced a cluster of data": anything shorter is corrupt.
      if (out.length !== cs) {
        throw corrupt(this.file.name, `compressed cluster at 0x${host.toString(16)} (guest offset ${pos}) inflates to ${out.length} bytes, not a cluster (${cs})`);
      }
      return out;
    });
  }

  private check(what: string, offset: number, length: number): void {
    if (this.closed) throw new TypervisorError(`${this.file.name}: ${what} after close`);
    checkRange(`${this.file.name}: ${what}`, offset, length, this.capacity);
  }
}

/** What keeps an image from being opened for writing. */
function refuseWriting(name: string, h: Qcow2Header): void {
  const incompat = Number(h.incompatibleFeatures);
  if (incompat & INCOMPAT_CORRUPT) {
    throw new TypervisorError(`${name}: the qcow2 image is marked corrupt (incompatible_features bit 1); it may only be read`, { hint: 'repair it with qemu-img check -r all' });
  }
  if (incompat & INCOMPAT_DIRTY) {
    throw new TypervisorError(`${name}: the qcow2 image is dirty (lazy refcounts not yet rebuilt; incompatible_features bit 0)`, { hint: 'repair it with qemu-img check -r all' });
  }
  if (h.extendedL2) {
    throw new TypervisorError(`${name}: writing qcow2 images with extended L2 entries (subclusters) is not implemented yet`, { hint: 'open it read-only' });
  }
}

function corrupt(name: string, message: string): TypervisorError {
  return new TypervisorError(`${name}: corrupt qcow2 image: ${message}`, { hint: 'qemu-img check shows what is damaged' });
}

function hex64(hi: number, lo: number): string {
  return (hi >>> 0).toString(16).padStart(8, '0') + (lo >>> 0).toString(16).padStart(8, '0');
}

/** Reads all of `dst` at `offset`; fails when the file ends first (metadata must be whole). */
async function readFully(file: ImageFile, dst: Uint8Array, offset: number): Promise<void> {
  if (dst.length === 0) return;
  const n = await file.pread(dst, offset);
  if (n < dst.length) throw corrupt(file.name, `${dst.length} bytes at offset 0x${offset.toString(16)} lie past the end of the file`);
}
