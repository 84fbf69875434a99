import { TypervisorError } from '../core/errors.js';
import type { ImageFile } from './image-file.js';

/**
 * Reads all of `dst` at `offset` from `file`; a file that ends first is a malformed image:
 * the error names `what` was being read, so the user learns which structure is cut short.
 */
export async function readExact(file: ImageFile, dst: Uint8Array, offset: number, what: string, format: string): Promise<void> {
  if (dst.length === 0) return;
  const n = await file.pread(dst, offset);
  if (n < dst.length) {
    throw new TypervisorError(
      `${file.name}: truncated ${format} image: ${what} (${dst.length} bytes at offset ${offset}) ends past the end of the file (read ${n} bytes)`,
      { hint: 'the file is incomplete — copy or download it again' },
    );
  }
}

/** A byte range of an image file holding one structure, for overlap checks. */
export interface FileRegion {
  readonly what: string;
  readonly start: number;
  readonly end: number;
}

/** The first two regions of `regions` that overlap, or undefined (empty regions never overlap). */
export function findOverlap(regions: readonly FileRegion[]): [FileRegion, FileRegion] | undefined {
  const sorted = sortRegions(regions);
  let widest: FileRegion | undefined;
  for (const r of sorted) {
    if (widest !== undefined && r.start < widest.end) return [widest, r];
    if (widest === undefined || r.end > widest.end) widest = r;
  }
  return undefined;
}

function sortRegions(regions: readonly FileRegion[]): FileRegion[] {
  return regions.filter((r) => r.end > r.start).sort((a, b) => a.start - b.start || a.end - b.end);
}

/** Disjoint regions (checked with findOverlap first), searchable by range. */
export class RegionSet {
  private readonly sorted: FileRegion[];

  constructor(regions: readonly FileRegion[]) {
    this.sorted = sortRegions(regions);
  }

  /** A region that `[start, end)` overlaps, or undefined. */
  hit(start: number, end: number): FileRegion | undefined {
    let lo = 0;
    let hi = this.sorted.length;
    // The first region ending after `start`; regions are disjoint, so ends ascend with starts.
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.sorted[mid].end <= start) lo = mid + 1;
      else hi = mid;
    }
    const r = this.sorted[lo];
    return r !== undefined && r.start < end && end > start ? r : undefined;
  }
}
