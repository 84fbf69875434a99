import { open as openFile } from 'node:fs/promises';
import { TypervisorError } from '../core/errors.js';
import { NodeImageFile } from '../host/storage-file.js';

/** Creates `file`, refusing to overwrite an existing one; returns it opened for writing. */
export async function createNewFile(file: string): Promise<NodeImageFile> {
  try {
    await (await openFile(file, 'wx')).close();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new TypervisorError(`${file} already exists`, { hint: 'delete it first or choose another name (typervisor never overwrites an image)' });
    throw new TypervisorError(`cannot create ${file}: ${code === 'ENOENT' ? 'no such directory' : (e as Error).message}`, { hint: 'check the path' });
  }
  return NodeImageFile.open(file, { writable: true });
}
