import { TypervisorError } from '../core/errors.js';
import type { BlockBackend } from './block-backend.js';
import type { ImageFileSystem } from './image-file.js';
import { probeFormat } from './probe-format.js';
import { Qcow2Image } from './qcow2/qcow2-image.js';
import { RawImage } from './raw/raw-image.js';
import { VhdImage } from './vhd/vhd-image.js';
import { readOnlyError } from './read-only-format.js';
import { VdiImage } from './vdi/vdi-image.js';
import { VmdkImage } from './vmdk/vmdk-image.js';

export interface OpenImageOptions {
  /** The image's format; undefined: probed from its first bytes. */
  format?: string;
  /** Open for reading only (default false). Backing images are always opened read-only. */
  readOnly?: boolean;
  /** Longest backing chain below the image (default 32). */
  maxBackingDepth?: number;
  /** Bytes of qcow2 L2 tables cached per image. */
  l2CacheBytes?: number;
}

/** Backing chains longer than this are refused unless `maxBackingDepth` says otherwise. */
export const DEFAULT_MAX_BACKING_DEPTH = 32;

/**
 * Opens the image `name` from `fs` as a {@link BlockBackend}, with its whole backing chain.
 * Backing file names are resolved relative to the image that names them; an image that appears
 * twice in its own chain, or a chain deeper than `maxBackingDepth`, is refused with a
 * `TypervisorError` listing the chain.
 */
export function openImage(fs: ImageFileSystem, name: string, options: OpenImageOptions = {}): Promise<BlockBackend> {
  return openInChain(fs, name, undefined, options.format, options.readOnly ?? false, [], options);
}

async function openInChain(
  fs: ImageFileSystem,
  name: string,
  relativeTo: string | undefined,
  format: string | undefined,
  readOnly: boolean,
  chain: readonly string[],
  options: OpenImageOptions,
): Promise<BlockBackend> {
  const key = await fs.resolve(name, relativeTo);
  if (chain.includes(key)) {
    throw new TypervisorError(`backing chain loop: ${[...chain, key].join(' -> ')}`, { hint: 'fix the backing file with qemu-img rebase -u' });
  }
  const maxDepth = options.maxBackingDepth ?? DEFAULT_MAX_BACKING_DEPTH;
  if (chain.length > maxDepth) {
    throw new TypervisorError(`${chain[0]}: the backing chain is deeper than ${maxDepth} images (at ${key})`, {
      hint: 'shorten it with qemu-img commit or convert',
    });
  }
  const file = await fs.open(key, { writable: !readOnly });
  try {
    const fmt = format ?? (await probeFormat(file));
    switch (fmt) {
      case 'raw':
        return await RawImage.open(file, { readOnly });
      case 'qcow2':
        return await Qcow2Image.open(file, {
          readOnly,
          l2CacheBytes: options.l2CacheBytes,
          openBacking: (backingName, backingFormat) => openInChain(fs, backingName, key, backingFormat, true, [...chain, key], options),
        });
      case 'vpc':
      case 'vhd':
        return await VhdImage.open(file, {
          readOnly,
          openBacking: (parentName, parentFormat) => openInChain(fs, parentName, key, parentFormat, true, [...chain, key], options),
        });
      case 'vmdk':
      case 'vdi':
        // Formats typervisor reads only: a writable open fails before anything is parsed.
        if (!readOnly) throw readOnlyError(key, fmt);
        if (fmt === 'vdi') return await VdiImage.open(file);
        return await VmdkImage.open(file, {
          openExtent: async (extentName) => fs.open(await fs.resolve(extentName, key), { writable: false }),
          // A delta link names no format; its parent is a VMDK (as QEMU assumes too).
          openParent: (parentName) => openInChain(fs, parentName, key, 'vmdk', true, [...chain, key], options),
        });
      default:
        throw new TypervisorError(`${key}: the ${fmt} image format is not supported yet`, { hint: 'convert it with qemu-img convert -O qcow2 or -O raw' });
    }
  } catch (e) {
    await file.close().catch(() => undefined);
    throw e;
  }
}
