// Node's side of the storage layer: image files through node:fs/promises.
import { type FileHandle, open, realpath } from 'node:fs/promises';
import path from 'node:path';
import { TypervisorError } from '../core/errors.js';
import type { ImageFile, ImageFileSystem } from '../storage/image-file.js';

function ioError(name: string, op: string, e: unknown): TypervisorError {
  const code = (e as NodeJS.ErrnoException).code;
  const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : (e as Error).message;
  return new TypervisorError(`${name}: cannot ${op}: ${why}`, { cause: e });
}

/** An {@link ImageFile} on a Node FileHandle. */
export class NodeImageFile implements ImageFile {
  private constructor(readonly name: string, readonly writable: boolean, private readonly fh: FileHandle) {}

  /** Opens `file` for reading (and writing when `writable`). */
  static async open(file: string, options: { writable?: boolean } = {}): Promise<NodeImageFile> {
    const writable = options.writable ?? false;
    try {
      return new NodeImageFile(file, writable, await open(file, writable ? 'r+' : 'r'));
    } catch (e) {
      throw ioError(file, 'open', e);
    }
  }

  async size(): Promise<number> {
    try {
      return (await this.fh.stat()).size;
    } catch (e) {
      throw ioError(this.name, 'stat', e);
    }
  }

  async pread(dst: Uint8Array, offset: number): Promise<number> {
    let done = 0;
    try {
      while (done < dst.length) {
        const { bytesRead } = await this.fh.read(dst, done, dst.length - done, offset + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
    } catch (e) {
      throw ioError(this.name, `read at offset ${offset + done}`, e);
    }
    return done;
  }

  async pwrite(src: Uint8Array, offset: number): Promise<void> {
    if (!this.writable) throw new TypervisorError(`${this.name}: the file is open read-only`);
    let done = 0;
    try {
      while (done < src.length) {
        const { bytesWritten } = await this.fh.write(src, done, src.length - done, offset + done);
        done += bytesWritten;
      }
    } catch (e) {
      throw ioError(this.name, `write at offset ${offset + done}`, e);
    }
  }

  async truncate(size: number): Promise<void> {
    if (!this.writable) throw new TypervisorError(`${this.name}: the file is open read-only`);
    try {
      await this.fh.truncate(size);
    } catch (e) {
      throw ioError(this.name, 'truncate', e);
    }
  }

  async flush(): Promise<void> {
    if (!this.writable) return;
    try {
      await this.fh.datasync();
    } catch (e) {
      throw ioError(this.name, 'flush', e);
    }
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}

/**
 * Image files on the host's file system: names resolve to real paths (symlinks followed), a
 * backing name relative to the directory of the image that names it.
 */
export const nodeImageFileSystem: ImageFileSystem = {
  async resolve(name: string, relativeTo?: string): Promise<string> {
    const base = relativeTo === undefined ? process.cwd() : path.dirname(relativeTo);
    const full = path.resolve(base, name);
    try {
      return await realpath(full);
    } catch (e) {
      throw ioError(full, 'open', e);
    }
  },
  open(key: string, options: { writable: boolean }): Promise<ImageFile> {
    return NodeImageFile.open(key, options);
  },
};
