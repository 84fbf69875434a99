// The refcount table and blocks of a qcow2 image being written. Spec: QEMU
// docs/interop/qcow2.txt "== Host cluster management ==". Every change is written through at
// once, in an order that leaves at worst leaked clusters if the process dies between two writes:
// a refcount is raised before anything points at the cluster, and lowered only after nothing
// does; a new refcount block is written before the table entry that makes it live.
import { TypervisorError } from '../../core/errors.js';
import type { ImageFile } from '../image-file.js';
import { TableCache } from './l2-cache.js';
import { MAX_REFCOUNT_TABLE_BYTES, type Qcow2Header } from './qcow2-header.js';

const TWO_32 = 0x1_0000_0000;

function corrupt(name: string, message: string): TypervisorError {
  return new TypervisorError(`${name}: corrupt qcow2 image: ${message}`, { hint: 'qemu-img check -r all repairs refcounts' });
}

/** Reference counts of host clusters: read, change, allocate. Not safe for concurrent calls. */
export class Qcow2Refcounts {
  private readonly cs: number;
  private readonly bits: number;
  private readonly perBlock: number;
  private readonly blocks = new TableCache<Uint8Array>(4 * 1024 * 1024);
  /** The lowest cluster index that may be free. */
  private cursor = 0;
  private readonly blockOffsets = new Set<number>();
  /** Where the refcount table is (it moves when it grows). */
  private tableOffset: number;
  /** Called after the table moved: its new place, so the image's overlap checks follow. */
  onTableMoved: (offset: number, clusters: number) => void = () => undefined;

  private constructor(
    private readonly file: ImageFile,
    private readonly header: Qcow2Header,
    /** Host offsets of the refcount blocks (0: not allocated). */
    private table: Float64Array,
    /** Called with the end of every cluster written, so the image knows the file's size. */
    private readonly grew: (end: number) => void,
    /** The file's size now (clusters past it are free). */
    private readonly fileSize: () => number,
  ) {
    this.tableOffset = header.refcountTableOffset;
    this.cs = header.clusterSize;
    this.bits = 2 ** header.refcountOrder;
    this.perBlock = (this.cs * 8) / this.bits;
    for (const off of table) if (off !== 0) this.blockOffsets.add(off);
  }

  /** Loads and checks the refcount table (entries: bits 9-63 a cluster-aligned offset, 0-8 reserved). */
  static async load(file: ImageFile, header: Qcow2Header, fileSize: number, grew: (end: number) => void, currentSize: () => number): Promise<Qcow2Refcounts> {
    const cs = header.clusterSize;
    const bytes = new Uint8Array(header.refcountTableClusters * cs);
    const n = await file.pread(bytes, header.refcountTableOffset);
    if (n < bytes.length) throw corrupt(file.name, 'the refcount table lies past the end of the file');
    const view = new DataView(bytes.buffer);
    const table = new Float64Array(bytes.length / 8);
    const seen = new Set<number>();
    const l1Start = header.l1TableOffset;
    const l1End = l1Start + header.l1Size * 8;
    const rtStart = header.refcountTableOffset;
    const rtEnd = rtStart + bytes.length;
    for (let i = 0; i < table.length; i++) {
      const hi = view.getUint32(i * 8);
      const lo = view.getUint32(i * 8 + 4);
      if ((lo & 0x1ff) !== 0) throw corrupt(file.name, `refcount table entry ${i} has reserved bits set`);
      const off = hi * TWO_32 + lo;
      if (off === 0) continue;
      if (off % cs !== 0 || off + cs > fileSize) {
        throw corrupt(file.name, `refcount table entry ${i}: refcount block at 0x${off.toString(16)} is misaligned or past the end of the file`);
      }
      // Distinct blocks, off the other metadata: this also bounds the free-cluster scan.
      if (seen.has(off)) throw corrupt(file.name, `refcount table entry ${i}: refcount block at 0x${off.toString(16)} is used twice`);
      if ((off < l1End && l1Start < off + cs) || (off < rtEnd && rtStart < off + cs)) {
        throw corrupt(file.name, `refcount table entry ${i}: refcount block at 0x${off.toString(16)} overlaps the L1 or refcount table`);
      }
      seen.add(off);
      table[i] = off;
    }
    return new Qcow2Refcounts(file, header, table, grew, currentSize);
  }

  /** True when the cluster at host offset `offset` is a refcount block. */
  isBlock(offset: number): boolean {
    return this.blockOffsets.has(offset);
  }

  /** The refcount of the cluster at host offset `offset`. */
  async get(offset: number): Promise<number> {
    const i = offset / this.cs;
    const ti = Math.floor(i / this.perBlock);
    if (ti >= this.table.length || this.table[ti] === 0) return 0;
    return this.read(await this.block(ti), i - ti * this.perBlock, this.table[ti]);
  }

  /** Adds `delta` (+1 or -1) to the refcount of the cluster at host offset `offset`. */
  async add(offset: number, delta: 1 | -1): Promise<void> {
    const i = offset / this.cs;
    const ti = Math.floor(i / this.perBlock);
    if (ti >= this.table.length || this.table[ti] === 0) {
      throw corrupt(this.file.name, `cluster 0x${offset.toString(16)} is in use but has no refcount block`);
    }
    const blockOffset = this.table[ti];
    const block = await this.block(ti);
    const k = i - ti * this.perBlock;
    const now = this.read(block, k, blockOffset);
    const max = this.bits >= 53 ? Number.MAX_SAFE_INTEGER : 2 ** this.bits - 1;
    if (now + delta < 0) throw corrupt(this.file.name, `the refcount of cluster 0x${offset.toString(16)} would drop below 0`);
    if (now + delta > max) {
      throw new TypervisorError(`${this.file.name}: the refcount of cluster 0x${offset.toString(16)} would exceed ${max} (refcount_bits ${this.bits})`);
    }
    await this.write(block, k, now + delta, blockOffset);
    if (now + delta === 0 && i < this.cursor) this.cursor = i;
  }

  /** Finds a free cluster, sets its refcount to 1 and returns its host offset. */
  async allocate(): Promise<number> {
    for (let i = Math.max(this.cursor, 1); ; i++) {
      const ti = Math.floor(i / this.perBlock);
      if (ti >= this.table.length) {
        await this.grow();
        i--; // look at the same cluster again, now covered
        continue;
      }
      if (this.table[ti] === 0) {
        // A new refcount block covers clusters that all have refcount 0; it lives in the first
        // of them (itself, refcount 1), as QEMU places them.
        await this.createBlock(ti, i);
        continue;
      }
      const block = await this.block(ti);
      // Skip whole used stretches quickly: scan this block from i.
      const end = (ti + 1) * this.perBlock;
      for (; i < end; i++) {
        if (this.read(block, i - ti * this.perBlock, this.table[ti]) === 0) {
          await this.write(block, i - ti * this.perBlock, 1, this.table[ti]);
          this.cursor = i + 1;
          return i * this.cs;
        }
      }
      i = end - 1;
    }
  }

  /** Writes a refcount block for table entry `ti` in cluster `where` (which it covers), then the table entry. */
  private async createBlock(ti: number, where: number): Promise<void> {
    const cs = this.cs;
    const block = new Uint8Array(cs);
    this.writeEntry(block, where - ti * this.perBlock, 1);
    await this.file.pwrite(block, where * cs);
    this.grew(where * cs + cs);
    const entry = new Uint8Array(8);
    new DataView(entry.buffer).setUint32(0, Math.floor((where * cs) / TWO_32));
    new DataView(entry.buffer).setUint32(4, (where * cs) >>> 0);
    await this.file.pwrite(entry, this.tableOffset + ti * 8);
    this.table[ti] = where * cs;
    this.blockOffsets.add(where * cs);
    this.blocks.set(where * cs, block);
  }

  /**
   * Moves the refcount table to a bigger place once every cluster it covers is in use: new
   * refcount blocks for the clusters past its reach and the new table are written after the
   * end of the file (the blocks count themselves and the table), then one header write switches
   * to the new table (refcount_table_offset and refcount_table_clusters, bytes 48-59), and only
   * then is the old table freed. A process dying before the header write leaves unreferenced
   * bytes past the covered range; after it, at most the old table leaked.
   */
  private async grow(): Promise<void> {
    const cs = this.cs;
    const per = this.perBlock;
    const oldEntries = this.table.length;
    const oldClusters = (oldEntries * 8) / cs;
    const start = Math.max(oldEntries * per, Math.ceil(this.fileSize() / cs));
    let tableClusters = Math.max(2 * oldClusters, 1);
    let blocks = 0;
    for (;;) {
      const end = start + blocks + tableClusters; // one past the last cluster we place
      const needBlocks = Math.ceil(end / per) - oldEntries;
      const needTable = Math.ceil((Math.ceil(end / per) * 8) / cs);
      if (needBlocks <= blocks && needTable <= tableClusters) break;
      blocks = Math.max(blocks, needBlocks);
      tableClusters = Math.max(tableClusters, needTable);
    }
    const newEntries = (tableClusters * cs) / 8;
    if (tableClusters * cs > MAX_REFCOUNT_TABLE_BYTES) {
      throw new TypervisorError(`${this.file.name}: the qcow2 refcount table would grow beyond 8 MiB (${tableClusters} clusters)`, {
        hint: 'use bigger clusters (qemu-img convert -O qcow2 -o cluster_size=65536)',
      });
    }
    const end = start + blocks + tableClusters;
    const table = new Float64Array(newEntries);
    table.set(this.table);
    const written: Array<[number, Uint8Array]> = [];
    for (let k = 0; k < blocks; k++) {
      const ti = oldEntries + k;
      const block = new Uint8Array(cs);
      for (let c = Math.max(start, ti * per); c < Math.min(end, (ti + 1) * per); c++) this.writeEntry(block, c - ti * per, 1);
      const at = (start + k) * cs;
      await this.file.pwrite(block, at);
      written.push([at, block]);
      table[ti] = at;
    }
    const tableBytes = new Uint8Array(tableClusters * cs);
    const view = new DataView(tableBytes.buffer);
    for (let ti = 0; ti < newEntries; ti++) {
      view.setUint32(ti * 8, Math.floor(table[ti] / TWO_32));
      view.setUint32(ti * 8 + 4, table[ti] >>> 0);
    }
    const tableAt = (start + blocks) * cs;
    await this.file.pwrite(tableBytes, tableAt);
    this.grew(end * cs);
    const head = new Uint8Array(12);
    const hv = new DataView(head.buffer);
    hv.setUint32(0, Math.floor(tableAt / TWO_32));
    hv.setUint32(4, tableAt >>> 0);
    hv.setUint32(8, tableClusters);
    await this.file.pwrite(head, 48); // qcow2.txt "== Header ==": refcount_table_offset, refcount_table_clusters
    const oldAt = this.tableOffset;
    this.table = table;
    this.tableOffset = tableAt;
    for (const [at, block] of written) {
      this.blockOffsets.add(at);
      this.blocks.set(at, block);
    }
    this.onTableMoved(tableAt, tableClusters);
    for (let c = 0; c < oldClusters; c++) await this.add(oldAt + c * cs, -1);
  }

  private block(ti: number): Promise<Uint8Array> {
    const off = this.table[ti];
    return this.blocks.get(off, async () => {
      const b = new Uint8Array(this.cs);
      if ((await this.file.pread(b, off)) < this.cs) throw corrupt(this.file.name, `refcount block at 0x${off.toString(16)} lies past the end of the file`);
      return b;
    });
  }

  /** Entry `k` of a block: big-endian for 8..64 bits, packed from bit 0 upwards below 8 bits. */
  private read(block: Uint8Array, k: number, blockOffset: number): number {
    const bits = this.bits;
    if (bits < 8) {
      const pos = k * bits;
      return (block[pos >> 3] >> (pos & 7)) & ((1 << bits) - 1);
    }
    const bytes = bits / 8;
    let v = 0;
    for (let b = 0; b < bytes; b++) v = v * 256 + block[k * bytes + b];
    if (v > Number.MAX_SAFE_INTEGER) throw corrupt(this.file.name, `refcount entry ${k} of the block at 0x${blockOffset.toString(16)} is absurdly large`);
    return v;
  }

  private writeEntry(block: Uint8Array, k: number, value: number): [number, number] {
    const bits = this.bits;
    if (bits < 8) {
      const pos = k * bits;
      const mask = ((1 << bits) - 1) << (pos & 7);
      block[pos >> 3] = (block[pos >> 3] & ~mask) | ((value << (pos & 7)) & mask);
      return [pos >> 3, (pos >> 3) + 1];
    }
    const bytes = bits / 8;
    let v = value;
    for (let b = bytes - 1; b >= 0; b--) {
      block[k * bytes + b] = v % 256;
      v = Math.floor(v / 256);
    }
    return [k * bytes, (k + 1) * bytes];
  }

  private async write(block: Uint8Array, k: number, value: number, blockOffset: number): Promise<void> {
    const [from, to] = this.writeEntry(block, k, value);
    await this.file.pwrite(block.subarray(from, to), blockOffset + from);
    this.blocks.set(blockOffset, block);
  }
}
