import { nodeImageFileSystem } from '../host/storage-file.js';
import type { BlockBackend } from '../storage/block-backend.js';
import { openImage } from '../storage/open-image.js';

export interface CompareOptions {
  a: string;
  b: string;
  formatA?: string;
  formatB?: string;
  /** Images of different sizes differ (qemu-img compare -s). */
  strict?: boolean;
}

/**
 * What `img compare` found: `mismatchAt` is the 512-byte-aligned offset of the first difference;
 * `sizeMismatch` that the sizes differ and the common part matched (when qemu-img warns).
 */
export type CompareResult = { identical: true; sizeMismatch: boolean } | { identical: false; sizeMismatch: boolean; mismatchAt?: number };

const CHUNK = 1 << 20;
const SECTOR = 512;

/** The first 512-byte sector (absolute offset) where `x` and `y` differ, or undefined. */
function firstDifference(x: Uint8Array, y: Uint8Array | undefined, base: number): number | undefined {
  for (let i = 0; i < x.length; i++) {
    if (x[i] !== (y === undefined ? 0 : y[i])) return base + Math.floor(i / SECTOR) * SECTOR;
  }
  return undefined;
}

/**
 * `img compare`: the two disks' contents as the guest sees them (backing chains included), as
 * qemu-img compare: a shorter image compares as if padded with zeros, unless `strict`.
 */
export async function compareImages(o: CompareOptions): Promise<CompareResult> {
  const a = await openImage(nodeImageFileSystem, o.a, { readOnly: true, ...(o.formatA !== undefined ? { format: o.formatA } : {}) });
  let b: BlockBackend | undefined;
  try {
    b = await openImage(nodeImageFileSystem, o.b, { readOnly: true, ...(o.formatB !== undefined ? { format: o.formatB } : {}) });
    const sizeMismatch = a.capacity !== b.capacity;
    if (sizeMismatch && o.strict) return { identical: false, sizeMismatch };
    const bufA = new Uint8Array(CHUNK);
    const bufB = new Uint8Array(CHUNK);
    const common = Math.min(a.capacity, b.capacity);
    for (let pos = 0; pos < common; pos += CHUNK) {
      const n = Math.min(CHUNK, common - pos);
      await a.read(pos, bufA.subarray(0, n));
      await b.read(pos, bufB.subarray(0, n));
      const at = firstDifference(bufA.subarray(0, n), bufB.subarray(0, n), pos);
      // qemu-img compare reaches (and warns about) the size difference only after the common part matched.
      if (at !== undefined) return { identical: false, sizeMismatch: false, mismatchAt: at };
    }
    const longer = a.capacity > b.capacity ? a : b;
    for (let pos = common; pos < longer.capacity; pos += CHUNK) {
      const n = Math.min(CHUNK, longer.capacity - pos);
      await longer.read(pos, bufA.subarray(0, n));
      const at = firstDifference(bufA.subarray(0, n), undefined, pos);
      if (at !== undefined) return { identical: false, sizeMismatch, mismatchAt: at };
    }
    return { identical: true, sizeMismatch };
  } finally {
    await a.close();
    await b?.close();
  }
}
