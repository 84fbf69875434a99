// Small qcow2 images made by qemu-img, as bytes to patch, and an in-memory ImageFileSystem.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { TypervisorError } from '../../src/core/errors.js';
import type { ImageFile, ImageFileSystem } from '../../src/storage/image-file.js';
import { MemoryImageFile } from '../../src/storage/memory-image-file.js';
import { qemu, qemuIo, tempDir } from './qemu-tools.js';

/** Runs `make(dir)` in a temporary directory and returns the bytes of the file it names. */
export function imageBytes(make: (dir: string) => string, prepare?: (dir: string) => void): Uint8Array {
  const t = tempDir('qcow2-bytes-');
  try {
    prepare?.(t.dir);
    return new Uint8Array(readFileSync(make(t.dir)));
  } finally {
    t.remove();
  }
}

/** A 1 MiB v3 (or v2) image with data in its first cluster and at 512 KiB, and a zero cluster. */
export function smallImage(options: { compat?: '0.10' | '1.1'; clusterSize?: number; compressed?: boolean } = {}): Uint8Array {
  return imageBytes((dir) => {
    const f = path.join(dir, 'small.qcow2');
    const o = `compat=${options.compat ?? '1.1'},cluster_size=${options.clusterSize ?? 65536}`;
    qemu('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', o, f, '1M']);
    qemuIo(f, ['write -P 0xab 0 4k', 'write -P 0xcd 512k 4k', ...(options.compat === '0.10' ? [] : ['write -z 256k 4k'])]);
    if (!options.compressed) return f;
    const c = path.join(dir, 'small-c.qcow2');
    qemu('qemu-img', ['convert', '-c', '-O', 'qcow2', '-o', o, f, c]);
    return c;
  });
}

/** Big-endian field access on image bytes. */
export const be = {
  u32: (b: Uint8Array, at: number) => new DataView(b.buffer, b.byteOffset).getUint32(at),
  /** A u64 that is an offset (below 2^53). */
  u64: (b: Uint8Array, at: number) => Number(new DataView(b.buffer, b.byteOffset).getBigUint64(at)),
  /** A u64 as it is (L1/L2 entries carry flags in bits 62-63). */
  u64n: (b: Uint8Array, at: number) => new DataView(b.buffer, b.byteOffset).getBigUint64(at),
  setU32: (b: Uint8Array, at: number, v: number) => new DataView(b.buffer, b.byteOffset).setUint32(at, v),
  setU64: (b: Uint8Array, at: number, v: number | bigint) => new DataView(b.buffer, b.byteOffset).setBigUint64(at, BigInt(v)),
};

/** Files by name in memory; names are keys as they are (no directories). */
export class MemoryImageFileSystem implements ImageFileSystem {
  readonly files = new Map<string, Uint8Array>();
  opened = 0;

  constructor(files: Record<string, Uint8Array> = {}) {
    for (const [k, v] of Object.entries(files)) this.files.set(k, v);
  }

  async resolve(name: string): Promise<string> {
    if (!this.files.has(name)) throw new TypervisorError(`${name}: cannot open: no such file`);
    return name;
  }

  async open(key: string, options: { writable: boolean }): Promise<ImageFile> {
    this.opened++;
    return new MemoryImageFile(this.files.get(key)!, { name: key, writable: options.writable });
  }
}

/** A qcow2 image of `size` with backing file `backing` (format `format`), made by qemu-img without opening the backing file. */
export function overlayNaming(backing: string, format: string, size = '1M'): Uint8Array {
  return imageBytes((dir) => {
    const f = path.join(dir, 'overlay.qcow2');
    qemu('qemu-img', ['create', '-q', '-f', 'qcow2', '-u', '-b', backing, '-F', format, f, size]);
    return f;
  });
}
