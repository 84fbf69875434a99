import { TypervisorError } from './errors.js';
import { concatBytes } from './concat-bytes.js';

/**
 * Writes cpio archives in the "newc" format (magic 070701), the format Linux unpacks as an
 * initramfs (Documentation/driver-api/early-userspace/buffer-format.rst) and `cpio -H newc`
 * writes. Pure TypeScript, so a browser can build a guest's initramfs too.
 *
 * Layout of one entry: a 110-byte ASCII header (magic, then 13 fields of 8 hex digits), the
 * name with its NUL, zero padding to a multiple of 4, the data, zero padding to a multiple of 4.
 * The archive ends with an entry named `TRAILER!!!`; its length is a multiple of 4, so archives
 * can be concatenated (the kernel unpacks each in turn, later ones on top of earlier ones).
 */

/** Fields every entry may set; all default to 0 except `mode`, whose default depends on the type. */
interface CpioCommon {
  /** Path inside the archive: relative (`bin/sh`, not `/bin/sh`), no `..`, no empty parts. `.` names the root. */
  name: string;
  /** Permission bits (and setuid/setgid/sticky), 0 to 0o7777. The file type comes from `type`. */
  mode?: number;
  uid?: number;
  gid?: number;
  /** Modification time, whole seconds since the Unix epoch. */
  mtime?: number;
}

/** One member of an archive. */
export type CpioEntry =
  | (CpioCommon & { type: 'directory' })
  | (CpioCommon & { type: 'file'; data: Uint8Array })
  | (CpioCommon & { type: 'symlink'; target: string })
  | (CpioCommon & { type: 'char-device' | 'block-device'; major: number; minor: number });

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;

/** What the writer needs of a TextEncoder (named structurally: ES2022's lib has no TextEncoder type). */
interface Utf8Encoder {
  encode(text: string): Uint8Array;
}

const HEADER_BYTES = 110;
const MAX_FIELD = 0xffff_ffff;
const TRAILER = 'TRAILER!!!';

/**
 * Returns the archive holding `entries` in the given order, then the trailer. Parents are not
 * added implicitly: list a directory before what it contains. Inode numbers are assigned 1, 2, …
 * in order (every entry is its own inode: no hard links). Throws a TypervisorError for a bad
 * name, a duplicate name, or a field that does not fit the format's 32 bits.
 */
export function writeCpioNewc(entries: readonly CpioEntry[]): Uint8Array {
  const encoder = new TextEncoder();
  const seen = new Set<string>();
  const parts: Uint8Array[] = [];
  const push = (bytes: Uint8Array) => parts.push(bytes);

  let ino = 0;
  for (const entry of entries) {
    checkName(entry.name);
    if (seen.has(entry.name)) throw new TypervisorError(`cpio: '${entry.name}' appears twice in the archive`);
    seen.add(entry.name);
    ino++;
    const [kind, data, rdev] = describe(entry, encoder);
    const perm = entry.mode ?? (entry.type === 'directory' ? 0o755 : entry.type === 'symlink' ? 0o777 : entry.type === 'file' ? 0o644 : 0o600);
    if (!Number.isInteger(perm) || perm < 0 || perm > 0o7777) {
      throw new TypervisorError(`cpio: mode of '${entry.name}' must be permission bits 0 to 0o7777, not ${perm}`);
    }
    push(entryBytes(encoder, entry.name, {
      ino,
      mode: kind | perm,
      uid: field(entry, 'uid', entry.uid ?? 0),
      gid: field(entry, 'gid', entry.gid ?? 0),
      nlink: entry.type === 'directory' ? 2 : 1,
      mtime: field(entry, 'mtime', entry.mtime ?? 0),
      rdevmajor: rdev[0],
      rdevminor: rdev[1],
    }, data));
  }
  push(entryBytes(encoder, TRAILER, { ino: 0, mode: 0, uid: 0, gid: 0, nlink: 1, mtime: 0, rdevmajor: 0, rdevminor: 0 }, new Uint8Array(0)));

  return concatBytes(parts);
}

function describe(entry: CpioEntry, encoder: Utf8Encoder): [number, Uint8Array, [number, number]] {
  switch (entry.type) {
    case 'directory':
      return [S_IFDIR, new Uint8Array(0), [0, 0]];
    case 'file':
      if (entry.data.length > MAX_FIELD) throw new TypervisorError(`cpio: '${entry.name}' is larger than the format's 4 GiB limit`);
      return [S_IFREG, entry.data, [0, 0]];
    case 'symlink':
      if (entry.target === '' || entry.target.includes('\0')) {
        throw new TypervisorError(`cpio: symlink '${entry.name}' needs a target without NUL characters`);
      }
      return [S_IFLNK, encoder.encode(entry.target), [0, 0]];
    case 'char-device':
    case 'block-device':
      return [entry.type === 'char-device' ? S_IFCHR : S_IFBLK, new Uint8Array(0), [field(entry, 'major', entry.major), field(entry, 'minor', entry.minor)]];
  }
}

function field(entry: CpioEntry, what: string, value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > MAX_FIELD) {
    throw new TypervisorError(`cpio: ${what} of '${entry.name}' must be an integer from 0 to ${MAX_FIELD}, not ${value}`);
  }
  return value;
}

/** Relative, no empty / `.` / `..` parts (except the lone `.`), no NUL, not the trailer's name. */
function checkName(name: string): void {
  const bad = (why: string) => new TypervisorError(`cpio: bad member name ${JSON.stringify(name)}: ${why}`);
  if (name === '') throw bad('empty');
  if (name.includes('\0')) throw bad('contains NUL');
  if (name === TRAILER) throw bad('reserved for the end-of-archive marker');
  if (name === '.') return;
  if (name.startsWith('/')) throw bad('must be relative');
  for (const part of name.split('/')) {
    if (part === '') throw bad('empty path component');
    if (part === '.' || part === '..') throw bad(`'${part}' path component`);
  }
}

interface Header {
  ino: number;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  mtime: number;
  rdevmajor: number;
  rdevminor: number;
}

function entryBytes(encoder: Utf8Encoder, name: string, h: Header, data: Uint8Array): Uint8Array {
  const nameBytes = encoder.encode(name);
  const namesize = nameBytes.length + 1;
  const hex = (n: number) => n.toString(16).padStart(8, '0');
  // c_devmajor/c_devminor (the filesystem's device) are 0; c_check is 0 for 070701.
  const header = '070701' + [h.ino, h.mode, h.uid, h.gid, h.nlink, h.mtime, data.length, 0, 0, h.rdevmajor, h.rdevminor, namesize, 0].map(hex).join('');
  const nameEnd = pad4(HEADER_BYTES + namesize);
  const out = new Uint8Array(nameEnd + pad4(data.length));
  for (let i = 0; i < HEADER_BYTES; i++) out[i] = header.charCodeAt(i);
  out.set(nameBytes, HEADER_BYTES);
  out.set(data, nameEnd);
  return out;
}

function pad4(n: number): number {
  return Math.ceil(n / 4) * 4;
}
