// Reading and writing VHD images (qemu-img's "vpc"), fixed and dynamic.
// Spec: Microsoft "Virtual Hard Disk Image Format Specification" v1.0.
import { TypervisorError } from '../../core/errors.js';
import { AsyncMutex } from '../async-mutex.js';
import { type BlockBackend, checkRange } from '../block-backend.js';
import type { ImageFile } from '../image-file.js';
import { TableCache } from '../qcow2/l2-cache.js';
import type { OpenBacking } from '../qcow2/qcow2-image.js';
import {
  BAT_UNALLOCATED,
  DISK_DIFFERENCING,
  DISK_DYNAMIC,
  DISK_FIXED,
  type DynamicHeader,
  DYNAMIC_HEADER_BYTES,
  FOOTER_BYTES,
  SECTOR,
  type VhdFooter,
  footerSectors,
  hasFooterCookie,
  parseDynamicHeader,
  parseFooter,
} from './vhd-footer.js';

export interface VhdOpenOptions {
  /** Open for reading only (default true). */
  readOnly?: boolean;
  /** Bytes of block bitmaps to keep in memory (default 1 MiB; at least one is kept). */
  bitmapCacheBytes?: number;
  /**
   * Flush a new block before its BAT entry is written (default true). False trades safety
   * against power loss for speed, as qemu-img convert's cache=unsafe target: for images that
   * are thrown away on failure. (Ordering against a killed process does not need the flush.)
   */
  syncAllocations?: boolean;
  /**
   * Opens the parent of a differencing disk (called with a candidate name from the parent
   * locators, relative to the image, and format "vpc"). Without it differencing disks are refused.
   */
  openBacking?: OpenBacking;
  /** Open a differencing disk without its parent (unallocated sectors read as zeros): for `img info`. */
  withoutParent?: boolean;
}

/** A BAT bigger than this (64 Mi entries) is refused rather than loaded into memory. */
export const MAX_BAT_BYTES = 256 * 1024 * 1024;
const ZERO_CHUNK = 1 << 20;

interface Region {
  readonly what: string;
  readonly start: number;
  readonly end: number;
}

/**
 * A VHD image as a {@link BlockBackend}.
 *
 * Fixed disks are the disk's bytes followed by the footer; reads and writes go straight to the
 * file. Dynamic disks ("Dynamic Disk Header Format", "Block Allocation Table and Data Blocks")
 * map each block (usually 2 MiB) through the BAT to a sector bitmap followed by the block's
 * data; unallocated blocks, and sectors whose bitmap bit is clear, read as zeros (or as the
 * parent's, for differencing disks). (QEMU ignores
 * the bitmap when reading and sets every bit when it allocates; images either of us writes
 * have zeros behind clear bits, so both read them alike.)
 *
 * Writes to a dynamic disk allocate a block at the end of the file on first write — see
 * `allocate` for the order that keeps flushed data safe when the process dies at any moment —
 * and set the bitmap bits of the sectors written. Requests on a writable image run one at a
 * time. Differencing disks read the sectors they do not hold (unallocated blocks, clear bitmap
 * bits) from their parent, found through the parent locators by `options.openBacking` (QEMU
 * reads them as if they had no parent). Not yet: discard.
 */
export class VhdImage implements BlockBackend {
  readonly capacity: number;
  readonly readOnly: boolean;
  /** 'fixed' or 'dynamic'. */
  readonly subformat: 'fixed' | 'dynamic';
  /** The dynamic disk's block size in bytes (0 for fixed disks). */
  readonly blockSize: number;
  private closed = false;
  private readonly mutex: AsyncMutex | undefined;
  private readonly bitmapBytes: number;
  private readonly bitmaps: TableCache<Uint8Array>;

  private constructor(
    private readonly file: ImageFile,
    /** The footer in force (for dynamic disks, the copy at offset 0). */
    readonly footer: VhdFooter,
    sectors: number,
    readOnly: boolean,
    private readonly dyn: { bat: Uint32Array; batOffset: number; blockSize: number; freeOffset: number; fileSize: number } | undefined,
    bitmapCacheBytes: number,
    private readonly syncAllocations: boolean,
    /** A differencing disk's parent: sectors this image does not hold come from it. */
    readonly parent: BlockBackend | undefined,
  ) {
    this.capacity = sectors * SECTOR;
    this.readOnly = readOnly;
    this.mutex = readOnly ? undefined : new AsyncMutex();
    this.subformat = dyn === undefined ? 'fixed' : 'dynamic';
    this.blockSize = dyn?.blockSize ?? 0;
    this.bitmapBytes = dyn === undefined ? 0 : bitmapBytesFor(dyn.blockSize);
    this.bitmaps = new TableCache(bitmapCacheBytes);
  }

  /** Opens `file` as a VHD image, validating the footer, the dynamic header and every BAT entry. */
  static async open(file: ImageFile, options: VhdOpenOptions = {}): Promise<VhdImage> {
    const name = file.name;
    const readOnly = options.readOnly ?? true;
    if (!readOnly && !file.writable) throw new TypervisorError(`${name}: cannot open a read-only file for writing`);
    if (!readOnly && options.withoutParent) throw new TypervisorError(`${name}: a VHD opened without its parent cannot be written`);
    const fileSize = await file.size();
    if (fileSize < FOOTER_BYTES) {
      throw new TypervisorError(`${name}: the file is ${fileSize} bytes long, too short for a VHD image (its footer alone is ${FOOTER_BYTES} bytes)`, {
        hint: 'the image is truncated, or not a VHD',
      });
    }
    // "Hard Disk Footer Format": dynamic and differencing disks keep a copy of the footer at
    // offset 0 (read first, as QEMU does: the copy at the end may be mid-move after a crash);
    // fixed disks have it only at the end.
    const head = await readAt(file, FOOTER_BYTES, 0);
    let footer: VhdFooter;
    let atStart: boolean;
    if (hasFooterCookie(head)) {
      footer = parseFooter(name, head, 0);
      atStart = true;
    } else {
      const at = fileSize - FOOTER_BYTES;
      const tail = await readAt(file, FOOTER_BYTES, at);
      if (!hasFooterCookie(tail)) {
        throw new TypervisorError(`${name}: no VHD footer ("conectix") at offset 0 or at the end of the file (offset ${at})`, {
          hint: 'the file is not a VHD (vpc) image; check -f/format=',
        });
      }
      footer = parseFooter(name, tail, at);
      atStart = false;
    }
    const type = footer.diskType;
    if (type === DISK_DIFFERENCING && options.openBacking === undefined && !options.withoutParent) {
      throw new TypervisorError(`${name}: a differencing VHD (disk type 4) needs its parent image, and no way to open it was given`, {
        hint: 'open it with openImage, which finds the parent through the parent locators',
      });
    }
    if (type !== DISK_FIXED && type !== DISK_DYNAMIC && type !== DISK_DIFFERENCING) {
      throw new TypervisorError(`${name}: the VHD footer gives disk type ${type}; only fixed (2) and dynamic (3) disks exist`, { hint: 'the footer is damaged' });
    }
    if (type === DISK_FIXED && atStart) {
      throw new TypervisorError(`${name}: the footer at offset 0 says fixed disk, but a fixed VHD has its footer only at the end`, { hint: 'the image is damaged' });
    }
    if (type !== DISK_FIXED && !atStart) {
      throw new TypervisorError(`${name}: a ${type === DISK_DYNAMIC ? 'dynamic' : 'differencing'} VHD without the copy of its footer at offset 0`, { hint: 'the start of the image is damaged' });
    }
    const sectors = footerSectors(name, footer);
    const cacheBytes = Math.max(0, options.bitmapCacheBytes ?? 1024 * 1024);
    if (type === DISK_FIXED) {
      const data = fileSize - FOOTER_BYTES;
      if (sectors * SECTOR > data) {
        throw new TypervisorError(`${name}: the footer gives a fixed disk of ${sectors * SECTOR} bytes, but the file holds only ${data} bytes before its footer`, {
          hint: 'the image is truncated or its footer damaged',
        });
      }
      return new VhdImage(file, footer, sectors, readOnly, undefined, cacheBytes, true, undefined);
    }
    const dyn = await openDynamic(name, file, footer, sectors * SECTOR, fileSize, !readOnly);
    const parent = type === DISK_DIFFERENCING && !options.withoutParent ? await openParent(name, file, dyn.header, fileSize, options.openBacking!) : undefined;
    try {
      return new VhdImage(file, footer, sectors, readOnly, dyn, cacheBytes, options.syncAllocations ?? true, parent);
    } catch (e) {
      await parent?.close().catch(() => undefined);
      throw e;
    }
  }

  async read(offset: number, dst: Uint8Array): Promise<void> {
    this.check('read', offset, dst.length);
    if (this.mutex === undefined) return this.readGuest(offset, dst);
    return this.mutex.run(() => this.readGuest(offset, dst));
  }

  async write(offset: number, src: Uint8Array): Promise<void> {
    this.check('write', offset, src.length);
    if (this.readOnly || this.mutex === undefined) throw new TypervisorError(`${this.file.name}: write refused: the disk is read-only`);
    if (src.length === 0) return;
    return this.mutex.run(() => this.writeGuest(offset, src));
  }

  async flush(): Promise<void> {
    if (this.closed) throw new TypervisorError(`${this.file.name}: flush after close`);
    if (this.mutex !== undefined) await this.mutex.run(() => this.file.flush());
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.mutex !== undefined) await this.mutex.run(async () => undefined);
    this.bitmaps.clear();
    try {
      await this.parent?.close();
    } finally {
      await this.file.close();
    }
  }

  private check(what: string, offset: number, length: number): void {
    if (this.closed) throw new TypervisorError(`${this.file.name}: ${what} after close`);
    checkRange(`${this.file.name}: ${what}`, offset, length, this.capacity);
  }

  private async readGuest(offset: number, dst: Uint8Array): Promise<void> {
    if (dst.length === 0) return;
    const dyn = this.dyn;
    if (dyn === undefined) return this.preadZeroFilled(dst, offset);
    const bs = dyn.blockSize;
    let done = 0;
    while (done < dst.length) {
      const pos = offset + done;
      const block = Math.floor(pos / bs);
      const inBlock = pos - block * bs;
      const n = Math.min(dst.length - done, bs - inBlock);
      const part = dst.subarray(done, done + n);
      const entry = dyn.bat[block];
      if (entry === BAT_UNALLOCATED) await this.readParent(pos, part);
      else await this.readBlock(block, entry, inBlock, part);
      done += n;
    }
  }

  /** Reads `part` from offset `inBlock` of an allocated block, sector runs by their bitmap bit. */
  private async readBlock(block: number, entry: number, inBlock: number, part: Uint8Array): Promise<void> {
    const bitmap = await this.bitmap(block, entry);
    const data = entry * SECTOR + this.bitmapBytes;
    const blockStart = block * this.blockSize;
    const end = inBlock + part.length;
    let s = Math.floor(inBlock / SECTOR);
    while (s * SECTOR < end) {
      const set = bitSet(bitmap, s);
      let t = s + 1;
      while (t * SECTOR < end && bitSet(bitmap, t) === set) t++;
      const from = Math.max(inBlock, s * SECTOR);
      const to = Math.min(end, t * SECTOR);
      const piece = part.subarray(from - inBlock, to - inBlock);
      if (set) await this.preadZeroFilled(piece, data + from);
      else await this.readParent(blockStart + from, piece);
      s = t;
    }
  }

  /** Sectors this image does not hold: the parent's (zeros past its end), or zeros. */
  private async readParent(pos: number, dst: Uint8Array): Promise<void> {
    const parent = this.parent;
    const n = parent === undefined ? 0 : Math.max(0, Math.min(dst.length, parent.capacity - pos));
    if (n > 0) await parent!.read(pos, dst.subarray(0, n));
    dst.fill(0, n);
  }

  private bitmap(block: number, entry: number): Promise<Uint8Array> {
    return this.bitmaps.get(block, async () => {
      const b = new Uint8Array(this.bitmapBytes);
      await this.preadZeroFilled(b, entry * SECTOR);
      return b;
    });
  }

  private async preadZeroFilled(dst: Uint8Array, at: number): Promise<void> {
    const n = await this.file.pread(dst, at);
    // The file may have shrunk under us since open: what is missing reads as zeros.
    if (n < dst.length) dst.fill(0, n);
  }

  private async writeGuest(offset: number, src: Uint8Array): Promise<void> {
    const dyn = this.dyn;
    if (dyn === undefined) {
      await this.file.pwrite(src, offset);
      return;
    }
    const bs = dyn.blockSize;
    let done = 0;
    while (done < src.length) {
      const pos = offset + done;
      const block = Math.floor(pos / bs);
      const inBlock = pos - block * bs;
      const n = Math.min(src.length - done, bs - inBlock);
      // Whole sectors: a partial first or last sector is completed with what the disk holds.
      const a = Math.floor(inBlock / SECTOR) * SECTOR;
      const b = Math.ceil((inBlock + n) / SECTOR) * SECTOR;
      const buf = new Uint8Array(b - a);
      if (a < inBlock) await this.readGuest(block * bs + a, buf.subarray(0, SECTOR));
      if (b > inBlock + n) await this.readGuest(block * bs + b - SECTOR, buf.subarray(buf.length - SECTOR));
      buf.set(src.subarray(done, done + n), inBlock - a);
      const entry = dyn.bat[block];
      if (entry === BAT_UNALLOCATED) await this.allocate(block, a, buf);
      else {
        const at = entry * SECTOR + this.bitmapBytes + a;
        if (this.parent === undefined) {
          // Dynamic disks: the bitmap bits first, then the data. Behind a clear bit the file
          // holds zeros (blocks are allocated zeroed), so a kill in between leaves the sectors
          // reading as before — and the same to QEMU, which ignores the bitmap. (Data first
          // would leave new bytes that QEMU reads and we do not.)
          await this.setBits(block, entry, a / SECTOR, b / SECTOR);
          await this.file.pwrite(buf, at);
        } else {
          // Differencing disks: a clear bit means "the parent's sector", so the data goes first
          // and the bit after it; a kill in between leaves the parent's sector showing.
          await this.file.pwrite(buf, at);
          await this.setBits(block, entry, a / SECTOR, b / SECTOR);
        }
      }
      done += n;
    }
  }

  private async setBits(block: number, entry: number, first: number, end: number): Promise<void> {
    const old = await this.bitmap(block, entry);
    let all = true;
    for (let s = first; s < end && all; s++) all = bitSet(old, s);
    if (all) return;
    const map = old.slice();
    for (let s = first; s < end; s++) map[s >> 3] |= 0x80 >> (s & 7);
    // Only the bitmap sectors that changed are written.
    const lo = Math.floor((first >> 3) / SECTOR) * SECTOR;
    const hi = Math.ceil((((end - 1) >> 3) + 1) / SECTOR) * SECTOR;
    await this.file.pwrite(map.subarray(lo, hi), entry * SECTOR + lo);
    this.bitmaps.set(block, map);
  }

  /**
   * Gives `block` its data at the end of the file and writes `data` (whole sectors) at offset
   * `at` in it. The new block goes where the footer is: its sector bitmap overwrites the footer.
   *
   * Order, so that a process killed at any moment loses no flushed data and leaves an image
   * QEMU and we open ("Block Allocation Table and Data Blocks"):
   *  1. The bitmap and the data. The BAT does not point here yet, so nothing the disk holds
   *     changes; the file may lack its trailing footer now, but readers take the copy at
   *     offset 0, and the next allocation computes this same place from the BAT.
   *  2. The footer at the new end of the file.
   *  3. A flush, so that the block is durable before anything points at it (power loss too).
   *  4. The BAT entry: 4 bytes, inside one sector. From here on the block is part of the disk;
   *     it is durable after the guest's next flush, as every write.
   * Bytes a killed allocation left behind (after step 1 or 2) sit where the next block goes;
   * they are zeroed first, as readers that ignore the bitmap (QEMU) would otherwise see them.
   */
  private async allocate(block: number, at: number, data: Uint8Array): Promise<void> {
    const dyn = this.dyn!;
    const name = this.file.name;
    const start = dyn.freeOffset;
    if (start / SECTOR >= BAT_UNALLOCATED) {
      throw new TypervisorError(`${name}: the image file has reached the largest size a VHD BAT can address`, { hint: 'convert the image to qcow2' });
    }
    const dataStart = start + this.bitmapBytes;
    const end = dataStart + dyn.blockSize;
    for (let z = dataStart; z < Math.min(dyn.fileSize, end); z += ZERO_CHUNK) {
      await this.file.pwrite(new Uint8Array(Math.min(ZERO_CHUNK, Math.min(dyn.fileSize, end) - z)), z);
    }
    const bitmap = new Uint8Array(this.bitmapBytes);
    for (let s = at / SECTOR; s < (at + data.length) / SECTOR; s++) bitmap[s >> 3] |= 0x80 >> (s & 7);
    await this.file.pwrite(bitmap, start);
    await this.file.pwrite(data, dataStart + at);
    await this.file.pwrite(this.footer.bytes, end);
    if (dyn.fileSize > end + FOOTER_BYTES) await this.file.truncate(end + FOOTER_BYTES);
    dyn.fileSize = end + FOOTER_BYTES;
    dyn.freeOffset = end;
    if (this.syncAllocations) await this.file.flush();
    const entry = start / SECTOR;
    const be = new Uint8Array(4);
    new DataView(be.buffer).setUint32(0, entry);
    await this.file.pwrite(be, dyn.batOffset + block * 4);
    dyn.bat[block] = entry;
    this.bitmaps.set(block, bitmap);
  }
}

/** "Block Bitmap": one bit per sector of the block, padded to a whole sector. */
function bitmapBytesFor(blockSize: number): number {
  return Math.ceil(blockSize / SECTOR / 8 / SECTOR) * SECTOR;
}

/** The bitmap's bit for sector `s`: the most significant bit of byte 0 is sector 0. */
function bitSet(map: Uint8Array, s: number): boolean {
  return (map[s >> 3] & (0x80 >> (s & 7))) !== 0;
}

async function readAt(file: ImageFile, length: number, at: number): Promise<Uint8Array> {
  const b = new Uint8Array(length);
  const n = await file.pread(b, at);
  if (n < length) b.fill(0, n);
  return b;
}

const hex = (n: number | bigint) => `0x${n.toString(16)}`;

async function openDynamic(name: string, file: ImageFile, footer: VhdFooter, capacity: number, fileSize: number, writable: boolean) {
  const headerAt = footer.dataOffset;
  if (headerAt < BigInt(FOOTER_BYTES) || headerAt + BigInt(DYNAMIC_HEADER_BYTES) > BigInt(fileSize)) {
    throw new TypervisorError(`${name}: the footer puts the dynamic disk header at offset ${headerAt}, outside the file (${fileSize} bytes, footer copy in the first ${FOOTER_BYTES})`, {
      hint: 'the image is damaged or truncated',
    });
  }
  const hdrOffset = Number(headerAt);
  const hdr = parseDynamicHeader(name, await readAt(file, DYNAMIC_HEADER_BYTES, hdrOffset), headerAt);
  const bs = hdr.blockSize;
  if (bs < SECTOR || (bs & (bs - 1)) !== 0) {
    throw new TypervisorError(`${name}: the dynamic disk header gives block size ${bs}, not a power of two of at least ${SECTOR} bytes`, { hint: 'the header is damaged (VHD blocks are usually 2 MiB)' });
  }
  const entries = hdr.maxTableEntries;
  if (entries * bs < capacity) {
    throw new TypervisorError(`${name}: the BAT has ${entries} entries of ${bs}-byte blocks, covering ${entries * bs} bytes, less than the disk's ${capacity}`, {
      hint: 'the header or footer is damaged',
    });
  }
  if (entries * 4 > MAX_BAT_BYTES) {
    throw new TypervisorError(`${name}: the BAT has ${entries} entries (${entries * 4} bytes), more than the ${MAX_BAT_BYTES / 4} typervisor loads`, {
      hint: 'the header is damaged, or the image uses tiny blocks: convert it with qemu-img convert -O vpc',
    });
  }
  const batAt = hdr.tableOffset;
  const batBytes = entries * 4;
  if (batAt + BigInt(batBytes) > BigInt(fileSize)) {
    throw new TypervisorError(`${name}: the BAT (${entries} entries at offset ${batAt}) ends past the end of the file (${fileSize} bytes)`, { hint: 'the image is truncated or its header damaged' });
  }
  const batOffset = Number(batAt);
  const metadata: Region[] = [
    { what: 'the footer copy', start: 0, end: FOOTER_BYTES },
    { what: 'the dynamic disk header', start: hdrOffset, end: hdrOffset + DYNAMIC_HEADER_BYTES },
    { what: 'the BAT', start: batOffset, end: batOffset + batBytes },
  ];
  // Parent locators' data (differencing disks) is metadata too: blocks must not cover it.
  for (const [i, l] of (footer.diskType === DISK_DIFFERENCING ? hdr.locators : []).entries()) {
    const start = Number(l.dataOffset);
    const len = Math.ceil(Math.max(l.dataLength, 1) / SECTOR) * SECTOR;
    if (l.dataLength === 0 || l.dataOffset >= BigInt(fileSize)) continue;
    metadata.push({ what: `parent locator ${i} (${JSON.stringify(l.code)})`, start, end: Math.min(start + len, fileSize) });
  }
  for (const m of metadata.slice(0, 2)) {
    if (batBytes > 0 && batOffset < m.end && m.start < batOffset + batBytes) {
      throw new TypervisorError(`${name}: the BAT (offset ${batOffset}, ${batBytes} bytes) overlaps ${m.what}`, { hint: 'the header is damaged' });
    }
  }
  const raw = await readAt(file, batBytes, batOffset);
  const view = new DataView(raw.buffer);
  const bat = new Uint32Array(entries);
  const bitmapBytes = bitmapBytesFor(bs);
  const span = bitmapBytes + bs;
  let freeOffset = Math.max(...metadata.map((m) => Math.ceil(m.end / SECTOR) * SECTOR));
  const starts: number[] = [];
  for (let i = 0; i < entries; i++) {
    const e = view.getUint32(i * 4);
    bat[i] = e;
    if (e === BAT_UNALLOCATED) continue;
    const start = e * SECTOR;
    const end = start + span;
    const where = `BAT entry ${i} (${hex(e)}): block at offset ${start}`;
    if (end > fileSize) {
      throw new TypervisorError(`${name}: ${where} ends at ${end}, past the end of the file (${fileSize} bytes)`, {
        hint: 'the image is truncated (qemu-img: "free_data_block_offset points after the end of file")',
      });
    }
    for (const m of metadata) {
      if (start < m.end && m.start < end) throw new TypervisorError(`${name}: ${where} overlaps ${m.what}`, { hint: 'the BAT is damaged' });
    }
    if (end > freeOffset) freeOffset = end;
    if (writable) starts.push(start);
  }
  // Two entries sharing bytes would make a write to one block change another: refuse to write.
  if (writable) {
    starts.sort((x, y) => x - y);
    for (let i = 1; i < starts.length; i++) {
      if (starts[i] < starts[i - 1] + span) {
        throw new TypervisorError(`${name}: two BAT entries point at overlapping blocks (offsets ${starts[i - 1]} and ${starts[i]})`, {
          hint: 'the BAT is damaged; open the image read-only and copy its data out',
        });
      }
    }
  }
  return { bat, batOffset, blockSize: bs, freeOffset, fileSize, header: hdr };
}

/** Longest parent locator path read (Windows paths are at most 32767 UTF-16 units). */
const MAX_LOCATOR_BYTES = 65536;

/**
 * Finds and opens a differencing disk's parent ("Parent Locator Entry"): the names from the
 * relative Windows path (W2ru), the file URL (MacX), the absolute Windows path (W2ku, by its
 * base name, since drive letters mean nothing here) and the header's parent name, in that
 * order, each relative to the image. The parent must carry the UUID the header records.
 */
async function openParent(name: string, file: ImageFile, hdr: DynamicHeader, fileSize: number, openBacking: OpenBacking): Promise<BlockBackend> {
  const names: string[] = [];
  const add = (n: string) => {
    const clean = n.replace(/\0+$/, '').replace(/\\/g, '/').replace(/^(\.\/)+/, '');
    if (clean !== '' && !names.includes(clean)) names.push(clean);
  };
  const order = ['W2ru', 'MacX', 'W2ku'];
  for (const code of order) {
    for (const l of hdr.locators) {
      if (l.code !== code || l.dataLength === 0 || l.dataLength > MAX_LOCATOR_BYTES || l.dataOffset + BigInt(l.dataLength) > BigInt(fileSize)) continue;
      const raw = await readAt(file, l.dataLength, Number(l.dataOffset));
      if (code === 'MacX') {
        const url = new TextDecoder().decode(raw).replace(/^file:\/\//, '');
        try {
          add(decodeURIComponent(url));
        } catch {
          add(url);
        }
      } else {
        const path = new TextDecoder('utf-16le').decode(raw);
        add(code === 'W2ku' ? path.slice(Math.max(path.lastIndexOf('\\'), path.lastIndexOf('/')) + 1) : path);
      }
    }
  }
  add(hdr.parentName.slice(Math.max(hdr.parentName.lastIndexOf('\\'), hdr.parentName.lastIndexOf('/')) + 1));
  if (names.length === 0) {
    throw new TypervisorError(`${name}: a differencing VHD that names no parent (no parent locator or parent name)`, { hint: 'the header is damaged' });
  }
  const failures: string[] = [];
  for (const candidate of names) {
    let parent: BlockBackend;
    try {
      parent = await openBacking(candidate, 'vpc');
    } catch (e) {
      if (!(e instanceof TypervisorError)) throw e;
      failures.push(`${candidate}: ${e.message}`);
      continue;
    }
    const uuid = parent instanceof VhdImage ? parent.footer.uuid : undefined;
    if (uuid === undefined || !uuid.every((b, i) => b === hdr.parentUuid[i])) {
      await parent.close().catch(() => undefined);
      throw new TypervisorError(`${name}: its parent ${candidate} is not the image it was made from (UUID ${uuidText(uuid)}, expected ${uuidText(hdr.parentUuid)})`, {
        hint: 'the parent was replaced or modified; find the original parent image',
      });
    }
    return parent;
  }
  throw new TypervisorError(`${name}: cannot open the parent of this differencing VHD (tried ${failures.join('; ')})`, {
    hint: 'put the parent image where the differencing disk names it (relative to the differencing disk)',
  });
}

function uuidText(u: Uint8Array | undefined): string {
  if (u === undefined) return 'none: not a VHD';
  const h = [...u].map((b) => b.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
