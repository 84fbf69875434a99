import { rm } from 'node:fs/promises';
import { TypervisorError } from '../core/errors.js';
import { nodeImageFileSystem } from '../host/storage-file.js';
import type { BlockBackend } from '../storage/block-backend.js';
import { openImage } from '../storage/open-image.js';
import { createQcow2 } from '../storage/qcow2/qcow2-create.js';
import { Qcow2Image } from '../storage/qcow2/qcow2-image.js';
import { RawImage } from '../storage/raw/raw-image.js';
import { convertCompressed } from './img-convert-compressed.js';
import { createNewFile } from './img-files.js';
import { createVhd } from '../storage/vhd/vhd-create.js';
import { VhdImage } from '../storage/vhd/vhd-image.js';
import type { VpcCreateOptions } from './img-vhd.js';

export interface ConvertOptions {
  src: string;
  dst: string;
  srcFormat?: string;
  dstFormat: 'raw' | 'qcow2' | 'vpc';
  /** Options of a vpc destination (subformat, force_size). */
  vpc?: VpcCreateOptions;
  clusterSize?: number;
  /** Compress every cluster that gets smaller (-c; qcow2 output only). */
  compress?: boolean;
  /** Receives qemu-img-style progress text ("    (42.00/100%)\r"), at most every 1% or 100 ms. */
  progress?: (text: string) => void;
}

/** Bytes copied per read; zero detection works on 64 KiB pieces inside it. */
const CHUNK = 1 << 20;
const PIECE = 64 * 1024;

function isZero(b: Uint8Array): boolean {
  const words = new Uint32Array(b.buffer, b.byteOffset, b.byteLength >>> 2);
  for (let i = 0; i < words.length; i++) if (words[i] !== 0) return false;
  for (let i = words.length * 4; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

/**
 * `img convert`: reads the source disk (any format openImage knows, with its backing chain)
 * and writes a new image with the same contents. All-zero pieces are never written, so a raw
 * output stays sparse and a qcow2 output leaves them unallocated. The destination must not
 * exist; on failure it is removed.
 */
export async function convertImage(o: ConvertOptions): Promise<void> {
  const src = await openImage(nodeImageFileSystem, o.src, { readOnly: true, ...(o.srcFormat !== undefined ? { format: o.srcFormat } : {}) });
  let dst: BlockBackend | undefined;
  let created = false;
  try {
    const size = src.capacity;
    const file = await createNewFile(o.dst);
    created = true;
    if (o.dstFormat === 'qcow2') {
      await createQcow2(file, { size, ...(o.clusterSize !== undefined ? { clusterSize: o.clusterSize } : {}) });
      dst = await Qcow2Image.open(file, { readOnly: false });
    } else if (o.dstFormat === 'vpc') {
      // The VHD's size is rounded up to a CHS geometry (as qemu-img's); the tail reads as zeros.
      await createVhd(file, { size, ...o.vpc });
      // No flush per new block: a failed convert removes the output, and the end flushes once.
      dst = await VhdImage.open(file, { readOnly: false, syncAllocations: false });
    } else {
      await file.truncate(size);
      dst = await RawImage.open(file, { readOnly: false });
    }
    const buf = new Uint8Array(CHUNK);
    let lastShown = -1;
    let lastTime = 0;
    const show = (done: number, final = false) => {
      if (!o.progress) return;
      const pct = size === 0 ? 100 : (100 * done) / size;
      const now = Date.now();
      if (!final && (Math.floor(pct) === lastShown || now - lastTime < 100)) return;
      lastShown = Math.floor(pct);
      lastTime = now;
      o.progress(`    (${pct.toFixed(2)}/100%)${final ? '\n' : '\r'}`);
    };
    show(0);
    if (o.compress) {
      if (!(dst instanceof Qcow2Image)) throw new TypervisorError('compression (-c) needs a qcow2 output', { hint: 'add -O qcow2' });
      await convertCompressed(src, dst, (done) => show(done));
    } else for (let pos = 0; pos < size; pos += CHUNK) {
      const part = buf.subarray(0, Math.min(CHUNK, size - pos));
      await src.read(pos, part);
      // Consecutive non-zero pieces go out as one write (fewer, larger requests).
      let run = -1;
      // `at` steps by PIECE and stops exactly at the end (a last piece may be short), where a run
      // still open is written.
      for (let at = 0; ; at = Math.min(at + PIECE, part.length)) {
        const zero = at === part.length || isZero(part.subarray(at, Math.min(at + PIECE, part.length)));
        if (!zero && run < 0) run = at;
        if (zero && run >= 0) {
          await dst.write(pos + run, part.subarray(run, at));
          run = -1;
        }
        if (at === part.length) break;
      }
      show(pos + part.length);
    }
    await dst.flush();
    show(size, true);
  } catch (e) {
    if (created) {
      await dst?.close().catch(() => undefined);
      dst = undefined;
      await rm(o.dst, { force: true });
    }
    throw e instanceof TypervisorError || !(e instanceof Error) ? e : new TypervisorError(`convert failed: ${e.message}`);
  } finally {
    await src.close();
    await dst?.close();
  }
}
