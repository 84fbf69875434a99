// VMDK and VDI images made by Debian's qemu-img/qemu-io, with the bytes qemu-img reads from
// them (`qemu-img convert -O raw`) as the reference our readers must match.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { qemu, qemuIo, qemuRaw } from './qemu-tools.js';

/** 5 MiB and three sectors: not a whole number of 64 KiB grains or 1 MiB VDI blocks. */
export const DISK_SIZE = 5 * 1024 * 1024 + 3 * 512;

/** qemu-io commands: patterns at scattered offsets (across grain/block boundaries, the last sector), and zeros over data. */
export const PATTERN_WRITES = [
  'write -P 0xab 0 4k',
  'write -P 0x5c 65000 3000',
  'write -P 0xcd 1048064 70k',
  'write -P 0x17 2M 256k',
  'write -z 2200k 16k',
  'write -P 0xee 3333333 1',
  `write -P 0x42 ${DISK_SIZE - 512} 512`,
  'write -z 4M 64k',
];

/** A qcow2 image of DISK_SIZE filled by PATTERN_WRITES, to convert from. */
export function patternQcow2(dir: string): string {
  const f = path.join(dir, 'source.qcow2');
  qemu('qemu-img', ['create', '-q', '-f', 'qcow2', f, String(DISK_SIZE)]);
  // Data under the zero writes first, so that they really zero something.
  qemuIo(f, ['write -P 0x99 2200k 16k', 'write -P 0x98 4M 64k', ...PATTERN_WRITES]);
  return f;
}

export interface ReferenceImage {
  readonly label: string;
  /** The file to open (for descriptors, the descriptor). */
  readonly file: string;
  /** What qemu-img reads from it. */
  readonly expected: Uint8Array;
}

function ref(label: string, file: string, dir: string): ReferenceImage {
  return { label, file, expected: qemuRaw(file, dir) };
}

/** Creates a VMDK with qemu-img create and fills it with qemu-io. */
function createdVmdk(dir: string, name: string, options: string): string {
  const f = path.join(dir, name);
  qemu('qemu-img', ['create', '-q', '-f', 'vmdk', '-o', options, f, String(DISK_SIZE)]);
  qemuIo(f, ['write -P 0x99 2200k 16k', ...PATTERN_WRITES], ['-f', 'vmdk']);
  return f;
}

/** Every VMDK flavour qemu-img makes, plus a stream-optimized one with its header in the footer. */
export function vmdkImages(dir: string): ReferenceImage[] {
  const src = patternQcow2(dir);
  const out: ReferenceImage[] = [];
  out.push(ref('monolithicSparse (qemu-io writes)', createdVmdk(dir, 'sparse.vmdk', 'subformat=monolithicSparse'), dir));
  out.push(ref('monolithicSparse with zeroed grains', createdVmdk(dir, 'zeroed.vmdk', 'subformat=monolithicSparse,zeroed_grain=on'), dir));
  out.push(ref('monolithicFlat', createdVmdk(dir, 'flat.vmdk', 'subformat=monolithicFlat'), dir));
  out.push(ref('twoGbMaxExtentSparse', createdVmdk(dir, 'two-sparse.vmdk', 'subformat=twoGbMaxExtentSparse'), dir));
  out.push(ref('twoGbMaxExtentFlat', createdVmdk(dir, 'two-flat.vmdk', 'subformat=twoGbMaxExtentFlat'), dir));
  const converted = path.join(dir, 'converted.vmdk');
  qemu('qemu-img', ['convert', '-O', 'vmdk', src, converted]);
  out.push(ref('monolithicSparse (qemu-img convert)', converted, dir));
  const stream = path.join(dir, 'stream.vmdk');
  qemu('qemu-img', ['convert', '-O', 'vmdk', '-o', 'subformat=streamOptimized', src, stream]);
  out.push(ref('streamOptimized', stream, dir));
  const footer = path.join(dir, 'footer.vmdk');
  writeFileSync(footer, withFooter(new Uint8Array(readFileSync(stream))));
  out.push(ref('streamOptimized, gdOffset GD_AT_END (header in the footer)', footer, dir));
  return out;
}

/**
 * A stream-optimized VMDK turned into the layout VMware writes when streaming (VMware Virtual
 * Disk Format 5.0, § Stream-Optimized): the first header's gdOffset is GD_AT_END, and the file
 * ends with a footer marker, the real header and an end-of-stream marker.
 */
export function withFooter(image: Uint8Array): Uint8Array {
  const out = new Uint8Array(image.length + 3 * 512);
  out.set(image);
  const v = new DataView(out.buffer);
  const footer = image.length;
  v.setUint32(footer + 12, 3, true); // footer marker: lba 0, size 0, type 3
  out.set(image.subarray(0, 512), footer + 512);
  v.setBigUint64(56, 0xffffffffffffffffn, true);
  return out; // the end-of-stream marker is all zeros
}

/** VDI images from qemu-img convert: dynamic and static, and one written by qemu-io directly. */
export function vdiImages(dir: string): ReferenceImage[] {
  const src = patternQcow2(dir);
  const dynamic = path.join(dir, 'dynamic.vdi');
  qemu('qemu-img', ['convert', '-O', 'vdi', src, dynamic]);
  const fixed = path.join(dir, 'static.vdi');
  qemu('qemu-img', ['convert', '-O', 'vdi', '-o', 'static=on', src, fixed]);
  const written = path.join(dir, 'written.vdi');
  qemu('qemu-img', ['create', '-q', '-f', 'vdi', written, String(DISK_SIZE)]);
  qemuIo(written, ['write -P 0x99 2200k 16k', ...PATTERN_WRITES], ['-f', 'vdi']);
  return [ref('dynamic (qemu-img convert)', dynamic, dir), ref('static=on', fixed, dir), ref('dynamic (qemu-io writes)', written, dir)];
}
