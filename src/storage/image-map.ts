// `img map`: where every byte of a disk comes from, along its backing chain, in the shape of
// qemu-img map (QEMU 7.2: qemu-img.c get_block_status, entry_mergeable, dump_map_entry).
import { TypervisorError } from '../core/errors.js';
import type { BlockBackend } from './block-backend.js';

/** One range of the map, qemu-img's MapEntry. */
export interface MapEntry {
  start: number;
  length: number;
  /** How many backing images down the bytes were found (0: the image itself). */
  depth: number;
  /** Some image of the chain decides the bytes (false: nothing is allocated; they read as zeros). */
  present: boolean;
  zero: boolean;
  data: boolean;
  /** Offset in the file of the image at `depth`, when the bytes lie in one place there. */
  offset?: number;
}

/**
 * The status of the bytes from `offset` (at most `length`), walking down the chain while an image
 * leaves them unallocated: as qemu, the bottom image's unallocated bytes and bytes past the end of a
 * shorter backing image read as zeros without being present.
 */
async function statusAt(top: BlockBackend, offset: number, length: number): Promise<MapEntry> {
  let layer = top;
  let depth = 0;
  let len = length;
  for (;;) {
    if (layer.blockStatus === undefined) throw new TypervisorError('img map: an image in the chain cannot report its allocation');
    const st = await layer.blockStatus(offset, len);
    len = st.length;
    if (st.data || st.zero) {
      return { start: offset, length: len, depth, present: true, zero: st.zero, data: st.data, ...(st.offset !== undefined ? { offset: st.offset } : {}) };
    }
    const below = layer.backing;
    if (below === undefined || offset >= below.capacity) {
      // Zeros nobody allocated; qemu keeps the offset of a host cluster reserved for them.
      return { start: offset, length: len, depth, present: false, zero: true, data: false, ...(st.offset !== undefined ? { offset: st.offset } : {}) };
    }
    len = Math.min(len, below.capacity - offset);
    layer = below;
    depth++;
  }
}

/** qemu's entry_mergeable: same flags and depth, and contiguous in the file when mapped. */
function mergeable(a: MapEntry, b: MapEntry): boolean {
  if (a.zero !== b.zero || a.data !== b.data || a.depth !== b.depth || a.present !== b.present) return false;
  if ((a.offset === undefined) !== (b.offset === undefined)) return false;
  return a.offset === undefined || a.offset + a.length === b.offset;
}

/** The whole disk's map, adjacent equal ranges merged. */
export async function mapImage(disk: BlockBackend): Promise<MapEntry[]> {
  const out: MapEntry[] = [];
  for (let pos = 0; pos < disk.capacity; ) {
    const e = await statusAt(disk, pos, disk.capacity - pos);
    const last = out[out.length - 1];
    if (last !== undefined && mergeable(last, e)) last.length += e.length;
    else out.push(e);
    pos += e.length;
  }
  return out;
}

/** qemu-img map --output json, byte for byte. */
export function mapJson(entries: readonly MapEntry[]): string {
  const lines = entries.map(
    (e) => `{ "start": ${e.start}, "length": ${e.length}, "depth": ${e.depth}, "present": ${e.present}, "zero": ${e.zero}, "data": ${e.data}${e.offset !== undefined ? `, "offset": ${e.offset}` : ''}}`,
  );
  return `[${lines.join(',\n')}]\n`;
}

const hex = (n: number) => (n === 0 ? '0' : `0x${n.toString(16)}`);

/**
 * qemu-img map's human format: the ranges stored as data, with the file holding them
 * (`names[depth]`). Compressed data has no single place and is refused, as qemu-img does.
 */
export function mapHuman(entries: readonly MapEntry[], names: readonly string[]): string {
  let text = `${'Offset'.padEnd(16)}${'Length'.padEnd(16)}${'Mapped to'.padEnd(16)}File\n`;
  for (const e of entries) {
    if (e.data && e.offset === undefined) {
      throw new TypervisorError('File contains external, encrypted or compressed clusters.', { hint: 'use --output json, or convert the image without -c' });
    }
    if (e.data && !e.zero) text += `${hex(e.start).padEnd(16)}${hex(e.length).padEnd(16)}${hex(e.offset!).padEnd(16)}${names[e.depth] ?? '?'}\n`;
  }
  return text;
}
