// `img resize`: changes a raw or qcow2 image's virtual size, as qemu-img resize.
import { TypervisorError } from '../core/errors.js';
import type { ImageFileSystem } from './image-file.js';
import { probeFormat } from './probe-format.js';
import { resizeQcow2 } from './qcow2/qcow2-resize.js';

export interface ResizeOptions {
  /** The image's format (undefined: probed). */
  format?: string;
  /** The new size, or a change of the current one (bytes). */
  size: { absolute: number } | { relative: number };
  /** Allow a smaller size (qemu-img's --shrink). */
  shrink: boolean;
}

/** Resizes the image `name`; throws a TypervisorError (image unchanged) when it cannot. */
export async function resizeImage(fs: ImageFileSystem, name: string, o: ResizeOptions): Promise<void> {
  const file = await fs.open(await fs.resolve(name), { writable: true });
  try {
    const fmt = o.format ?? (await probeFormat(file));
    if (fmt === 'qcow2') {
      await resizeQcow2(file, (current) => target(name, current, o));
    } else if (fmt === 'raw') {
      const current = await file.size();
      await file.truncate(target(name, current, o));
    } else {
      throw new TypervisorError(`${name}: resizing ${fmt} images is not supported`, { hint: 'convert it to qcow2 or raw first' });
    }
    await file.flush();
  } finally {
    await file.close();
  }
}

/** The new size from the current one; refuses a negative size, and a smaller one without `shrink`. */
function target(name: string, current: number, o: ResizeOptions): number {
  const size = 'absolute' in o.size ? o.size.absolute : current + o.size.relative;
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new TypervisorError(`${name}: the new size would be ${size} bytes (the image has ${current})`, { hint: 'a size must not be negative' });
  }
  if (size < current && !o.shrink) {
    throw new TypervisorError(`${name}: Use the --shrink option to perform a shrink operation (from ${current} to ${size} bytes).`, {
      hint: 'shrinking deletes all data beyond the new end; make sure nothing important is there',
    });
  }
  return size;
}
