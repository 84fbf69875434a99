import { TypervisorError } from '../core/errors.js';
import type { ImageFile } from './image-file.js';

/**
 * Gathers the pieces of one guest read that come from consecutive host offsets — blocks or
 * grains an image stores one after another, as most do — so that each run costs one pread.
 * Usage: `add()` each mapped piece in guest order, `flush()` before filling a piece some other
 * way (zeros, decompression) and at the end.
 */
export class ContiguousReads {
  private host = 0;
  private start = 0;
  private length = 0;

  /** @param what names the data in errors, e.g. "block data". */
  constructor(private readonly file: ImageFile, private readonly dst: Uint8Array, private readonly what: string) {}

  /** `dst[at, at + n)` holds the bytes at host offset `host`. */
  async add(at: number, host: number, n: number): Promise<void> {
    if (this.length > 0 && this.host + this.length === host && this.start + this.length === at) {
      this.length += n;
      return;
    }
    await this.flush();
    this.host = host;
    this.start = at;
    this.length = n;
  }

  /** Reads the run gathered so far. */
  async flush(): Promise<void> {
    if (this.length === 0) return;
    const part = this.dst.subarray(this.start, this.start + this.length);
    this.length = 0;
    const got = await this.file.pread(part, this.host);
    // Offsets were checked against the file size at open: a short read means it shrank since.
    if (got < part.length) {
      throw new TypervisorError(`${this.file.name}: the file shrank while open: ${this.what} at offset ${this.host} ends past its end`, {
        hint: 'do not modify an image while it is in use',
      });
    }
  }
}
