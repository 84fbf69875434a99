// `img commit`: writes what an image allocates into its backing image, as qemu-img commit
// (QEMU 7.2 runs a commit block job from the image to its direct backing file, then empties the
// image unless -d).
import { TypervisorError } from '../core/errors.js';
import type { BlockBackend } from './block-backend.js';
import type { ImageFileSystem } from './image-file.js';
import { resizeImage } from './image-resize.js';
import { openImage } from './open-image.js';
import { probeFormat } from './probe-format.js';
import { makeQcow2Empty } from './qcow2/qcow2-make-empty.js';
import { readQcow2Header } from './qcow2/qcow2-resize.js';

export interface CommitOptions {
  /** The image's format (undefined: probed). */
  format?: string;
  /** Empty the image afterwards (qemu-img's default; -d keeps it). */
  empty: boolean;
  /** Called with the bytes looked at so far and the disk's size. */
  progress?: (done: number, total: number, final?: boolean) => void;
}

const CHUNK = 1 << 20;

function isZero(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

/**
 * Zeroes `length` bytes at `offset` of `disk`: discarded where the backend makes discarded
 * clusters read as zeros (qcow2 v3: zero clusters), written as zeros everywhere else.
 */
export async function writeZeros(disk: BlockBackend, offset: number, length: number): Promise<void> {
  if (disk.discard !== undefined) await disk.discard(offset, length);
  const buf = new Uint8Array(Math.min(length, CHUNK));
  for (let pos = offset; pos < offset + length; pos += buf.length) {
    const part = buf.subarray(0, Math.min(buf.length, offset + length - pos));
    await disk.read(pos, part);
    if (!isZero(part)) await disk.write(pos, part.fill(0));
  }
}

/**
 * Copies every range the image `name` allocates (data and zero clusters) into its backing
 * image, growing the backing image first when it is smaller, flushes it, and then — with
 * `empty` — unmaps everything in the image so it reads through to the backing file again.
 * An image without a backing file is refused before anything is written.
 */
export async function commitImage(fs: ImageFileSystem, name: string, o: CommitOptions): Promise<void> {
  const key = await fs.resolve(name);
  const file = await fs.open(key, { writable: false });
  let backingName: string | undefined;
  let backingFormat: string | undefined;
  try {
    const fmt = o.format ?? (await probeFormat(file));
    if (fmt === 'qcow2') {
      const { header } = await readQcow2Header(file);
      backingName = header.backingFile;
      backingFormat = header.backingFormat;
      if (o.empty && header.nbSnapshots > 0) throw new TypervisorError(`${name}: the image has internal snapshots and cannot be emptied after the commit`, { hint: 'use -d to keep its contents' });
    } else if (fmt !== 'raw') throw new TypervisorError(`${name}: the ${fmt} image format is not supported`);
  } finally {
    await file.close();
  }
  if (backingName === undefined) throw new TypervisorError(`${name}: Image does not have a backing file`, { hint: 'only an overlay (qcow2 with -b) can be committed' });
  const baseKey = await fs.resolve(backingName, key);

  const top = await openImage(fs, key, { readOnly: true, format: 'qcow2' });
  try {
    const baseOpts = backingFormat !== undefined ? { format: backingFormat } : {};
    const baseSize = top.backing!.capacity;
    if (baseSize < top.capacity) await resizeImage(fs, baseKey, { ...baseOpts, size: { absolute: top.capacity }, shrink: false });
    const base = await openImage(fs, baseKey, { ...baseOpts, readOnly: false });
    try {
      const buf = new Uint8Array(CHUNK);
      const total = top.capacity;
      o.progress?.(0, total);
      for (let pos = 0; pos < total; ) {
        const st = await top.blockStatus!(pos, Math.min(CHUNK, total - pos));
        if (st.zero) await writeZeros(base, pos, st.length);
        else if (st.data) {
          const part = buf.subarray(0, st.length);
          await top.read(pos, part);
          await base.write(pos, part);
        }
        pos += st.length;
        o.progress?.(pos, total);
      }
      await base.flush();
      o.progress?.(total, total, true);
    } finally {
      await base.close();
    }
  } finally {
    await top.close();
  }
  if (o.empty) {
    const f = await fs.open(key, { writable: true });
    try {
      await makeQcow2Empty(f);
    } finally {
      await f.close();
    }
  }
}
