// A host folder shared with the guest over virtio-9p: the SharedFileSystem of
// src/devices/virtio/9p on Node's fs/promises. The guest is hostile, so nothing outside the
// folder may be reached whatever names it sends:
// - every name is checked again here (not empty, no '/', no NUL, not '.' or '..');
// - the folder holding the name is realpath'd and must be exactly the path built from the
//   names: any symlink (or a non-directory) on the way fails with ELOOP/ENOTDIR, so no host
//   symlink is ever followed, wherever it points;
// - the last name is used only by calls that do not follow it (lstat, open with O_NOFOLLOW,
//   mkdir, symlink, readlink, unlink, rmdir, rename, link, lchown, lutimes), or after an lstat
//   said it is not a symlink (chmod);
// - a symlink the guest makes is stored as it is and only ever readlink'd.
// The device answers one request at a time, so the guest cannot race a check against a change;
// other host processes changing the folder at the same moment are trusted. Hard links made on
// the host to files outside the folder are, like on any file server, shared as they are.
import { constants, promises as fsp, type BigIntStats } from 'node:fs';
import path from 'node:path';
import { TypervisorError } from '../core/errors.js';
import { Errno } from '../devices/virtio/9p/p9-protocol.js';
import {
  SharedFsError,
  isValidName,
  type AttrChanges,
  type DirEntry,
  type FileStat,
  type FileTime,
  type FsStat,
  type OpenMode,
  type SharedFile,
  type SharedFileSystem,
} from '../devices/virtio/9p/shared-file-system.js';

const { O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_EXCL, O_TRUNC, O_APPEND, O_NOFOLLOW, O_NONBLOCK, O_DIRECTORY } = constants;
const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
/** Entries lstat'd at once while listing a directory. */
const STAT_BATCH = 64;

const fail = (errno: number): never => {
  throw new SharedFsError(errno);
};

/** A Node error as the Linux errno Rlerror carries (by code name: libuv's numbers differ off Linux). */
function errnoOf(e: unknown): number {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code in Errno) return Errno[code as keyof typeof Errno];
  if (code === 'ENOTSUP') return Errno.EOPNOTSUPP;
  return Errno.EIO;
}

/** Runs a host call, turning its failure into a SharedFsError. */
async function host<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    if (e instanceof SharedFsError) throw e;
    throw new SharedFsError(errnoOf(e), e instanceof Error ? e.message : String(e));
  }
}

function time(ns: bigint): FileTime {
  let sec = ns / 1_000_000_000n;
  let nsec = ns % 1_000_000_000n;
  if (nsec < 0n) {
    sec -= 1n;
    nsec += 1_000_000_000n;
  }
  return { sec, nsec: Number(nsec) };
}

function fileStat(s: BigIntStats): FileStat {
  return {
    mode: Number(s.mode),
    ino: s.ino,
    nlink: s.nlink,
    uid: Number(s.uid),
    gid: Number(s.gid),
    rdev: s.rdev,
    size: s.size,
    blksize: s.blksize,
    blocks: s.blocks,
    atime: time(s.atimeNs),
    mtime: time(s.mtimeNs),
    ctime: time(s.ctimeNs),
  };
}

function accessFlags(mode: OpenMode): number {
  const access = mode.write ? (mode.read ? O_RDWR : O_WRONLY) : O_RDONLY;
  return access | (mode.truncate ? O_TRUNC : 0) | (mode.append ? O_APPEND : 0) | O_NOFOLLOW | O_NONBLOCK;
}

/** An open host file. */
class HostFile implements SharedFile {
  constructor(private readonly handle: fsp.FileHandle) {}

  async read(offset: number, length: number): Promise<Uint8Array> {
    const buf = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await host(() => this.handle.read(buf, done, length - done, offset + done));
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return buf.subarray(0, done);
  }

  async write(offset: number, data: Uint8Array): Promise<number> {
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await host(() => this.handle.write(data, done, data.length - done, offset + done));
      if (bytesWritten === 0) break;
      done += bytesWritten;
    }
    return done;
  }

  sync(dataOnly: boolean): Promise<void> {
    return host(() => (dataOnly ? this.handle.datasync() : this.handle.sync()));
  }

  close(): Promise<void> {
    return host(() => this.handle.close());
  }
}

export interface SharedDirectoryOptions {
  /** Refuse every change with EROFS. */
  readonly readOnly?: boolean;
}

/**
 * Opens a host folder for sharing; `name` is how messages call it (the path the user gave).
 * Throws a TypervisorError when it is missing or not a folder.
 */
export async function openSharedDirectory(hostPath: string, options: SharedDirectoryOptions = {}, name = hostPath): Promise<SharedDirectory> {
  let root: string;
  try {
    root = await fsp.realpath(hostPath);
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new TypervisorError(`${name}: ${code === 'ENOENT' ? 'no such directory' : `cannot open it (${code ?? String(e)})`}`, {
      hint: 'give an existing host directory to share, e.g. --share ./shared',
    });
  }
  const s = await fsp.stat(root);
  if (!s.isDirectory()) throw new TypervisorError(`${name}: not a directory`, { hint: '--share takes a directory; the guest mounts it with mount -t 9p' });
  return new SharedDirectory(root, options.readOnly ?? false);
}

/** A host folder as a SharedFileSystem (see the top of this file for the rules it keeps). */
export class SharedDirectory implements SharedFileSystem {
  /** `root` must be a real path (no symlinks): {@link openSharedDirectory} makes one. */
  constructor(readonly root: string, readonly readOnly: boolean) {}

  /**
   * The host path of `names` after checking that every name is a plain name and that the
   * folder holding the last one is reached without any symlink.
   */
  private async resolve(names: readonly string[]): Promise<string> {
    for (const n of names) if (!isValidName(n)) fail(Errno.EINVAL);
    if (names.length === 0) return this.root;
    const parent = path.join(this.root, ...names.slice(0, -1));
    if (names.length > 1) {
      const real = await host(() => fsp.realpath(parent));
      if (real !== parent) fail(Errno.ELOOP); // a symlink on the way: never followed
    }
    return path.join(parent, names[names.length - 1]!);
  }

  private change(): void {
    if (this.readOnly) fail(Errno.EROFS);
  }

  private async lstat(full: string): Promise<FileStat> {
    return fileStat(await host(() => fsp.lstat(full, { bigint: true })));
  }

  async stat(names: readonly string[]): Promise<FileStat> {
    return this.lstat(await this.resolve(names));
  }

  /** Opens a regular file: O_NOFOLLOW refuses a symlink, O_NONBLOCK keeps a FIFO from blocking, fstat refuses the rest. */
  private async openFile(full: string, flags: number): Promise<fsp.FileHandle> {
    const handle = await host(() => fsp.open(full, flags));
    try {
      const s = await host(() => handle.stat());
      if (!s.isFile()) fail(s.isDirectory() ? Errno.EISDIR : Errno.EPERM);
      return handle;
    } catch (e) {
      await handle.close().catch(() => undefined);
      throw e;
    }
  }

  async open(names: readonly string[], mode: OpenMode): Promise<SharedFile> {
    if (mode.write || mode.truncate) this.change();
    const full = await this.resolve(names);
    const s = await this.lstat(full);
    if ((s.mode & S_IFMT) !== S_IFREG) fail((s.mode & S_IFMT) === S_IFLNK ? Errno.ELOOP : (s.mode & S_IFMT) === S_IFDIR ? Errno.EISDIR : Errno.EPERM);
    return new HostFile(await this.openFile(full, accessFlags(mode)));
  }

  async create(dir: readonly string[], name: string, mode: OpenMode, perm: number, exclusive: boolean): Promise<{ file: SharedFile; stat: FileStat }> {
    this.change();
    const full = await this.resolve([...dir, name]);
    let handle: fsp.FileHandle;
    let created = true;
    try {
      handle = await this.openFile(full, accessFlags(mode) | O_CREAT | O_EXCL);
    } catch (e) {
      if (exclusive || !(e instanceof SharedFsError) || e.errno !== Errno.EEXIST) throw e;
      created = false;
      handle = await this.openFile(full, accessFlags(mode)); // O_NOFOLLOW: an existing symlink is refused
    }
    try {
      // The guest applied its umask already; the host's must not take more bits away.
      if (created) await host(() => handle.chmod(perm & 0o7777));
      const s = fileStat(await host(() => handle.stat({ bigint: true })));
      return { file: new HostFile(handle), stat: s };
    } catch (e) {
      await handle.close().catch(() => undefined);
      throw e;
    }
  }

  async readdir(dir: readonly string[]): Promise<DirEntry[]> {
    const full = await this.resolve(dir);
    const s = await this.lstat(full);
    if ((s.mode & S_IFMT) !== S_IFDIR) fail(Errno.ENOTDIR);
    const names = await host(() => fsp.readdir(full));
    const out: DirEntry[] = [];
    for (let i = 0; i < names.length; i += STAT_BATCH) {
      const batch = names.slice(i, i + STAT_BATCH);
      const stats = await Promise.all(batch.map((n) => fsp.lstat(path.join(full, n), { bigint: true }).catch(() => undefined)));
      batch.forEach((n, j) => {
        const st = stats[j];
        if (st && isValidName(n)) out.push({ name: n, stat: fileStat(st) }); // one removed meanwhile is left out
      });
    }
    return out;
  }

  async mkdir(dir: readonly string[], name: string, perm: number): Promise<FileStat> {
    this.change();
    const full = await this.resolve([...dir, name]);
    await host(() => fsp.mkdir(full, { mode: perm & 0o7777 }));
    const handle = await host(() => fsp.open(full, O_RDONLY | O_DIRECTORY | O_NOFOLLOW));
    try {
      await host(() => handle.chmod(perm & 0o7777));
      return fileStat(await host(() => handle.stat({ bigint: true })));
    } finally {
      await handle.close().catch(() => undefined);
    }
  }

  async symlink(dir: readonly string[], name: string, target: string): Promise<FileStat> {
    this.change();
    if (target === '' || target.includes('\0')) fail(Errno.EINVAL);
    const full = await this.resolve([...dir, name]);
    await host(() => fsp.symlink(target, full));
    return this.lstat(full);
  }

  async readlink(names: readonly string[]): Promise<string> {
    const full = await this.resolve(names);
    return host(() => fsp.readlink(full));
  }

  async unlink(dir: readonly string[], name: string, directory: boolean): Promise<void> {
    this.change();
    const full = await this.resolve([...dir, name]);
    await host(() => (directory ? fsp.rmdir(full) : fsp.unlink(full)));
  }

  async rename(fromDir: readonly string[], fromName: string, toDir: readonly string[], toName: string): Promise<void> {
    this.change();
    const from = await this.resolve([...fromDir, fromName]);
    const to = await this.resolve([...toDir, toName]);
    await host(() => fsp.rename(from, to));
  }

  async link(target: readonly string[], dir: readonly string[], name: string): Promise<void> {
    this.change();
    const from = await this.resolve(target);
    const to = await this.resolve([...dir, name]);
    await host(() => fsp.link(from, to)); // link(2) does not follow a symlink source on Linux
  }

  async setattr(names: readonly string[], c: AttrChanges): Promise<void> {
    this.change();
    const full = await this.resolve(names);
    const s = await this.lstat(full);
    const kind = s.mode & S_IFMT;
    if (c.size !== undefined) {
      if (kind !== S_IFREG) fail(kind === S_IFDIR ? Errno.EISDIR : Errno.EINVAL);
      const handle = await this.openFile(full, O_WRONLY | O_NOFOLLOW | O_NONBLOCK);
      try {
        await host(() => handle.truncate(c.size));
      } finally {
        await handle.close().catch(() => undefined);
      }
    }
    if (c.mode !== undefined) {
      if (kind === S_IFLNK) fail(Errno.EOPNOTSUPP); // a symlink has no mode of its own (fchmodat AT_SYMLINK_NOFOLLOW)
      await host(() => fsp.chmod(full, c.mode!)); // not a symlink, as lstat said just now
    }
    if (c.uid !== undefined || c.gid !== undefined) {
      await host(() => fsp.lchown(full, c.uid ?? -1, c.gid ?? -1));
    }
    if (c.atime !== undefined || c.mtime !== undefined) {
      const seconds = (t: FileTime | 'now' | undefined, old: FileTime): number | Date =>
        t === 'now' ? new Date() : Number((t ?? old).sec) + (t ?? old).nsec / 1e9;
      await host(() => fsp.lutimes(full, seconds(c.atime, s.atime), seconds(c.mtime, s.mtime)));
    }
  }

  async statfs(): Promise<FsStat> {
    const s = await host(() => fsp.statfs(this.root, { bigint: true }));
    return {
      type: Number(BigInt.asUintN(32, s.type)),
      bsize: Number(s.bsize),
      blocks: s.blocks,
      bfree: s.bfree,
      bavail: s.bavail,
      files: s.files,
      ffree: s.ffree,
      namelen: 255,
    };
  }
}
