import { readFile, stat } from 'node:fs/promises';
import { TypervisorError } from '../core/errors.js';
import type { KernelImage } from '../vmm/machine-config.js';

/** No file can be larger than the largest RAM (3.5 GiB); refuse before reading more. */
const MAX_GUEST_FILE_BYTES = 3584 * 1024 * 1024;

/** What a file is for, as messages name it, and the option that gave it. */
export type GuestFileRole = 'kernel' | 'initrd' | 'firmware';
const OPTION: Record<GuestFileRole, string> = { kernel: '--kernel', initrd: '--initrd', firmware: '--bios' };

/** Reads a file given to --kernel, --initrd or --bios, turning the usual failures into TypervisorErrors. */
export async function readGuestFile(path: string, role: GuestFileRole = 'kernel'): Promise<KernelImage> {
  const option = OPTION[role];
  try {
    const info = await stat(path);
    if (info.isDirectory()) {
      throw new TypervisorError(`${role} '${path}' is a directory`, { hint: `pass the file itself to ${option}` });
    }
    if (info.size > MAX_GUEST_FILE_BYTES) {
      throw new TypervisorError(`${role} '${path}' is ${info.size} bytes, larger than any guest RAM`, {
        hint: `check the file given to ${option}`,
      });
    }
    return { name: path, bytes: new Uint8Array(await readFile(path)) };
  } catch (error) {
    if (error instanceof TypervisorError) throw error;
    throw new TypervisorError(`cannot read ${role} '${path}': ${describe(error)}`, {
      hint: `check the path given to ${option}`,
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
