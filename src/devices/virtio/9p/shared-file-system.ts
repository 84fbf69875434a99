// What the 9P server needs of a shared directory. The devices layer has no file system of its
// own: the host implements this (src/host/shared-directory.ts over a host folder; tests use
// MemorySharedFileSystem). Paths are lists of names from the share's root, each already checked
// by the server (not empty, no '/', no NUL, not '.' or '..'); an implementation MUST check them
// again and MUST NOT reach anything outside the share whatever it is given: in particular it
// never follows a symbolic link (a link is a file whose target is only ever returned by
// readlink). Failures are SharedFsError with a Linux errno; anything else thrown counts as EIO.

/** A failed file-system call, with the Linux errno Rlerror carries (p9-protocol.ts Errno). */
export class SharedFsError extends Error {
  constructor(readonly errno: number, message = `errno ${errno}`) {
    super(message);
    this.name = 'SharedFsError';
  }
}

/** A time with nanoseconds (the wire format of Rgetattr/Tsetattr). */
export interface FileTime {
  readonly sec: bigint;
  readonly nsec: number;
}

/** What lstat(2) says of a file; never about a symlink's target. */
export interface FileStat {
  /** st_mode: file type and permission bits (Linux numbers). */
  readonly mode: number;
  /** Stable id of the file within the share (the qid path: the host inode). */
  readonly ino: bigint;
  readonly nlink: bigint;
  readonly uid: number;
  readonly gid: number;
  readonly rdev: bigint;
  readonly size: bigint;
  readonly blksize: bigint;
  readonly blocks: bigint;
  readonly atime: FileTime;
  readonly mtime: FileTime;
  readonly ctime: FileTime;
}

/** One directory entry with its lstat. */
export interface DirEntry {
  readonly name: string;
  readonly stat: FileStat;
}

/** statfs(2) of the share. */
export interface FsStat {
  readonly type: number;
  readonly bsize: number;
  readonly blocks: bigint;
  readonly bfree: bigint;
  readonly bavail: bigint;
  readonly files: bigint;
  readonly ffree: bigint;
  readonly namelen: number;
}

/** How to open a file. */
export interface OpenMode {
  readonly read: boolean;
  readonly write: boolean;
  readonly truncate: boolean;
  readonly append: boolean;
}

/** An open regular file. */
export interface SharedFile {
  /** Reads up to `length` bytes at `offset`; fewer at the end of the file. */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Writes `data` at `offset`; returns the bytes written. */
  write(offset: number, data: Uint8Array): Promise<number>;
  sync(dataOnly: boolean): Promise<void>;
  close(): Promise<void>;
}

/** Tsetattr's changes; each field present is applied. `'now'` is the host's current time. */
export interface AttrChanges {
  readonly mode?: number;
  readonly uid?: number;
  readonly gid?: number;
  readonly size?: number;
  readonly atime?: FileTime | 'now';
  readonly mtime?: FileTime | 'now';
}

/** A file tree the 9P server shares with the guest. */
export interface SharedFileSystem {
  /** Every change fails with EROFS. */
  readonly readOnly: boolean;
  /** lstat of a path ([] is the root). */
  stat(path: readonly string[]): Promise<FileStat>;
  /** Opens an existing regular file (not a symlink, not a device): O_NOFOLLOW semantics. */
  open(path: readonly string[], mode: OpenMode): Promise<SharedFile>;
  /** Creates a regular file `name` in directory `dir` (O_CREAT, `exclusive`: O_EXCL) and opens it. */
  create(dir: readonly string[], name: string, mode: OpenMode, perm: number, exclusive: boolean): Promise<{ file: SharedFile; stat: FileStat }>;
  /** The entries of a directory, without '.' and '..'. */
  readdir(dir: readonly string[]): Promise<DirEntry[]>;
  mkdir(dir: readonly string[], name: string, perm: number): Promise<FileStat>;
  /** Creates a symlink holding `target` (stored as given, never resolved on the host). */
  symlink(dir: readonly string[], name: string, target: string): Promise<FileStat>;
  readlink(path: readonly string[]): Promise<string>;
  /** Removes a file (`directory` false) or an empty directory. */
  unlink(dir: readonly string[], name: string, directory: boolean): Promise<void>;
  rename(fromDir: readonly string[], fromName: string, toDir: readonly string[], toName: string): Promise<void>;
  /** A hard link `dir/name` to the file at `target` (a symlink links the link itself). */
  link(target: readonly string[], dir: readonly string[], name: string): Promise<void>;
  setattr(path: readonly string[], changes: AttrChanges): Promise<void>;
  statfs(): Promise<FsStat>;
}

/** Whether a single name is acceptable as one path element. */
export function isValidName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\0');
}
