// Shares for `typervisor run --share`: the option's syntax, and opening the host folders (vmm
// never touches files; it gets SharedFileSystems from here).
import { TypervisorError } from '../core/errors.js';
import { validateMountTag } from '../devices/virtio/9p/virtio-9p.js';
import type { ShareConfig } from '../vmm/machine-config.js';
import { openSharedDirectory } from './shared-directory.js';
import { splitOptionList } from './option-list.js';

/** One `--share` value, parsed. */
export interface ShareSpec {
  readonly path: string;
  /** undefined: share0, share1, … by position among the shares. */
  readonly tag?: string;
  readonly readOnly: boolean;
}

const SYNTAX = '--share HOSTDIR[,tag=TAG][,readonly] (write ",," for a comma in HOSTDIR)';

/** Parses `HOSTDIR[,tag=TAG][,readonly]`, with `,,` for a literal comma as in --disk. */
export function parseShareSpec(text: string): ShareSpec {
  const { head: path, options } = splitOptionList(text);
  if (path === '') throw new TypervisorError(`--share '${text}' names no directory`, { hint: `use ${SYNTAX}` });
  let tag: string | undefined;
  let readOnly = false;
  for (const { key, value, text: option } of options) {
    if ((key === 'tag' || key === 'mount_tag') && value !== undefined) {
      try {
        tag = validateMountTag(value);
      } catch (e) {
        throw new TypervisorError(`--share ${path}: ${(e as Error).message}`, { hint: (e as TypervisorError).hint });
      }
    } else if ((key === 'readonly' || key === 'ro') && (value === undefined || value === 'on' || value === 'off')) {
      readOnly = value !== 'off';
    } else {
      throw new TypervisorError(`--share ${path}: unknown option '${option}'`, { hint: `use ${SYNTAX}` });
    }
  }
  return { path, readOnly, ...(tag !== undefined ? { tag } : {}) };
}

/** The tag of the `index`-th share when none is given. */
export function defaultShareTag(index: number): string {
  return `share${index}`;
}

/**
 * Opens the folders of `specs` as virtio-9p device configs (tags defaulted, duplicates refused).
 * A missing folder or a file is an error naming it, before anything boots.
 */
export async function openShares(specs: readonly ShareSpec[]): Promise<ShareConfig[]> {
  const tags = specs.map((s, i) => s.tag ?? defaultShareTag(i));
  tags.forEach((t, i) => {
    if (tags.indexOf(t) !== i) {
      throw new TypervisorError(`--share ${specs[i]!.path}: tag '${t}' is already used by --share ${specs[tags.indexOf(t)]!.path}`, {
        hint: 'give each share its own tag=…',
      });
    }
  });
  const out: ShareConfig[] = [];
  for (const [i, spec] of specs.entries()) {
    const fs = await openSharedDirectory(spec.path, { readOnly: spec.readOnly }, `--share ${spec.path}`);
    out.push({ type: 'virtio-9p', fs, tag: tags[i]!, name: spec.path });
  }
  return out;
}
