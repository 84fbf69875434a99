import { TypervisorError } from '../core/errors.js';
import type { ImageFile } from './image-file.js';

/** An {@link ImageFile} in memory: for tests, and for images built in a browser tab. */
export class MemoryImageFile implements ImageFile {
  readonly name: string;
  readonly writable: boolean;
  private bytes: Uint8Array;
  private length: number;
  private closed = false;

  /** Starts with a copy of `initial`; `writable` defaults to true. */
  constructor(initial: Uint8Array = new Uint8Array(0), options: { name?: string; writable?: boolean } = {}) {
    this.name = options.name ?? 'memory';
    this.writable = options.writable ?? true;
    this.bytes = initial.slice();
    this.length = initial.length;
  }

  /** A copy of the current contents. */
  contents(): Uint8Array {
    return this.bytes.slice(0, this.length);
  }

  async size(): Promise<number> {
    this.check('size', 0);
    return this.length;
  }

  async pread(dst: Uint8Array, offset: number): Promise<number> {
    this.check('read', offset);
    if (offset >= this.length) return 0;
    const n = Math.min(dst.length, this.length - offset);
    dst.set(this.bytes.subarray(offset, offset + n));
    return n;
  }

  async pwrite(src: Uint8Array, offset: number): Promise<void> {
    this.check('write', offset);
    this.checkWritable();
    const end = offset + src.length;
    this.grow(end);
    this.bytes.set(src, offset);
    if (end > this.length) this.length = end;
  }

  async truncate(size: number): Promise<void> {
    this.check('truncate', size);
    this.checkWritable();
    this.grow(size);
    if (size < this.length) this.bytes.fill(0, size, this.length);
    this.length = size;
  }

  async flush(): Promise<void> {
    this.check('flush', 0);
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private grow(end: number): void {
    if (end <= this.bytes.length) return;
    const next = new Uint8Array(Math.max(end, this.bytes.length * 2, 4096));
    next.set(this.bytes.subarray(0, this.length));
    this.bytes = next;
  }

  private check(op: string, offset: number): void {
    if (this.closed) throw new TypervisorError(`${this.name}: ${op} after close`);
    if (!Number.isSafeInteger(offset) || offset < 0) throw new TypervisorError(`${this.name}: ${op} at bad offset ${offset}`);
  }

  private checkWritable(): void {
    if (!this.writable) throw new TypervisorError(`${this.name}: the file is open read-only`);
  }
}
