import { readFile, stat } from 'node:fs/promises';
import { TypervisorError } from '../core/errors.js';
import type { KernelImage } from '../vmm/machine-config.js';

/** No kernel can be larger than the largest RAM (3.5 GiB); refuse before reading more. */
const MAX_KERNEL_FILE_BYTES = 3584 * 1024 * 1024;

/** Reads the file given to --kernel, turning the usual failures into TypervisorErrors. */
export async function readKernelFile(path: string): Promise<KernelImage> {
  try {
    const info = await stat(path);
    if (info.isDirectory()) {
      throw new TypervisorError(`kernel '${path}' is a directory`, { hint: 'pass the ELF file itself to --kernel' });
    }
    if (info.size > MAX_KERNEL_FILE_BYTES) {
      throw new TypervisorError(`kernel '${path}' is ${info.size} bytes, larger than any guest RAM`, {
        hint: 'pass a bare-metal ELF program to --kernel',
      });
    }
    return { name: path, bytes: new Uint8Array(await readFile(path)) };
  } catch (error) {
    if (error instanceof TypervisorError) throw error;
    throw new TypervisorError(`cannot read kernel '${path}': ${describe(error)}`, {
      hint: 'check the path given to --kernel',
      cause: error,
    });
  }
}

function describe(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  switch (code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ENOTDIR':
      return 'a directory in the path is a file';
    case 'ELOOP':
      return 'too many symbolic links';
    default:
      return error instanceof Error ? error.message : String(error);
  }
}
