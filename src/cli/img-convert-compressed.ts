// `img convert -c`: every guest cluster that has data is deflated and stored compressed when
// that saves at least one 512-byte sector (qcow2.txt "Compressed Clusters Descriptor"),
// otherwise written normally; all-zero clusters stay unallocated.
//
// The deflate stream is QEMU's compression type 0 ("zlib"): raw deflate that QEMU inflates
// with a 4 KiB window (block/qcow2-threads.c: inflateInit2 with windowBits -12). fflate always
// compresses with a 32 KiB window, whose back-references QEMU cannot follow in clusters over
// 4 KiB, so the host's zlib is used with windowBits 12, as QEMU's own deflate.
import { constants, deflateRawSync } from 'node:zlib';
import type { BlockBackend } from '../storage/block-backend.js';
import type { Qcow2Image } from '../storage/qcow2/qcow2-image.js';

/** One cluster deflated as QEMU does it (level Z_DEFAULT_COMPRESSION, window 4 KiB, memLevel 9). */
export function deflateCluster(cluster: Uint8Array): Uint8Array {
  return new Uint8Array(deflateRawSync(cluster, { windowBits: 12, memLevel: 9, level: constants.Z_DEFAULT_COMPRESSION }));
}

function isZero(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

/** Copies `src` into the empty qcow2 image `dst` cluster by cluster, compressing what shrinks. */
export async function convertCompressed(src: BlockBackend, dst: Qcow2Image, progress: (done: number) => void): Promise<{ compressed: number; plain: number }> {
  const cs = dst.header.clusterSize;
  const size = src.capacity;
  const buf = new Uint8Array(cs);
  let compressed = 0;
  let plain = 0;
  for (let pos = 0; pos < size; pos += cs) {
    const n = Math.min(cs, size - pos);
    const part = buf.subarray(0, n);
    await src.read(pos, part);
    if (isZero(part)) continue;
    // The disk's last cluster may be partial: it is compressed whole, padded with zeros (reads stop at the disk's end).
    if (n < cs) buf.fill(0, n);
    const packed = deflateCluster(buf);
    if (Math.ceil(packed.length / 512) < cs / 512) {
      await dst.writeCompressed(pos, packed);
      compressed++;
    } else {
      await dst.write(pos, part);
      plain++;
    }
    progress(pos + n);
  }
  return { compressed, plain };
}
