// Rewriting a qcow2 image's backing file name and format. Spec: QEMU docs/interop/qcow2.txt
// "== Header ==" (backing_file_offset, backing_file_size), "=== Header extensions ===" (the
// backing file format name, type 0xe2792aca).
import { TypervisorError } from '../../core/errors.js';
import type { ImageFile } from '../image-file.js';
import { MAX_BACKING_NAME } from './qcow2-header.js';
import { readQcow2Header, refuseMetadataChange } from './qcow2-resize.js';

const EXT_BACKING_FORMAT = 0xe2792aca;

/**
 * Sets the backing file of the qcow2 image in `file` to `backing` (undefined: none). The header
 * cluster is rebuilt in memory — the fixed header, then the backing format extension, then the
 * other extensions unchanged and in order, the end marker and the name — and written with one
 * write, so the header is always either the old or the new one.
 */
export async function setQcow2Backing(file: ImageFile, backing: { name: string; format: string } | undefined): Promise<void> {
  const name = file.name;
  const { header: h, cluster0 } = await readQcow2Header(file);
  refuseMetadataChange(name, h, 'change its backing file');
  const cs = h.clusterSize;
  const view = new DataView(cluster0.buffer, cluster0.byteOffset, cluster0.byteLength);
  // The existing extensions, as parseQcow2Header walked them (it validated their lengths).
  const extEnd = Math.min(h.backingFileOffset !== 0 && h.backingFileOffset < cs ? h.backingFileOffset : cs, cluster0.length);
  const kept: Uint8Array[] = [];
  for (let at = h.headerLength; at + 8 <= extEnd; ) {
    const type = view.getUint32(at);
    const len = view.getUint32(at + 4);
    if (type === 0) break;
    const padded = 8 + Math.ceil(len / 8) * 8;
    if (type !== EXT_BACKING_FORMAT) kept.push(cluster0.slice(at, Math.min(at + padded, extEnd)));
    at += padded;
  }
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [];
  if (backing !== undefined) {
    const fmt = enc.encode(backing.format);
    const ext = new Uint8Array(8 + Math.ceil(fmt.length / 8) * 8);
    new DataView(ext.buffer).setUint32(0, EXT_BACKING_FORMAT);
    new DataView(ext.buffer).setUint32(4, fmt.length);
    ext.set(fmt, 8);
    parts.push(ext);
  }
  parts.push(...kept, new Uint8Array(8)); // end of the extension area
  const nameBytes = backing === undefined ? new Uint8Array(0) : enc.encode(backing.name);
  if (backing !== undefined && (nameBytes.length === 0 || nameBytes.length > MAX_BACKING_NAME)) {
    throw new TypervisorError(`the backing file name is ${nameBytes.length} bytes long; qcow2 allows 1 to ${MAX_BACKING_NAME}`);
  }
  const out = new Uint8Array(cluster0.length);
  out.set(cluster0.subarray(0, h.headerLength));
  let at = h.headerLength;
  for (const p of parts) {
    if (at + p.length > out.length) throw new TypervisorError(`${name}: the header extensions and backing file name do not fit in the header cluster (${cs} bytes)`, { hint: 'use a shorter (relative) backing file name' });
    out.set(p, at);
    at += p.length;
  }
  if (at + nameBytes.length > out.length) throw new TypervisorError(`${name}: the backing file name does not fit in the header cluster (${cs} bytes)`, { hint: 'use a shorter (relative) backing file name' });
  out.set(nameBytes, at);
  const ov = new DataView(out.buffer);
  ov.setUint32(8, 0);
  ov.setUint32(12, backing === undefined ? 0 : at);
  ov.setUint32(16, nameBytes.length);
  await file.pwrite(out, 0);
  await file.flush();
}
