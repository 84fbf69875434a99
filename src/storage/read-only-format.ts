import { TypervisorError } from '../core/errors.js';

/** The error for opening or writing an image of a format typervisor reads only (vmdk, vdi). */
export function readOnlyError(name: string, format: string): TypervisorError {
  return new TypervisorError(`${name}: ${format} images are read-only in typervisor`, {
    hint: `attach it with ,readonly or convert it: typervisor img convert -O qcow2 ${name} disk.qcow2`,
  });
}
