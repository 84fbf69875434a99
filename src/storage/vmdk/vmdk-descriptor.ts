// The VMDK text descriptor (VMware Virtual Disk Format 5.0, §"The Descriptor File"): lines of
// `key=value` (header and disk database) and extent descriptions
// `ACCESS SIZE TYPE "FILENAME" [OFFSET]`, with `#` comments.
import { TypervisorError } from '../../core/errors.js';

/** A descriptor file bigger than this is not a descriptor (QEMU refuses over 1 MiB too). */
export const MAX_DESCRIPTOR_BYTES = 1 << 20;
/** More extents than this are refused (a 2 TB twoGbMaxExtent disk has about 1000). */
export const MAX_EXTENTS = 4096;

export type ExtentType = 'FLAT' | 'VMFS' | 'SPARSE' | 'ZERO';

export interface ExtentLine {
  readonly access: 'RW' | 'RDONLY';
  /** Size in sectors. */
  readonly sectors: number;
  readonly type: ExtentType;
  /** The extent file as named (relative to the descriptor); undefined for ZERO. */
  readonly fileName?: string;
  /** FLAT/VMFS: where the extent's data starts in its file, in sectors. */
  readonly offset: number;
  /** 1-based line number, for messages. */
  readonly line: number;
}

export interface VmdkDescriptor {
  readonly createType: string | undefined;
  readonly cid: number | undefined;
  readonly parentCid: number | undefined;
  readonly parentFileNameHint: string | undefined;
  readonly extents: readonly ExtentLine[];
}

/** The createTypes whose extents are all of the types above. */
export const SUPPORTED_CREATE_TYPES = ['monolithicSparse', 'streamOptimized', 'monolithicFlat', 'twoGbMaxExtentSparse', 'twoGbMaxExtentFlat', 'vmfs'];

const UNSUPPORTED_EXTENT_TYPES = ['VMFSSPARSE', 'SESPARSE', 'VMFSRDM', 'VMFSRAW'];

/**
 * Whether `text` (a file's first bytes) reads as a VMDK text descriptor, by QEMU 7.2's probe
 * (block/vmdk.c vmdk_probe, checked against Debian's qemu-img): after lines starting with `#`,
 * the first line is exactly `version=1`, `2` or `3` (LF or CRLF). Blank or indented lines first
 * make it raw, as for QEMU.
 */
export function looksLikeVmdkDescriptor(text: string): boolean {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    return /^version=[123]\r?$/.test(line);
  }
  return false;
}

function bad(name: string, message: string): TypervisorError {
  return new TypervisorError(`${name}: bad VMDK descriptor: ${message}`, {
    hint: 'fix the text descriptor (VMware Virtual Disk Format 5.0, "The Descriptor File") or convert the disk with qemu-img convert -O qcow2',
  });
}

function unquote(v: string): string {
  const t = v.trim();
  return t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1) : t;
}

function parseCid(name: string, key: string, value: string, line: number): number {
  if (!/^[0-9a-fA-F]{1,8}$/.test(value)) throw bad(name, `line ${line}: ${key} is '${value}', not a 32-bit hexadecimal number`);
  return parseInt(value, 16);
}

/**
 * Parses descriptor `text` of file `name` (embedded in a sparse extent or a file of its own).
 * Does not check which extents a createType allows beyond refusing unsupported types.
 */
export function parseVmdkDescriptor(name: string, text: string): VmdkDescriptor {
  const nul = text.indexOf('\0');
  const body = nul >= 0 ? text.slice(0, nul) : text;
  let createType: string | undefined;
  let cid: number | undefined;
  let parentCid: number | undefined;
  let parentFileNameHint: string | undefined;
  const extents: ExtentLine[] = [];
  const lines = body.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    const no = i + 1;
    if (line === '' || line.startsWith('#')) continue;
    const ext = /^(RW|RDONLY|NOACCESS)\s+(\S+)\s+(\S+)(?:\s+"([^"]*)"(?:\s+(\S+))?)?\s*$/.exec(line);
    if (ext) {
      const [, access, sizeText, type, fileName, offsetText] = ext;
      if (access === 'NOACCESS') throw bad(name, `line ${no}: NOACCESS extents are not supported`);
      if (!/^\d{1,16}$/.test(sizeText) || Number(sizeText) === 0 || Number(sizeText) > Number.MAX_SAFE_INTEGER / 512) {
        throw bad(name, `line ${no}: extent size '${sizeText}' is not a sector count from 1 to ${Math.floor(Number.MAX_SAFE_INTEGER / 512)}`);
      }
      if (UNSUPPORTED_EXTENT_TYPES.includes(type)) throw bad(name, `line ${no}: ${type} extents are not supported (only FLAT, VMFS, SPARSE and ZERO)`);
      if (type !== 'FLAT' && type !== 'VMFS' && type !== 'SPARSE' && type !== 'ZERO') throw bad(name, `line ${no}: unknown extent type '${type}'`);
      if (type !== 'ZERO' && (fileName === undefined || fileName === '')) throw bad(name, `line ${no}: the ${type} extent names no file`);
      let offset = 0;
      if (offsetText !== undefined) {
        if (!/^\d{1,16}$/.test(offsetText) || Number(offsetText) > Number.MAX_SAFE_INTEGER / 512) throw bad(name, `line ${no}: extent offset '${offsetText}' is not a sector number`);
        if (type !== 'FLAT' && type !== 'VMFS' && Number(offsetText) !== 0) throw bad(name, `line ${no}: a ${type} extent has offset ${offsetText}; only flat extents have one`);
        offset = Number(offsetText);
      }
      if (extents.length >= MAX_EXTENTS) throw bad(name, `more than ${MAX_EXTENTS} extents`);
      extents.push({ access: access as 'RW' | 'RDONLY', sectors: Number(sizeText), type, ...(type !== 'ZERO' ? { fileName } : {}), offset, line: no });
      continue;
    }
    const eq = line.indexOf('=');
    if (eq <= 0) throw bad(name, `line ${no} is neither key=value nor an extent description: '${line.slice(0, 80)}'`);
    const key = line.slice(0, eq).trim();
    const value = unquote(line.slice(eq + 1));
    if (key === 'createType') createType = value;
    else if (key === 'CID') cid = parseCid(name, key, value, no);
    else if (key === 'parentCID') parentCid = parseCid(name, key, value, no);
    else if (key === 'parentFileNameHint') parentFileNameHint = value;
  }
  return { createType, cid, parentCid, parentFileNameHint, extents };
}
