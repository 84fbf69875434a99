// `img` support for VHD (qemu-img's "vpc"): create options and info.
import { TypervisorError } from '../core/errors.js';
import type { ImageFile } from '../storage/image-file.js';
import { VhdImage } from '../storage/vhd/vhd-image.js';

/** qemu-img's vpc create options: `subformat=dynamic|fixed`, `force_size=on|off`. */
export interface VpcCreateOptions {
  subformat?: 'dynamic' | 'fixed';
  forceSize?: boolean;
}

/** Parses one `-o` item meant for vpc into `out`; false when `key` is not a vpc option. */
export function parseVpcOption(key: string, value: string | undefined, out: VpcCreateOptions): boolean {
  if (key === 'subformat') {
    if (value !== 'dynamic' && value !== 'fixed') {
      throw new TypervisorError(`parameter 'subformat' does not accept value '${value ?? ''}'`, { hint: 'use -o subformat=dynamic or -o subformat=fixed' });
    }
    out.subformat = value;
    return true;
  }
  if (key === 'force_size') {
    if (value !== undefined && value !== 'on' && value !== 'off') {
      throw new TypervisorError(`parameter 'force_size' expects 'on' or 'off', not '${value}'`);
    }
    out.forceSize = value !== 'off';
    return true;
  }
  return false;
}

/** The options part of qemu-img's "Formatting …" line for vpc, in its order. */
export function vpcCreateText(o: VpcCreateOptions): string {
  return `${o.subformat !== undefined ? ` subformat=${o.subformat}` : ''}${o.forceSize !== undefined ? ` force_size=${o.forceSize ? 'on' : 'off'}` : ''}`;
}

/** `img info` facts of a VHD, as QEMU 7.2 reports them: the block size as cluster size (dynamic disks only). */
export async function vhdInfoFacts(file: ImageFile): Promise<{ virtualSize: number; clusterSize?: number }> {
  const image = await VhdImage.open(file, { readOnly: true, withoutParent: true });
  // The image owns `file` now; the caller closes it, so the image is not closed here.
  return { virtualSize: image.capacity, ...(image.subformat === 'dynamic' ? { clusterSize: image.blockSize } : {}) };
}
