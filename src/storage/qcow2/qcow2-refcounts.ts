// The refcount table and blocks of a qcow2 image being written. Spec: QEMU
// docs/interop/qcow2.txt "== Host cluster management ==". Every change is written through at
// once, in an order that leaves at worst leaked clusters if the process dies between two writes:
// a refcount is raised before anything points at the cluster, and lowered only after nothing
// does; a new refcount block is written before the table entry that makes it live.
import { TypervisorError } from '../../core/errors.js';
import type { ImageFile } from '../image-file.js';
import { TableCache } from './l2-cache.js';
import type { Qcow2Header } from './qcow2-header.js';

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

  private constructor(
    private readonly file: ImageFile,
    private readonly header: Qcow2Header,
    /** Host offsets of the refcount blocks (0: not allocated). */
    private readonly table: Float64Array,
    /** Called with the end of every cluster written, so the image knows the file's size. */
    private readonly grew: (end: number) => void,
  ) {
    this.cs = header.clusterSize;
    this.bits = 2 ** header.refcountOrder;
    this.perBlock = (this.cs * 8) / this.bits;
    for (const off of table) if (off !== 0) this.blockOffsets.add(off);
  }

  /** Loads and checks the refcount table (entries: bits 9-63 a cluster-aligned offset, 0-8 reserved). */
  static async load(file: ImageFile, header: Qcow2Header, fileSize: number, grew: (end: number) => void): Promise<Qcow2Refcounts> {
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
    return new Qcow2Refcounts(file, header, table, grew);
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
        throw new TypervisorError(
          `${this.file.name}: the qcow2 refcount table is full (${this.table.length} blocks cover ${this.table.length * this.perBlock * this.cs} bytes of file); growing it is not implemented yet`,
          { hint: 'convert the image with qemu-img convert -O qcow2 (it sizes the table for the disk)' },
        );
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
    await this.file.pwrite(entry, this.header.refcountTableOffset + ti * 8);
    this.table[ti] = where * cs;
    this.blockOffsets.add(where * cs);
    this.blocks.set(where * cs, block);
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
