// Reading VirtualBox VDI images (dynamic and fixed, header 1.1): a block map of u32 entries,
// one per 1 MiB block, each the index of the block in the data area or 0xffffffff (free) /
// 0xfffffffe (discarded: zeros). See vdi-header.ts for the header.
import { TypervisorError } from '../../core/errors.js';
import { type BlockBackend, checkRange } from '../block-backend.js';
import type { ImageFile } from '../image-file.js';
import { readExact } from '../read-exact.js';
import { readOnlyError } from '../read-only-format.js';
import { parseVdiHeader, VDI_DISCARDED, VDI_HEADER_BYTES, type VdiHeader } from './vdi-header.js';
import { ContiguousReads } from '../contiguous-reads.js';

/**
 * A VDI image as a read-only {@link BlockBackend}. `open` validates the header and every block
 * map entry (inside the file, no block used twice), so reads only copy bytes.
 */
export class VdiImage implements BlockBackend {
  readonly capacity: number;
  readonly readOnly = true;
  private closed = false;

  private constructor(
    private readonly file: ImageFile,
    readonly header: VdiHeader,
    /** Host byte offset of each block's data, or -1 when it reads as zeros. */
    private readonly blocks: Float64Array,
  ) {
    this.capacity = header.diskSize;
  }

  /** Blocks that hold data. */
  get allocatedBlocks(): number {
    return this.blocks.reduce((n, b) => n + (b >= 0 ? 1 : 0), 0);
  }

  static async open(file: ImageFile): Promise<VdiImage> {
    const name = file.name;
    const fileSize = await file.size();
    const head = new Uint8Array(Math.min(VDI_HEADER_BYTES, fileSize));
    await readExact(file, head, 0, 'the header', 'VDI');
    const h = parseVdiHeader(name, head, fileSize);
    const map = new Uint8Array(h.blocksInImage * 4);
    await readExact(file, map, h.offsetBmap, 'the block map', 'VDI');
    const view = new DataView(map.buffer);
    const blocks = new Float64Array(h.blocksInImage);
    const owner = new Map<number, number>();
    for (let i = 0; i < h.blocksInImage; i++) {
      const e = view.getUint32(i * 4, true);
      if (e >= VDI_DISCARDED) {
        blocks[i] = -1;
        continue;
      }
      const host = h.offsetData + e * h.blockSize;
      if (host + h.blockSize > fileSize) {
        throw corrupt(name, `block map entry ${i} is ${e}: its data (${h.blockSize} bytes at offset ${host}) ends past the end of the file (${fileSize} bytes)`);
      }
      const other = owner.get(e);
      if (other !== undefined) throw corrupt(name, `block map entries ${other} and ${i} both point at data block ${e}`);
      owner.set(e, i);
      blocks[i] = host;
    }
    return new VdiImage(file, h, blocks);
  }

  async read(offset: number, dst: Uint8Array): Promise<void> {
    this.check('read', offset, dst.length);
    const bs = this.header.blockSize;
    // Blocks that lie one after another in the file (always, in a fixed image) are read with one pread.
    const reads = new ContiguousReads(this.file, dst, 'block data');
    let done = 0;
    while (done < dst.length) {
      const pos = offset + done;
      const block = Math.floor(pos / bs);
      const within = pos - block * bs;
      const n = Math.min(bs - within, dst.length - done);
      const host = this.blocks[block];
      if (host < 0) {
        await reads.flush();
        dst.fill(0, done, done + n);
      } else await reads.add(done, host + within, n);
      done += n;
    }
    await reads.flush();
  }

  async write(offset: number, src: Uint8Array): Promise<void> {
    this.check('write', offset, src.length);
    throw readOnlyError(this.file.name, 'vdi');
  }

  async flush(): Promise<void> {
    if (this.closed) throw new TypervisorError(`${this.file.name}: flush after close`);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.file.close();
  }

  private check(what: string, offset: number, length: number): void {
    if (this.closed) throw new TypervisorError(`${this.file.name}: ${what} after close`);
    checkRange(`${this.file.name}: ${what}`, offset, length, this.capacity);
  }
}

function corrupt(name: string, message: string): TypervisorError {
  return new TypervisorError(`${name}: corrupt VDI image: ${message}`, { hint: 'the block map is damaged; VBoxManage or qemu-img check may repair it' });
}
