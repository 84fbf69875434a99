import { TypervisorError } from '../../core/errors.js';
import { type BlockBackend, type BlockStatus, checkRange } from '../block-backend.js';
import type { ImageFile } from '../image-file.js';

/**
 * A raw image: the file's bytes are the disk's bytes, capacity = the file's size when opened.
 *
 * `discard` validates the range and does nothing: punching holes needs fallocate(2), which
 * neither Node's fs API nor browsers offer, and writing zeros would allocate the blocks a
 * discard is meant to free. So discarded bytes keep their old contents (allowed by the
 * BlockBackend contract). Where the file system is sparse, never-written ranges stay holes.
 */
export class RawImage implements BlockBackend {
  readonly capacity: number;
  readonly readOnly: boolean;
  private closed = false;

  private constructor(private readonly file: ImageFile, capacity: number, readOnly: boolean) {
    this.capacity = capacity;
    this.readOnly = readOnly;
  }

  /** Opens `file` as a raw disk; `readOnly` defaults to the file not being writable. */
  static async open(file: ImageFile, options: { readOnly?: boolean } = {}): Promise<RawImage> {
    const readOnly = options.readOnly ?? !file.writable;
    if (!readOnly && !file.writable) throw new TypervisorError(`${file.name}: cannot open a read-only file for writing`);
    return new RawImage(file, await file.size(), readOnly);
  }

  async read(offset: number, dst: Uint8Array): Promise<void> {
    this.check('read', offset, dst.length);
    if (dst.length === 0) return;
    const n = await this.file.pread(dst, offset);
    // The file may have shrunk under us since open: what is missing reads as zeros.
    if (n < dst.length) dst.fill(0, n);
  }

  async write(offset: number, src: Uint8Array): Promise<void> {
    this.check('write', offset, src.length);
    this.checkWritable('write');
    if (src.length > 0) await this.file.pwrite(src, offset);
  }

  async flush(): Promise<void> {
    if (this.closed) throw new TypervisorError(`${this.file.name}: flush after close`);
    if (!this.readOnly) await this.file.flush();
  }

  async discard(offset: number, length: number): Promise<void> {
    this.check('discard', offset, length);
    this.checkWritable('discard');
  }

  /** Every byte is data at the same offset of the file (holes are not visible to us: no SEEK_HOLE in Node or browsers). */
  async blockStatus(offset: number, length: number): Promise<BlockStatus> {
    this.check('block status', offset, length);
    return { length, data: true, zero: false, offset };
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

  private checkWritable(what: string): void {
    if (this.readOnly) throw new TypervisorError(`${this.file.name}: ${what} refused: the disk is read-only`);
  }
}
