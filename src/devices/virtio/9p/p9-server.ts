import { P9DecodeError, P9Reader, P9Writer, readHeader, stringBytes, type Qid } from './p9-message.js';
import {
  AT_REMOVEDIR,
  DotlOpen,
  Errno,
  LOCK_TYPE_UNLCK,
  LockStatus,
  P9,
  P9_GETATTR_BASIC,
  P9_HEADER_BYTES,
  P9_IOHDR_BYTES,
  P9_MAXWELEM,
  P9_QID_BYTES,
  P9_VERSION_L,
  QidType,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  SetattrValid,
} from './p9-protocol.js';
import { SharedFsError, isValidName, type AttrChanges, type DirEntry, type FileStat, type FileTime, type SharedFile, type SharedFileSystem } from './shared-file-system.js';

// A 9P2000.L file server over a SharedFileSystem: one instance per driver session (Tversion or
// a device reset starts afresh). It keeps the fid table and answers one T-message at a time
// with its R-message, or Rlerror with a Linux errno. Everything in a T-message is guest input:
// decoding is bounds-checked (p9-message.ts), fids and names are checked before use, and every
// failure becomes an Rlerror; handle() never throws.

/** Largest msize offered (Linux's virtio transport asks for about 500 KiB). */
export const P9_MAX_MSIZE = 1 << 20;
/** Smallest msize accepted in Tversion: room for a header and a useful payload. */
export const P9_MIN_MSIZE = 4096;
/** Fids one session may hold; past it Twalk/Tattach fail with ENFILE (a guest cannot grow the table forever). */
export const P9_MAX_FIDS = 65536;
/** Files open on the host at once per session; past it Tlopen/Tlcreate fail with EMFILE. */
export const P9_MAX_OPEN_FILES = 512;
/** Longest symlink target accepted (PATH_MAX − 1). */
const MAX_SYMLINK_TARGET = 4095;

interface Fid {
  /** Names from the root of the share. */
  path: string[];
  /** The qid type when the fid was made (DIR, SYMLINK, FILE). */
  qidType: number;
  /** Set by Tlopen/Tlcreate. */
  opened: boolean;
  file?: SharedFile;
  /** An opened directory's entries as of the last Treaddir at offset 0. */
  listing?: { name: string; qid: Qid; type: number }[];
}

/** The qid of a file from its lstat (qid.path is the inode; version changes with mtime and size). */
export function qidOf(stat: FileStat): Qid {
  const kind = stat.mode & S_IFMT;
  const type = kind === S_IFDIR ? QidType.DIR : kind === S_IFLNK ? QidType.SYMLINK : QidType.FILE;
  const version = Number(BigInt.asUintN(32, stat.mtime.sec ^ BigInt(stat.mtime.nsec) ^ (stat.size << 8n)));
  return { type, version, path: stat.ino };
}

const fail = (errno: number): never => {
  throw new SharedFsError(errno);
};

export class P9Server {
  /** Negotiated by Tversion; 0 before it (every other message is refused). */
  private msize = 0;
  private fids = new Map<number, Fid>();
  private openFiles = 0;

  constructor(private readonly fs: SharedFileSystem, private readonly maxMsize = P9_MAX_MSIZE) {}

  /** The msize of the session (0 before Tversion). */
  get negotiatedMsize(): number {
    return this.msize;
  }

  /** Number of fids in use (for tests). */
  get fidCount(): number {
    return this.fids.size;
  }

  /**
   * Answers one T-message (exactly `size` bytes) with an R-message of at most `room` bytes
   * (room ≥ 11, enough for Rlerror).
   */
  async handle(message: Uint8Array, room: number): Promise<Uint8Array> {
    const header = readHeader(message);
    const tag = header?.tag ?? 0xffff;
    try {
      if (!header) throw new P9DecodeError('the message is shorter than its header');
      if (header.size !== message.length) throw new P9DecodeError(`size field ${header.size} is not the message's ${message.length} bytes`);
      const limit = Math.min(room, this.msize || room);
      const reply = await this.dispatch(header.type, tag, new P9Reader(message.subarray(P9_HEADER_BYTES)), limit);
      if (reply.length > limit) return this.error(tag, Errno.ERANGE);
      return reply;
    } catch (e) {
      return this.error(tag, e instanceof SharedFsError && Number.isInteger(e.errno) && e.errno > 0 ? e.errno : e instanceof P9DecodeError ? Errno.EPROTO : Errno.EIO);
    }
  }

  /** Closes every file the session opened (the session is over). */
  async close(): Promise<void> {
    const fids = [...this.fids.values()];
    this.fids.clear();
    await Promise.all(fids.map((f) => this.release(f)));
  }

  private error(tag: number, errno: number): Uint8Array {
    return new P9Writer(P9.Rlerror, tag).u32(errno).finish();
  }

  private async release(fid: Fid): Promise<void> {
    const file = fid.file;
    fid.file = undefined;
    fid.listing = undefined;
    if (file) {
      this.openFiles--;
      await file.close().catch(() => undefined);
    }
  }

  private fid(r: number): Fid {
    return this.fids.get(r) ?? fail(Errno.EBADF);
  }

  private newFid(n: number, fid: Fid): void {
    if (this.fids.has(n)) fail(Errno.EBADF);
    if (this.fids.size >= P9_MAX_FIDS) fail(Errno.ENFILE);
    this.fids.set(n, fid);
  }

  private static name(name: string): string {
    if (!isValidName(name)) fail(name === '' || name.includes('/') || name.includes('\0') ? Errno.EINVAL : Errno.EEXIST);
    return name;
  }

  private writable(): void {
    if (this.fs.readOnly) fail(Errno.EROFS);
  }

  private async dispatch(type: number, tag: number, r: P9Reader, limit: number): Promise<Uint8Array> {
    const reply = (t: number) => new P9Writer(t + 1, tag);
    if (type === P9.Tversion) return this.version(tag, r);
    if (this.msize === 0) fail(Errno.EPROTO); // §intro(5): Tversion comes first
    switch (type) {
      case P9.Tattach: {
        const fid = r.u32();
        r.u32(); // afid: no authentication
        r.string(); // uname
        r.string(); // aname: the share is one tree
        r.u32(); // n_uname: files are accessed with the host process's rights
        const stat = await this.fs.stat([]);
        this.newFid(fid, { path: [], qidType: QidType.DIR, opened: false });
        return reply(type).qid(qidOf(stat)).finish();
      }
      case P9.Twalk:
        return this.walk(reply(type), r);
      case P9.Tlopen: {
        const fid = this.fid(r.u32());
        const flags = r.u32();
        if (fid.opened) fail(Errno.EBADF);
        const stat = await this.fs.stat(fid.path);
        const kind = stat.mode & S_IFMT;
        const access = flags & DotlOpen.ACCMODE;
        const write = access === DotlOpen.WRONLY || access === DotlOpen.RDWR || (flags & DotlOpen.TRUNC) !== 0;
        if (kind === S_IFDIR) {
          if (write) fail(Errno.EISDIR);
        } else if (kind === S_IFLNK) {
          fail(Errno.ELOOP);
        } else if (kind !== S_IFREG) {
          fail(Errno.EPERM); // devices, FIFOs, sockets of the host are not opened for the guest
        } else {
          if (flags & DotlOpen.DIRECTORY) fail(Errno.ENOTDIR);
          if (write) this.writable();
          if (this.openFiles >= P9_MAX_OPEN_FILES) fail(Errno.EMFILE);
          this.openFiles++;
          try {
            fid.file = await this.fs.open(fid.path, this.openMode(flags));
          } catch (e) {
            this.openFiles--;
            throw e;
          }
        }
        fid.opened = true;
        return reply(type).qid(qidOf(stat)).u32(0).finish();
      }
      case P9.Tlcreate: {
        const fid = this.fid(r.u32());
        const name = P9Server.name(r.string());
        const flags = r.u32();
        const mode = r.u32();
        r.u32(); // gid: the host process owns what it creates
        if (fid.opened || fid.qidType !== QidType.DIR) fail(Errno.ENOTDIR);
        this.writable();
        if (this.openFiles >= P9_MAX_OPEN_FILES) fail(Errno.EMFILE);
        this.openFiles++;
        let created: { file: SharedFile; stat: FileStat };
        try {
          created = await this.fs.create(fid.path, name, this.openMode(flags), mode & 0o7777, (flags & DotlOpen.EXCL) !== 0);
        } catch (e) {
          this.openFiles--;
          throw e;
        }
        // 9P2000.L: the fid now stands for the new file, opened.
        fid.path = [...fid.path, name];
        fid.qidType = QidType.FILE;
        fid.opened = true;
        fid.file = created.file;
        return reply(type).qid(qidOf(created.stat)).u32(0).finish();
      }
      case P9.Tread: {
        const fid = this.fid(r.u32());
        const offset = r.u64();
        const count = Math.min(r.u32(), limit - P9_IOHDR_BYTES);
        const file = fid.file ?? fail(fid.opened ? Errno.EISDIR : Errno.EBADF);
        if (offset > BigInt(Number.MAX_SAFE_INTEGER)) fail(Errno.EINVAL);
        const data = (await file.read(Number(offset), count)).subarray(0, count);
        return new P9Writer(type + 1, tag, P9_IOHDR_BYTES + data.length).u32(data.length).data(data).finish();
      }
      case P9.Twrite: {
        const fid = this.fid(r.u32());
        const offset = r.u64();
        const data = r.data(r.u32());
        const file = fid.file ?? fail(fid.opened ? Errno.EISDIR : Errno.EBADF);
        if (offset + BigInt(data.length) > BigInt(Number.MAX_SAFE_INTEGER)) fail(Errno.EFBIG);
        this.writable();
        const n = await file.write(Number(offset), data);
        return reply(type).u32(n).finish();
      }
      case P9.Tclunk: {
        const n = r.u32();
        const fid = this.fid(n);
        this.fids.delete(n);
        await this.release(fid);
        return reply(type).finish();
      }
      case P9.Tremove: {
        // Like Tclunk, the fid is gone whether or not the removal worked (intro(5) remove).
        const n = r.u32();
        const fid = this.fid(n);
        this.fids.delete(n);
        await this.release(fid);
        if (fid.path.length === 0) fail(Errno.EBUSY);
        this.writable();
        const stat = await this.fs.stat(fid.path);
        await this.fs.unlink(fid.path.slice(0, -1), fid.path[fid.path.length - 1]!, (stat.mode & S_IFMT) === S_IFDIR);
        return reply(type).finish();
      }
      case P9.Tgetattr: {
        const fid = this.fid(r.u32());
        r.u64(); // request_mask: the basic set is always there
        const s = await this.fs.stat(fid.path);
        const time = (w: P9Writer, t: FileTime) => w.u64(t.sec).u64(t.nsec);
        const w = reply(type).u64(P9_GETATTR_BASIC).qid(qidOf(s)).u32(s.mode).u32(s.uid).u32(s.gid).u64(s.nlink).u64(s.rdev).u64(s.size).u64(s.blksize).u64(s.blocks);
        time(w, s.atime);
        time(w, s.mtime);
        time(w, s.ctime);
        return w.u64(0).u64(0).u64(0).u64(0).finish(); // btime, gen, data_version: not in the basic set
      }
      case P9.Tsetattr: {
        const fid = this.fid(r.u32());
        const valid = r.u32();
        const mode = r.u32();
        const uid = r.u32();
        const gid = r.u32();
        const size = r.u64();
        const atime = [r.u64(), r.u64()] as const;
        const mtime = [r.u64(), r.u64()] as const;
        const changes: { -readonly [K in keyof AttrChanges]: AttrChanges[K] } = {};
        if (valid & SetattrValid.MODE) changes.mode = mode & 0o7777;
        if (valid & SetattrValid.UID) changes.uid = uid;
        if (valid & SetattrValid.GID) changes.gid = gid;
        if (valid & SetattrValid.SIZE) {
          if (size > BigInt(Number.MAX_SAFE_INTEGER)) fail(Errno.EFBIG);
          changes.size = Number(size);
        }
        if (valid & SetattrValid.ATIME) changes.atime = valid & SetattrValid.ATIME_SET ? checkTime(atime) : 'now';
        if (valid & SetattrValid.MTIME) changes.mtime = valid & SetattrValid.MTIME_SET ? checkTime(mtime) : 'now';
        if (Object.keys(changes).length) {
          this.writable();
          await this.fs.setattr(fid.path, changes);
        }
        return reply(type).finish(); // CTIME alone: the host updates ctime itself
      }
      case P9.Treaddir:
        return this.readdir(reply(type), r, limit);
      case P9.Tmkdir: {
        const fid = this.fid(r.u32());
        const name = P9Server.name(r.string());
        const mode = r.u32();
        r.u32(); // gid
        this.writable();
        return reply(type).qid(qidOf(await this.fs.mkdir(fid.path, name, mode & 0o7777))).finish();
      }
      case P9.Tsymlink: {
        const fid = this.fid(r.u32());
        const name = P9Server.name(r.string());
        const target = r.string();
        r.u32(); // gid
        if (target === '' || target.includes('\0')) fail(Errno.EINVAL);
        if (stringBytes(target) - 2 > MAX_SYMLINK_TARGET) fail(Errno.ENAMETOOLONG);
        this.writable();
        return reply(type).qid(qidOf(await this.fs.symlink(fid.path, name, target))).finish();
      }
      case P9.Tmknod: {
        this.fid(r.u32());
        P9Server.name(r.string());
        r.u32(); // mode
        r.u32(); // major
        r.u32(); // minor
        r.u32(); // gid
        this.writable();
        return fail(Errno.EPERM); // no device nodes, FIFOs or sockets on the host
      }
      case P9.Treadlink: {
        const fid = this.fid(r.u32());
        return reply(type).string(await this.fs.readlink(fid.path)).finish();
      }
      case P9.Tunlinkat: {
        const dir = this.fid(r.u32());
        const name = P9Server.name(r.string());
        const flags = r.u32();
        this.writable();
        await this.fs.unlink(dir.path, name, (flags & AT_REMOVEDIR) !== 0);
        return reply(type).finish();
      }
      case P9.Trenameat: {
        const from = this.fid(r.u32());
        const fromName = P9Server.name(r.string());
        const to = this.fid(r.u32());
        const toName = P9Server.name(r.string());
        this.writable();
        await this.rename(from.path, fromName, to.path, toName);
        return reply(type).finish();
      }
      case P9.Trename: {
        const fid = this.fid(r.u32());
        const to = this.fid(r.u32());
        const toName = P9Server.name(r.string());
        if (fid.path.length === 0) fail(Errno.EBUSY);
        this.writable();
        await this.rename(fid.path.slice(0, -1), fid.path[fid.path.length - 1]!, to.path, toName);
        return reply(type).finish();
      }
      case P9.Tstatfs: {
        this.fid(r.u32());
        const s = await this.fs.statfs();
        return reply(type).u32(s.type).u32(s.bsize).u64(s.blocks).u64(s.bfree).u64(s.bavail).u64(s.files).u64(s.ffree).u64(0).u32(s.namelen).finish();
      }
      case P9.Tfsync: {
        const fid = this.fid(r.u32());
        const datasync = r.remaining >= 4 ? r.u32() : 0; // older clients send the fid alone
        if (fid.file) await fid.file.sync(datasync !== 0);
        return reply(type).finish();
      }
      case P9.Tlink: {
        const dir = this.fid(r.u32());
        const target = this.fid(r.u32());
        const name = P9Server.name(r.string());
        this.writable();
        await this.fs.link(target.path, dir.path, name);
        return reply(type).finish();
      }
      case P9.Txattrwalk:
      case P9.Txattrcreate:
        return fail(Errno.EOPNOTSUPP); // no extended attributes: the guest's getxattr says ENOTSUP
      case P9.Tflush:
        // Requests are answered one at a time in order, so the flushed one is answered already.
        r.u16();
        return reply(type).finish();
      case P9.Tlock: {
        this.fid(r.u32());
        r.u8(); // type
        r.u32(); // flags
        r.u64(); // start
        r.u64(); // length
        r.u32(); // proc_id
        r.string(); // client_id
        // One guest, one client: POSIX locks are the guest kernel's business; always granted.
        return reply(type).u8(LockStatus.SUCCESS).finish();
      }
      case P9.Tgetlock: {
        this.fid(r.u32());
        r.u8();
        const start = r.u64();
        const length = r.u64();
        const procId = r.u32();
        const clientId = r.string();
        return reply(type).u8(LOCK_TYPE_UNLCK).u64(start).u64(length).u32(procId).string(clientId).finish();
      }
      default:
        // Tauth (no authentication), the 9P2000/9P2000.u messages, R-messages, unknown types.
        return fail(Errno.EOPNOTSUPP);
    }
  }

  private async version(tag: number, r: P9Reader): Promise<Uint8Array> {
    const msize = r.u32();
    const version = r.string();
    if (msize < P9_MIN_MSIZE) fail(Errno.EINVAL);
    // intro(5) version: a new session aborts everything of the old one, fids included.
    await this.close();
    const known = version === P9_VERSION_L || version.startsWith(`${P9_VERSION_L}.`);
    this.msize = known ? Math.min(msize, this.maxMsize) : 0;
    return new P9Writer(P9.Tversion + 1, tag)
      .u32(Math.min(msize, this.maxMsize))
      .string(known ? P9_VERSION_L : 'unknown')
      .finish();
  }

  private async walk(w: P9Writer, r: P9Reader): Promise<Uint8Array> {
    const fidNumber = r.u32();
    const fid = this.fid(fidNumber);
    const newfid = r.u32();
    const count = r.u16();
    if (count > P9_MAXWELEM) fail(Errno.EINVAL);
    const names: string[] = [];
    for (let i = 0; i < count; i++) names.push(r.string());
    if (newfid !== fidNumber && this.fids.has(newfid)) fail(Errno.EBADF);
    let path = [...fid.path];
    let type = fid.qidType;
    const qids: Qid[] = [];
    for (const name of names) {
      try {
        if (type !== QidType.DIR) fail(Errno.ENOTDIR);
        // '..' at the root stays at the root (intro(5) walk); '.' is where we are.
        const next = name === '..' ? path.slice(0, -1) : name === '.' ? path : isValidName(name) ? [...path, name] : fail(Errno.ENOENT);
        const qid = qidOf(await this.fs.stat(next));
        qids.push(qid);
        path = next;
        type = qid.type;
      } catch (e) {
        if (qids.length === 0) throw e; // intro(5) walk: an error only when the first name fails
        break;
      }
    }
    if (qids.length === names.length) {
      if (newfid === fidNumber) {
        if (fid.opened) fail(Errno.EBADF);
        fid.path = path;
        fid.qidType = type;
      } else {
        this.newFid(newfid, { path, qidType: type, opened: false });
      }
    }
    w.u16(qids.length);
    for (const q of qids) w.qid(q);
    return w.finish();
  }

  private async readdir(w: P9Writer, r: P9Reader, limit: number): Promise<Uint8Array> {
    const fid = this.fid(r.u32());
    const offset = r.u64();
    const count = Math.min(r.u32(), limit - P9_IOHDR_BYTES);
    if (!fid.opened || fid.qidType !== QidType.DIR) fail(fid.opened ? Errno.ENOTDIR : Errno.EBADF);
    if (offset === 0n || !fid.listing) {
      const self = await this.fs.stat(fid.path);
      const parent = fid.path.length ? await this.fs.stat(fid.path.slice(0, -1)) : self;
      const entries: DirEntry[] = [{ name: '.', stat: self }, { name: '..', stat: parent }, ...(await this.fs.readdir(fid.path))];
      fid.listing = entries.map((e) => ({ name: e.name, qid: qidOf(e.stat), type: (e.stat.mode & S_IFMT) >> 12 }));
    }
    const listing = fid.listing;
    // The offset of an entry is the index of the next one: an opaque cookie for the client.
    const body = new P9Writer(0, 0);
    let used = 0;
    for (let i = offset > BigInt(listing.length) ? listing.length : Number(offset); i < listing.length; i++) {
      const e = listing[i]!;
      const size = P9_QID_BYTES + 8 + 1 + stringBytes(e.name);
      if (used + size > count) break;
      body.qid(e.qid).u64(i + 1).u8(e.type).string(e.name);
      used += size;
    }
    return w.u32(used).data(body.finish().subarray(P9_HEADER_BYTES)).finish();
  }

  /** Renames on the host, then moves every fid at or under the old name. */
  private async rename(fromDir: string[], fromName: string, toDir: string[], toName: string): Promise<void> {
    await this.fs.rename(fromDir, fromName, toDir, toName);
    const from = [...fromDir, fromName];
    const to = [...toDir, toName];
    for (const fid of this.fids.values()) {
      if (fid.path.length >= from.length && from.every((n, i) => fid.path[i] === n)) fid.path = [...to, ...fid.path.slice(from.length)];
    }
  }

  private openMode(flags: number) {
    const access = flags & DotlOpen.ACCMODE;
    return {
      read: access !== DotlOpen.WRONLY,
      write: access === DotlOpen.WRONLY || access === DotlOpen.RDWR,
      truncate: (flags & DotlOpen.TRUNC) !== 0,
      append: (flags & DotlOpen.APPEND) !== 0,
    };
  }
}

/** A Tsetattr time: seconds are signed (before 1970), nanoseconds below one second. */
function checkTime([sec, nsec]: readonly [bigint, bigint]): FileTime {
  if (nsec >= 1_000_000_000n) fail(Errno.EINVAL);
  return { sec: BigInt.asIntN(64, sec), nsec: Number(nsec) };
}
