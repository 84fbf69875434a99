// `img rebase`: changes an image's backing file, as qemu-img rebase (QEMU 7.2). Safe mode keeps
// what the image reads: wherever the image itself allocates nothing and the old and the new
// backing chain differ (compared in 512-byte sectors, as qemu-img), the old bytes are copied
// into the image first; then the header names the new backing file. Unsafe mode (-u) only
// rewrites the header.
import { TypervisorError } from '../core/errors.js';
import type { BlockBackend } from './block-backend.js';
import type { ImageFileSystem } from './image-file.js';
import { openImage } from './open-image.js';
import { probeFormat } from './probe-format.js';
import { setQcow2Backing } from './qcow2/qcow2-backing-header.js';

export interface RebaseOptions {
  /** The image's format (undefined: probed). */
  format?: string;
  /** The new backing file as it will be recorded (relative to the image), or undefined for none. */
  backing: { name: string; format: string } | undefined;
  /** Only rewrite the header (qemu-img rebase -u). */
  unsafe: boolean;
  progress?: (done: number, total: number, final?: boolean) => void;
}

const CHUNK = 1 << 20;
const SECTOR = 512;

/** Reads from `disk`, or zeros past its end (or without a disk): how a backing file is seen. */
async function readOrZeros(disk: BlockBackend | undefined, pos: number, dst: Uint8Array): Promise<void> {
  const avail = disk === undefined ? 0 : Math.max(0, Math.min(dst.length, disk.capacity - pos));
  if (avail > 0) await disk!.read(pos, dst.subarray(0, avail));
  dst.fill(0, avail);
}

function sameSector(a: Uint8Array, b: Uint8Array, at: number, end: number): boolean {
  for (let i = at; i < end; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Rebases the image `name` (qcow2) onto `o.backing`; the image is unchanged when this throws before the copy. */
export async function rebaseImage(fs: ImageFileSystem, name: string, o: RebaseOptions): Promise<void> {
  const key = await fs.resolve(name);
  const probe = await fs.open(key, { writable: false });
  try {
    const fmt = o.format ?? (await probeFormat(probe));
    if (fmt !== 'qcow2') throw new TypervisorError(`${name}: a ${fmt} image has no backing file to change`, { hint: 'only qcow2 images have backing files' });
  } finally {
    await probe.close();
  }
  if (!o.unsafe) {
    const top = await openImage(fs, key, { format: 'qcow2', readOnly: false });
    try {
      let newBacking: BlockBackend | undefined;
      if (o.backing !== undefined) {
        try {
          newBacking = await openImage(fs, await fs.resolve(o.backing.name, key), { format: o.backing.format, readOnly: true });
        } catch (e) {
          const why = e instanceof Error ? e.message : String(e);
          throw new TypervisorError(`Could not open new backing file '${o.backing.name}': ${why}`, { hint: 'the name is relative to the image\'s directory; use -u to record it anyway' });
        }
      }
      try {
        const oldBuf = new Uint8Array(CHUNK);
        const newBuf = new Uint8Array(CHUNK);
        const total = top.capacity;
        o.progress?.(0, total);
        for (let pos = 0; pos < total; ) {
          const st = await top.blockStatus!(pos, Math.min(CHUNK, total - pos));
          const n = st.length;
          if (!st.data && !st.zero) {
            // Not allocated here: the image reads the old chain now, and will read the new one.
            const a = oldBuf.subarray(0, n);
            const b = newBuf.subarray(0, n);
            await top.read(pos, a);
            await readOrZeros(newBacking, pos, b);
            let runStart = -1;
            for (let at = 0; at <= n; at += SECTOR) {
              const differs = at < n && !sameSector(a, b, at, Math.min(at + SECTOR, n));
              if (differs && runStart < 0) runStart = at;
              if (!differs && runStart >= 0) {
                const end = Math.min(at, n);
                await top.write(pos + runStart, a.subarray(runStart, end));
                runStart = -1;
              }
            }
          }
          pos += n;
          o.progress?.(pos, total);
        }
        await top.flush();
        o.progress?.(total, total, true);
      } finally {
        await newBacking?.close();
      }
    } finally {
      await top.close();
    }
  }
  const f = await fs.open(key, { writable: true });
  try {
    await setQcow2Backing(f, o.backing);
  } finally {
    await f.close();
  }
}
