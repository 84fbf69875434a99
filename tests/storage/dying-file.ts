import { TypervisorError } from '../../src/core/errors.js';
import type { ImageFile } from '../../src/storage/image-file.js';
import type { MemoryImageFile } from '../../src/storage/memory-image-file.js';

/** An ImageFile whose writes fail after `budget` of them, as if the process died there. */
export class DyingFile implements ImageFile {
  writes = 0;
  constructor(private readonly inner: MemoryImageFile, private readonly budget: number) {}
  get name() { return this.inner.name; }
  get writable() { return true; }
  size() { return this.inner.size(); }
  pread(dst: Uint8Array, offset: number) { return this.inner.pread(dst, offset); }
  async pwrite(src: Uint8Array, offset: number) {
    if (this.writes++ >= this.budget) throw new TypervisorError('killed');
    return this.inner.pwrite(src, offset);
  }
  truncate(size: number) { return this.inner.truncate(size); }
  flush() { return this.inner.flush(); }
  close() { return this.inner.close(); }
}
