// Disks for `typervisor run --disk`: the option's syntax, and opening the image files on the
// host (vmm never opens files; it gets the BlockBackends from here).
import { TypervisorError } from '../core/errors.js';
import type { BlockBackend } from '../storage/block-backend.js';
import { openImage } from '../storage/open-image.js';
import type { DiskConfig } from '../vmm/machine-config.js';
import { nodeImageFileSystem } from './storage-file.js';
import { splitOptionList } from './option-list.js';

/** The image formats `--disk …,format=` accepts. */
export const DISK_FORMATS = ['qcow2', 'raw', 'vpc', 'vmdk', 'vdi'] as const;

/** One `--disk` value, parsed. */
export interface DiskSpec {
  readonly path: string;
  /** undefined: probed from the file's first bytes. */
  readonly format?: (typeof DISK_FORMATS)[number];
  readonly readOnly: boolean;
  readonly serial?: string;
}

const SYNTAX = '--disk PATH[,format=qcow2|raw|vpc|vmdk|vdi][,readonly][,serial=ID] (write ",," for a comma in PATH)';

/**
 * Parses `PATH[,format=qcow2|raw|vpc|vmdk|vdi][,readonly][,serial=ID]` (vmdk and vdi need readonly) as QEMU's -drive does: options after
 * the first comma, `,,` for a literal comma.
 */
export function parseDiskSpec(text: string): DiskSpec {
  const { head: path, options } = splitOptionList(text);
  if (path === '') throw new TypervisorError(`--disk '${text}' names no file`, { hint: `use ${SYNTAX}` });
  let format: DiskSpec['format'];
  let readOnly = false;
  let serial: string | undefined;
  for (const { key, value, text: option } of options) {
    if (key === 'format' && value !== undefined) {
      // "vhd" is the format's own name; QEMU calls it vpc (Virtual PC).
      const name = value === 'vhd' ? 'vpc' : value;
      if (!(DISK_FORMATS as readonly string[]).includes(name)) {
        throw new TypervisorError(`--disk ${path}: unknown format '${value}'`, {
          hint: `formats: ${DISK_FORMATS.join(', ')}; leave format= out to detect it (other formats: qemu-img convert -O qcow2)`,
        });
      }
      format = name as DiskSpec['format'];
    } else if ((key === 'readonly' || key === 'ro') && (value === undefined || value === 'on' || value === 'off')) {
      readOnly = value !== 'off';
    } else if (key === 'serial' && value !== undefined) {
      if (new TextEncoder().encode(value).length > 20) {
        throw new TypervisorError(`--disk ${path}: serial '${value}' is longer than 20 bytes`, { hint: 'virtio-blk ids hold 20 bytes (VIRTIO_BLK_ID_BYTES)' });
      }
      serial = value;
    } else {
      throw new TypervisorError(`--disk ${path}: unknown option '${option}'`, { hint: `use ${SYNTAX}` });
    }
  }
  return { path, readOnly, ...(format ? { format } : {}), ...(serial !== undefined ? { serial } : {}) };
}

/**
 * Opens the images of `specs` (backing chains included) as virtio-blk disk configs. If one
 * fails, those already opened are closed and the error says which disk and how to fix it.
 */
export async function openDisks(specs: readonly DiskSpec[]): Promise<DiskConfig[]> {
  const disks: DiskConfig[] = [];
  try {
    for (const spec of specs) {
      let backend: BlockBackend;
      try {
        backend = await openImage(nodeImageFileSystem, spec.path, { readOnly: spec.readOnly, ...(spec.format ? { format: spec.format } : {}) });
      } catch (e) {
        if (!(e instanceof TypervisorError)) throw e;
        const missing = /no such file/.test(e.message);
        // The storage layer names the file by its real path first; the user's spelling replaces it.
        const colon = e.message.indexOf(': ');
        const named = colon > 0 && e.message.slice(0, colon).endsWith(spec.path.slice(spec.path.lastIndexOf('/') + 1));
        throw new TypervisorError(`--disk ${spec.path}: ${named ? e.message.slice(colon + 2) : e.message}`, {
          cause: e,
          hint: missing ? 'check the path, or create an image first: qemu-img create -f qcow2 disk.qcow2 1G' : e.hint,
        });
      }
      disks.push({ type: 'virtio-blk', backend, readOnly: spec.readOnly, name: spec.path, ...(spec.serial !== undefined ? { serial: spec.serial } : {}) });
    }
    return disks;
  } catch (e) {
    await closeDisks(disks);
    throw e;
  }
}

/**
 * Flushes and closes the disks' backends (after the machine has exited and its disks are idle).
 * Every disk is closed even if one fails; the first error is thrown afterwards.
 */
export async function closeDisks(disks: readonly DiskConfig[]): Promise<void> {
  let first: unknown;
  for (const d of disks) {
    try {
      if (!d.backend.readOnly) await d.backend.flush();
    } catch (e) {
      first ??= e;
    }
    try {
      await d.backend.close();
    } catch (e) {
      first ??= e;
    }
  }
  if (first !== undefined) throw first;
}
