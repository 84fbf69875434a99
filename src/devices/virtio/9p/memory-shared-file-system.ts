import { Errno, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from './p9-protocol.js';
import { SharedFsError, isValidName, type AttrChanges, type DirEntry, type FileStat, type FileTime, type FsStat, type OpenMode, type SharedFile, type SharedFileSystem } from './shared-file-system.js';

// A SharedFileSystem held in memory: for tests of the 9P server and device (and for hosts
// without a file system, such as a browser). Same rules as the host's: paths are resolved name
// by name and a symlink is never followed.

interface Node {
  mode: number;
  readonly ino: bigint;
  nlink: number;
  uid: number;
  gid: number;
  data: Uint8Array;
  readonly entries: Map<string, Node> | undefined;
  target: string;
  atime: FileTime;
  mtime: FileTime;
  ctime: FileTime;
}

const fail = (errno: number): never => {
  throw new SharedFsError(errno);
};
const now = (): FileTime => {
  const ms = Date.now();
  return { sec: BigInt(Math.floor(ms / 1000)), nsec: (ms % 1000) * 1_000_000 };
};
/** Largest file the fake holds (tests stay small). */
const MAX_FILE_BYTES = 64 << 20;

export class MemorySharedFileSystem implements SharedFileSystem {
  private nextIno = 1n;
  readonly root: Node;
  /** Files open now (opened and not closed): tests check nothing is left open. */
  openCount = 0;

  constructor(readonly readOnly = false) {
    this.root = this.node(S_IFDIR | 0o755);
  }

  private node(mode: number, target = ''): Node {
    const t = now();
    return {
      mode,
      ino: this.nextIno++,
      nlink: (mode & S_IFMT) === S_IFDIR ? 2 : 1,
      uid: 0,
      gid: 0,
      data: new Uint8Array(0),
      entries: (mode & S_IFMT) === S_IFDIR ? new Map() : undefined,
      target,
      atime: t,
      mtime: t,
      ctime: t,
    };
  }

  /** Test helper: puts a file, directory or symlink at a '/'-separated path (parents made). */
  put(path: string, content: string | Uint8Array | { symlink: string } | { dir: true }): void {
    const names = path.split('/').filter((n) => n);
    let dir = this.root;
    for (const n of names.slice(0, -1)) {
      let next = dir.entries!.get(n);
      if (!next) dir.entries!.set(n, (next = this.node(S_IFDIR | 0o755)));
      dir = next;
    }
    const name = names[names.length - 1]!;
    if (typeof content === 'object' && 'symlink' in content) dir.entries!.set(name, this.node(S_IFLNK | 0o777, content.symlink));
    else if (typeof content === 'object' && 'dir' in content) dir.entries!.set(name, this.node(S_IFDIR | 0o755));
    else {
      const f = this.node(S_IFREG | 0o644);
      f.data = typeof content === 'string' ? new TextEncoder().encode(content) : content.slice();
      dir.entries!.set(name, f);
    }
  }

  /** Test helper: the node at a '/'-separated path, or undefined. */
  get(path: string): { kind: 'dir' | 'file' | 'symlink'; data: Uint8Array; target: string; mode: number } | undefined {
    try {
      const n = this.lookup(path.split('/').filter((x) => x));
      const kind = (n.mode & S_IFMT) === S_IFDIR ? 'dir' : (n.mode & S_IFMT) === S_IFLNK ? 'symlink' : 'file';
      return { kind, data: n.data, target: n.target, mode: n.mode };
    } catch {
      return undefined;
    }
  }

  private lookup(path: readonly string[]): Node {
    let n = this.root;
    for (const name of path) {
      if (!isValidName(name)) fail(Errno.EINVAL);
      if (!n.entries) fail((n.mode & S_IFMT) === S_IFLNK ? Errno.ELOOP : Errno.ENOTDIR);
      n = n.entries!.get(name) ?? fail(Errno.ENOENT);
    }
    return n;
  }

  private dir(path: readonly string[]): Map<string, Node> {
    const n = this.lookup(path);
    return n.entries ?? fail(Errno.ENOTDIR);
  }

  private change(): void {
    if (this.readOnly) fail(Errno.EROFS);
  }

  private static stat(n: Node): FileStat {
    return {
      mode: n.mode,
      ino: n.ino,
      nlink: BigInt(n.nlink),
      uid: n.uid,
      gid: n.gid,
      rdev: 0n,
      size: BigInt(n.entries ? 4096 : (n.mode & S_IFMT) === S_IFLNK ? new TextEncoder().encode(n.target).length : n.data.length),
      blksize: 4096n,
      blocks: BigInt(Math.ceil(n.data.length / 512)),
      atime: n.atime,
      mtime: n.mtime,
      ctime: n.ctime,
    };
  }

  async stat(path: readonly string[]): Promise<FileStat> {
    return MemorySharedFileSystem.stat(this.lookup(path));
  }

  async open(path: readonly string[], mode: OpenMode): Promise<SharedFile> {
    const n = this.lookup(path);
    if ((n.mode & S_IFMT) === S_IFLNK) fail(Errno.ELOOP);
    if ((n.mode & S_IFMT) !== S_IFREG) fail(Errno.EISDIR);
    if (mode.write || mode.truncate) this.change();
    if (mode.truncate) n.data = new Uint8Array(0);
    return this.file(n, mode);
  }

  private file(n: Node, mode: OpenMode): SharedFile {
    let closed = false;
    const open = () => closed && fail(Errno.EBADF);
    this.openCount++;
    return {
      read: async (offset, length) => {
        open();
        if (!mode.read) fail(Errno.EBADF);
        return n.data.slice(offset, offset + length);
      },
      write: async (offset, data) => {
        open();
        if (!mode.write) fail(Errno.EBADF);
        const at = mode.append ? n.data.length : offset;
        if (at + data.length > MAX_FILE_BYTES) fail(Errno.EFBIG);
        if (at + data.length > n.data.length) {
          const bigger = new Uint8Array(at + data.length);
          bigger.set(n.data);
          n.data = bigger;
        }
        n.data.set(data, at);
        n.mtime = now();
        return data.length;
      },
      sync: async () => void open(),
      close: async () => {
        open();
        closed = true;
        this.openCount--;
      },
    };
  }

  async create(dir: readonly string[], name: string, mode: OpenMode, perm: number, exclusive: boolean): Promise<{ file: SharedFile; stat: FileStat }> {
    this.change();
    const entries = this.dir(dir);
    if (!isValidName(name)) fail(Errno.EINVAL);
    let n = entries.get(name);
    if (n && exclusive) fail(Errno.EEXIST);
    if (!n) entries.set(name, (n = this.node(S_IFREG | (perm & 0o7777))));
    return { file: await this.open([...dir, name], mode), stat: MemorySharedFileSystem.stat(n) };
  }

  async readdir(dir: readonly string[]): Promise<DirEntry[]> {
    return [...this.dir(dir)].map(([name, n]) => ({ name, stat: MemorySharedFileSystem.stat(n) }));
  }

  private add(dir: readonly string[], name: string, n: Node): FileStat {
    this.change();
    const entries = this.dir(dir);
    if (!isValidName(name)) fail(Errno.EINVAL);
    if (entries.has(name)) fail(Errno.EEXIST);
    entries.set(name, n);
    return MemorySharedFileSystem.stat(n);
  }

  async mkdir(dir: readonly string[], name: string, perm: number): Promise<FileStat> {
    return this.add(dir, name, this.node(S_IFDIR | (perm & 0o7777)));
  }

  async symlink(dir: readonly string[], name: string, target: string): Promise<FileStat> {
    return this.add(dir, name, this.node(S_IFLNK | 0o777, target));
  }

  async readlink(path: readonly string[]): Promise<string> {
    const n = this.lookup(path);
    if ((n.mode & S_IFMT) !== S_IFLNK) fail(Errno.EINVAL);
    return n.target;
  }

  async unlink(dir: readonly string[], name: string, directory: boolean): Promise<void> {
    this.change();
    const entries = this.dir(dir);
    const n = entries.get(name) ?? fail(Errno.ENOENT);
    if (directory && !n.entries) fail(Errno.ENOTDIR);
    if (!directory && n.entries) fail(Errno.EISDIR);
    if (n.entries?.size) fail(Errno.ENOTEMPTY);
    entries.delete(name);
    n.nlink--;
  }

  async rename(fromDir: readonly string[], fromName: string, toDir: readonly string[], toName: string): Promise<void> {
    this.change();
    const from = this.dir(fromDir);
    const to = this.dir(toDir);
    if (!isValidName(fromName) || !isValidName(toName)) fail(Errno.EINVAL);
    const n = from.get(fromName) ?? fail(Errno.ENOENT);
    // A directory must not move into itself (rename(2) EINVAL).
    if (n.entries) {
      let d = this.root;
      for (const name of toDir) {
        if (d === n) fail(Errno.EINVAL);
        d = d.entries!.get(name)!;
      }
      if (d === n) fail(Errno.EINVAL);
    }
    const old = to.get(toName);
    if (old === n) return;
    if (old?.entries && !n.entries) fail(Errno.EISDIR);
    if (old && !old.entries && n.entries) fail(Errno.ENOTDIR);
    if (old?.entries?.size) fail(Errno.ENOTEMPTY);
    from.delete(fromName);
    to.set(toName, n);
  }

  async link(target: readonly string[], dir: readonly string[], name: string): Promise<void> {
    const n = this.lookup(target);
    if (n.entries) fail(Errno.EPERM);
    this.add(dir, name, n);
    n.nlink++;
  }

  async setattr(path: readonly string[], c: AttrChanges): Promise<void> {
    this.change();
    const n = this.lookup(path);
    if (c.mode !== undefined) n.mode = (n.mode & S_IFMT) | (c.mode & 0o7777);
    if (c.uid !== undefined) n.uid = c.uid;
    if (c.gid !== undefined) n.gid = c.gid;
    if (c.size !== undefined) {
      if ((n.mode & S_IFMT) !== S_IFREG) fail(Errno.EINVAL);
      if (c.size > MAX_FILE_BYTES) fail(Errno.EFBIG);
      const resized = new Uint8Array(c.size);
      resized.set(n.data.subarray(0, c.size));
      n.data = resized;
    }
    if (c.atime) n.atime = c.atime === 'now' ? now() : c.atime;
    if (c.mtime) n.mtime = c.mtime === 'now' ? now() : c.mtime;
    n.ctime = now();
  }

  async statfs(): Promise<FsStat> {
    return { type: 0x01021997, bsize: 4096, blocks: 1024n, bfree: 512n, bavail: 512n, files: 1024n, ffree: 1000n, namelen: 255 };
  }
}
