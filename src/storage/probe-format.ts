import type { ImageFile } from './image-file.js';
import { looksLikeVmdkDescriptor } from './vmdk/vmdk-descriptor.js';

/** Image formats typervisor knows by name (as qemu-img spells them). */
export type ImageFormatName = 'raw' | 'qcow2' | 'vmdk' | 'vpc' | 'vdi' | 'qcow';

/**
 * Guesses a file's format from its first bytes as qemu-img does: qcow2/qcow by "QFI\xfb" and the
 * version, VMDK by "KDMV" or a descriptor, VHD by its "conectix" footer copy, VDI by its
 * signature; anything else is raw. (Probing raw is unsafe for guest-writable disks — a guest
 * can write a qcow2 header into a raw disk — so callers name the format where they can.)
 */
export async function probeFormat(file: ImageFile): Promise<ImageFormatName> {
  const head = new Uint8Array(512);
  const n = await file.pread(head, 0);
  const view = new DataView(head.buffer);
  const ascii = (at: number, len: number) => String.fromCharCode(...head.subarray(at, at + len));
  if (n >= 8 && view.getUint32(0) === 0x514649fb) return view.getUint32(4) === 1 ? 'qcow' : 'qcow2';
  if (n >= 4 && ascii(0, 4) === 'KDMV') return 'vmdk';
  if (looksLikeVmdkDescriptor(ascii(0, n))) return 'vmdk';
  if (n >= 8 && ascii(0, 8) === 'conectix') return 'vpc';
  if (n >= 0x44 && view.getUint32(0x40, true) === 0xbeda107f) return 'vdi';
  return 'raw';
}
