// A hosted sparse extent (VMware Virtual Disk Format 5.0, §"Hosted Sparse Extents" and
// §"Stream-Optimized Compressed Sparse Extents"): a grain directory (GD) of u32 sector numbers of
// grain tables (GT), whose u32 entries (GTEs) are sector numbers of grains. GTE 0: the grain is
// unallocated (zeros, there being no parent); GTE 1 with the zeroed-grain flag: a zero grain.
// Stream-optimized extents hold each grain as a marker {u64 lba, u32 size} and `size` bytes of
// zlib data, and may keep their real header in a footer at the end of the file.
import { unzlibSync } from 'fflate';
import { TypervisorError } from '../../core/errors.js';
import type { ImageFile } from '../image-file.js';
import { TableCache } from '../qcow2/l2-cache.js';
import { findOverlap, type FileRegion, readExact, RegionSet } from '../read-exact.js';
import { badHeader, FLAG_REDUNDANT_GT, FLAG_ZERO_GRAIN, GD_AT_END, parseSparseHeader, SECTOR, type SparseHeader } from './vmdk-header.js';
import { ContiguousReads } from '../contiguous-reads.js';

/** Marker types (§ Stream-Optimized: "Markers"), in the u32 after a zero size. */
const MARKER_EOS = 0;
const MARKER_FOOTER = 3;
/** A grain marker's fixed part: lba (u64) and size (u32); the data follows. */
const GRAIN_MARKER_BYTES = 12;
/** Deflate may grow incompressible data a little; QEMU's buffer for one grain is twice its size. */
const MAX_COMPRESSED_FACTOR = 2;

/** A sparse extent, opened and validated. */
export class SparseExtent {
  /** Extent size in bytes. */
  readonly bytes: number;
  readonly grainBytes: number;
  readonly compressed: boolean;
  private readonly gtCache = new TableCache<DataView>(1 << 20);
  private readonly grainCache: TableCache<Uint8Array>;
  private readonly metadata: RegionSet;
  /**
   * Where unallocated grains come from in a delta disk (the parent's bytes at this extent's
   * offset); undefined: they read as zeros.
   */
  unallocated: ((offset: number, dst: Uint8Array) => Promise<void>) | undefined;
  /** Grains looked up so far, by how they map (for tests). */
  readonly lookups = { unallocated: 0, zero: 0, data: 0, compressed: 0 };

  private constructor(
    private readonly file: ImageFile,
    readonly header: SparseHeader,
    private readonly fileSize: number,
    /** Grain table byte offsets, one per GD entry (0: no table). */
    private readonly gd: Float64Array,
    metadata: FileRegion[],
    /** The embedded descriptor's text, if the extent has one. */
    readonly descriptorText: string | undefined,
  ) {
    this.bytes = header.capacity * SECTOR;
    this.grainBytes = header.grainSize * SECTOR;
    this.compressed = header.compressAlgorithm === 1;
    this.grainCache = new TableCache(4 * this.grainBytes);
    this.metadata = new RegionSet(metadata);
  }

  get name(): string {
    return this.file.name;
  }

  /** Opens `file` as a sparse extent; the caller closes `file` if this fails. */
  static async open(file: ImageFile): Promise<SparseExtent> {
    const name = file.name;
    const fileSize = await file.size();
    const first = new Uint8Array(Math.min(SECTOR, fileSize));
    await readExact(file, first, 0, 'the header', 'VMDK');
    let header = parseSparseHeader(name, first);
    const regions: FileRegion[] = [{ what: 'the header', start: 0, end: SECTOR }];
    if (header.gdOffset === GD_AT_END) {
      // § Stream-Optimized: the footer is a footer marker, a copy of the header with the real
      // gdOffset, and an end-of-stream marker — the last three sectors of the file.
      if (fileSize < 4 * SECTOR) throw badHeader(name, `gdOffset is GD_AT_END but the file (${fileSize} bytes) is too small to hold a footer`);
      const footerAt = fileSize - 3 * SECTOR;
      const tail = new Uint8Array(3 * SECTOR);
      await readExact(file, tail, footerAt, 'the footer', 'VMDK');
      const t = new DataView(tail.buffer);
      if (t.getUint32(8, true) !== 0 || t.getUint32(12, true) !== MARKER_FOOTER) {
        throw badHeader(name, `gdOffset is GD_AT_END but there is no footer marker at offset ${footerAt} (size ${t.getUint32(8, true)}, type ${t.getUint32(12, true)}; expected 0 and ${MARKER_FOOTER})`);
      }
      if (t.getUint32(2 * SECTOR + 8, true) !== 0 || t.getUint32(2 * SECTOR + 12, true) !== MARKER_EOS) {
        throw badHeader(name, `the footer is not followed by an end-of-stream marker at offset ${footerAt + 2 * SECTOR}`);
      }
      header = parseSparseHeader(name, tail.subarray(SECTOR, 2 * SECTOR), 'footer header');
      if (header.gdOffset === GD_AT_END) throw badHeader(name, 'footer header gdOffset is GD_AT_END too');
      regions.push({ what: 'the footer', start: footerAt, end: fileSize });
    }
    const gdSector = header.gdOffset as number;
    const inFile = (what: string, field: string, sector: number, bytes: number): FileRegion => {
      const start = sector * SECTOR;
      if (start + bytes > fileSize) {
        throw badHeader(name, `${field} is ${sector}: ${what} (${bytes} bytes at offset ${start}) ends past the end of the file (${fileSize} bytes)`);
      }
      return { what, start, end: start + bytes };
    };
    if (header.descriptorSize > 0) regions.push(inFile('the embedded descriptor', 'descriptorOffset', header.descriptorOffset, header.descriptorSize * SECTOR));
    const gtCoverage = header.grainSize * header.numGTEsPerGT;
    const gdEntries = Math.ceil(header.capacity / gtCoverage);
    const gtBytes = header.numGTEsPerGT * 4;
    if (gdSector === 0 && gdEntries > 0) throw badHeader(name, 'gdOffset is 0 (inside the header)');
    regions.push(inFile('the grain directory', 'gdOffset', gdSector, gdEntries * 4));
    if ((header.flags & FLAG_REDUNDANT_GT) !== 0 && header.rgdOffset !== 0) {
      regions.push(inFile('the redundant grain directory', 'rgdOffset', header.rgdOffset, gdEntries * 4));
    }
    const gdRaw = new Uint8Array(gdEntries * 4);
    await readExact(file, gdRaw, gdSector * SECTOR, 'the grain directory', 'VMDK');
    const gdView = new DataView(gdRaw.buffer);
    const gd = new Float64Array(gdEntries);
    for (let i = 0; i < gdEntries; i++) {
      const e = gdView.getUint32(i * 4, true);
      if (e === 0) continue;
      const start = e * SECTOR;
      if (start + gtBytes > fileSize) {
        throw corrupt(name, `grain directory entry ${i} is ${e}: its grain table (${gtBytes} bytes at offset ${start}) ends past the end of the file (${fileSize} bytes)`);
      }
      gd[i] = start;
      regions.push({ what: `the grain table of grain directory entry ${i} (sector ${e})`, start, end: start + gtBytes });
    }
    const overlap = findOverlap(regions);
    if (overlap) throw corrupt(name, `${overlap[0].what} (offset ${overlap[0].start}..${overlap[0].end}) and ${overlap[1].what} (offset ${overlap[1].start}..${overlap[1].end}) overlap`);
    let descriptorText: string | undefined;
    if (header.descriptorSize > 0) {
      const d = new Uint8Array(header.descriptorSize * SECTOR);
      await readExact(file, d, header.descriptorOffset * SECTOR, 'the embedded descriptor', 'VMDK');
      descriptorText = new TextDecoder('utf-8').decode(d);
    }
    return new SparseExtent(file, header, fileSize, gd, regions, descriptorText);
  }

  /** Reads `dst.length` bytes at `offset` (bytes) of the extent; the caller checked the range. */
  async read(offset: number, dst: Uint8Array): Promise<void> {
    const gb = this.grainBytes;
    // Uncompressed grains that lie one after another in the file are read with one pread.
    const reads = new ContiguousReads(this.file, dst, 'grain data');
    let done = 0;
    while (done < dst.length) {
      const pos = offset + done;
      const grain = Math.floor(pos / gb);
      const within = pos - grain * gb;
      const n = Math.min(gb - within, dst.length - done);
      const host = await this.readInGrain(grain, within, dst.subarray(done, done + n));
      if (host === undefined) await reads.flush();
      else await reads.add(done, host + within, n);
      done += n;
    }
    await reads.flush();
  }

  /**
   * Fills `dst` for a grain that reads as zeros or is compressed and returns undefined, or
   * returns the host offset of an uncompressed grain (checked: inside the file, not on metadata)
   * for the caller to read.
   */
  private async readInGrain(grain: number, within: number, dst: Uint8Array): Promise<number | undefined> {
    const per = this.header.numGTEsPerGT;
    const gdIndex = Math.floor(grain / per);
    const gt = this.gd[gdIndex];
    if (gt === 0) {
      this.lookups.unallocated++;
      await this.readUnallocated(grain * this.grainBytes + within, dst);
      return undefined;
    }
    const table = await this.gtCache.get(gt, async () => {
      const b = new Uint8Array(per * 4);
      await readExact(this.file, b, gt, `the grain table of grain directory entry ${gdIndex}`, 'VMDK');
      return new DataView(b.buffer);
    });
    const gtIndex = grain - gdIndex * per;
    const gte = table.getUint32(gtIndex * 4, true);
    if (gte === 0) {
      this.lookups.unallocated++;
      await this.readUnallocated(grain * this.grainBytes + within, dst);
      return undefined;
    }
    // A zeroed grain reads as zeros even over a parent: that is what it is for.
    if (gte === 1 && (this.header.flags & FLAG_ZERO_GRAIN) !== 0) {
      this.lookups.zero++;
      dst.fill(0);
      return undefined;
    }
    const where = `grain table entry ${gtIndex} of grain directory entry ${gdIndex} (grain ${grain}, guest offset ${grain * this.grainBytes})`;
    const host = gte * SECTOR;
    if (this.compressed) {
      this.lookups.compressed++;
      // Keyed by grain, not by host offset: two GTEs naming one marker must each pass the lba check.
      const data = await this.grainCache.get(grain, () => this.inflateGrain(grain, host, gte, where));
      dst.set(data.subarray(within, within + dst.length));
      return undefined;
    }
    // Only the part of the last grain inside the extent need be in the file.
    const used = Math.min(this.grainBytes, this.bytes - grain * this.grainBytes);
    this.checkData(where, gte, host, used);
    this.lookups.data++;
    return host;
  }

  private async readUnallocated(offset: number, dst: Uint8Array): Promise<void> {
    if (this.unallocated === undefined) dst.fill(0);
    else await this.unallocated(offset, dst);
  }

  private checkData(where: string, gte: number, start: number, bytes: number): void {
    if (start + bytes > this.fileSize) {
      throw corrupt(this.file.name, `${where} is ${gte}: the grain (${bytes} bytes at offset ${start}) ends past the end of the file (${this.fileSize} bytes)`);
    }
    const hit = this.metadata.hit(start, start + bytes);
    if (hit) throw corrupt(this.file.name, `${where} is ${gte}: the grain (offset ${start}..${start + bytes}) overlaps ${hit.what}`);
  }

  private async inflateGrain(grain: number, host: number, gte: number, where: string): Promise<Uint8Array> {
    const name = this.file.name;
    this.checkData(where, gte, host, GRAIN_MARKER_BYTES);
    const marker = new Uint8Array(GRAIN_MARKER_BYTES);
    await readExact(this.file, marker, host, `the grain marker of ${where}`, 'VMDK');
    const mv = new DataView(marker.buffer);
    const lba = mv.getBigUint64(0, true);
    const size = mv.getUint32(8, true);
    const expectLba = BigInt(grain) * BigInt(this.header.grainSize);
    if (lba !== expectLba) throw corrupt(name, `${where} is ${gte}: its grain marker says lba ${lba}, not ${expectLba}`);
    const maxSize = this.grainBytes * MAX_COMPRESSED_FACTOR;
    if (size === 0 || size > maxSize) throw corrupt(name, `${where} is ${gte}: its grain marker says ${size} compressed bytes; expected 1..${maxSize}`);
    this.checkData(where, gte, host, GRAIN_MARKER_BYTES + size);
    const packed = new Uint8Array(size);
    await readExact(this.file, packed, host + GRAIN_MARKER_BYTES, `the compressed grain of ${where}`, 'VMDK');
    let out: Uint8Array;
    try {
      // One byte more than a grain, to notice data that inflates to more than a grain.
      out = unzlibSync(packed, { out: new Uint8Array(this.grainBytes + 1) });
    } catch (e) {
      throw corrupt(name, `${where} is ${gte}: the compressed grain at offset ${host} does not inflate: ${(e as Error).message}`);
    }
    if (out.length > this.grainBytes) throw corrupt(name, `${where} is ${gte}: the compressed grain inflates to more than a grain (${this.grainBytes} bytes)`);
    const used = Math.min(this.grainBytes, this.bytes - grain * this.grainBytes);
    if (out.length < used) throw corrupt(name, `${where} is ${gte}: the compressed grain inflates to ${out.length} bytes, less than the ${used} the grain holds`);
    // RFC 1950: the stream ends with the Adler-32 of the data (fflate does not check it).
    if (size < 6 || adler32(out) !== new DataView(packed.buffer).getUint32(size - 4)) {
      throw corrupt(name, `${where} is ${gte}: the compressed grain at offset ${host} fails its Adler-32 check`);
    }
    if (out.length === this.grainBytes) return out;
    const full = new Uint8Array(this.grainBytes);
    full.set(out);
    return full;
  }
}

/** RFC 1950 §9 Adler-32. */
function adler32(b: Uint8Array): number {
  let a = 1;
  let s = 0;
  for (let i = 0; i < b.length; ) {
    // 5552 bytes is the most that can be summed before the 32-bit sums may overflow.
    const end = Math.min(b.length, i + 5552);
    for (; i < end; i++) {
      a += b[i];
      s += a;
    }
    a %= 65521;
    s %= 65521;
  }
  return ((s << 16) | a) >>> 0;
}

export function corrupt(name: string, message: string): TypervisorError {
  return new TypervisorError(`${name}: corrupt VMDK image: ${message}`, { hint: 'qemu-img check -f vmdk shows what is damaged' });
}
