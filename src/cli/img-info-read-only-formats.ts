// `img info` for the formats typervisor reads only (vmdk, vdi): the fields qemu-img 7.2 shows
// for them, in its order (block/vmdk.c vmdk_get_specific_info; vdi has no specific info).
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { nodeImageFileSystem } from '../host/storage-file.js';
import { openImage } from '../storage/open-image.js';
import { VdiImage } from '../storage/vdi/vdi-image.js';
import { VmdkImage } from '../storage/vmdk/vmdk-image.js';
import type { ImageInfo } from './img-command.js';

async function allocated(file: string): Promise<number> {
  return (await stat(file)).blocks * 512;
}

/** Facts about the vmdk or vdi image `filename` (as the user spelt it). */
export async function readOnlyFormatInfo(filename: string, format: 'vmdk' | 'vdi'): Promise<ImageInfo> {
  const disk = await openImage(nodeImageFileSystem, filename, { format, readOnly: true });
  try {
    if (disk instanceof VdiImage) {
      return { 'virtual-size': disk.capacity, filename, 'cluster-size': disk.header.blockSize, format: 'vdi', 'actual-size': await allocated(filename), 'dirty-flag': false };
    }
    if (!(disk instanceof VmdkImage)) throw new Error(`openImage gave no VmdkImage for ${filename}`);
    const v = disk.info;
    // Extent files are named relative to the descriptor, and shown so (as qemu-img does).
    const shown = (e: (typeof v.extents)[number]) =>
      e.namedFile === undefined ? (e.format === 'ZERO' ? '' : filename) : path.isAbsolute(e.namedFile) ? e.namedFile : path.join(path.dirname(filename), e.namedFile);
    let actual = await allocated(filename);
    const counted = new Set<string>([path.resolve(filename)]);
    for (const e of v.extents) {
      if (e.filename === '' || counted.has(e.filename)) continue;
      counted.add(e.filename);
      actual += await allocated(e.filename);
    }
    const data: Record<string, unknown> = {};
    if (v.cid !== undefined) data['cid'] = v.cid;
    if (v.parentCid !== undefined) data['parent-cid'] = v.parentCid;
    data['create-type'] = v.createType;
    data['extents'] = v.extents.map((e) => ({
      ...(e.compressed ? { compressed: true } : {}),
      'virtual-size': e.virtualSize,
      filename: shown(e),
      ...(e.clusterSize !== undefined ? { 'cluster-size': e.clusterSize } : {}),
      format: e.format,
    }));
    const clusterSize = v.extents[0]?.clusterSize;
    // Key order as qemu-img's JSON.
    const parent = v.parentFileNameHint;
    const info: ImageInfo = {
      ...(parent !== undefined ? { 'backing-filename-format': 'vmdk' } : {}),
      'virtual-size': disk.capacity,
      filename,
      ...(clusterSize !== undefined ? { 'cluster-size': clusterSize } : {}),
      format: 'vmdk',
      'actual-size': actual,
      'format-specific': { type: 'vmdk', data },
      ...(parent !== undefined ? { 'full-backing-filename': path.isAbsolute(parent) ? parent : path.join(path.dirname(filename), parent), 'backing-filename': parent } : {}),
      'dirty-flag': false,
    };
    return info;
  } finally {
    await disk.close();
  }
}
