// The numbers of the 9P2000.L protocol: message types, qid types, flags, and the Linux errno
// values Rlerror carries. 9P2000.L is 9P2000 (Plan 9's intro(5)) plus the Linux messages of
// the v9fs client (Linux include/net/9p/9p.h; documented in diod's protocol.md). Every message
// is `size[4] type[1] tag[2] body`, little-endian; a string is `len[2]` then UTF-8 bytes; a
// qid is `type[1] version[4] path[8]`.

/** Message types: T-messages are even, their R-message is the next number. */
export const P9 = {
  Tlerror: 6,
  Rlerror: 7,
  Tstatfs: 8,
  Tlopen: 12,
  Tlcreate: 14,
  Tsymlink: 16,
  Tmknod: 18,
  Trename: 20,
  Treadlink: 22,
  Tgetattr: 24,
  Tsetattr: 26,
  Txattrwalk: 30,
  Txattrcreate: 32,
  Treaddir: 40,
  Tfsync: 50,
  Tlock: 52,
  Tgetlock: 54,
  Tlink: 70,
  Tmkdir: 72,
  Trenameat: 74,
  Tunlinkat: 76,
  Tversion: 100,
  Tauth: 102,
  Tattach: 104,
  Tflush: 108,
  Twalk: 110,
  Tread: 116,
  Twrite: 118,
  Tclunk: 120,
  Tremove: 122,
} as const;

/** The version string this server speaks; Tversion with anything else gets "unknown". */
export const P9_VERSION_L = '9P2000.L';
/** "no fid" (afid of an unauthenticated Tattach) and "no tag" (Tversion's tag). */
export const P9_NOFID = 0xffff_ffff;
export const P9_NOTAG = 0xffff;
/** Twalk carries at most 16 names (MAXWELEM in intro(5)). */
export const P9_MAXWELEM = 16;
/** size[4] type[1] tag[2]. */
export const P9_HEADER_BYTES = 7;
/** Rread/Rreaddir/Rlerror: header + count[4] (or ecode[4]). */
export const P9_IOHDR_BYTES = 11;
/** Bytes of a qid on the wire. */
export const P9_QID_BYTES = 13;

/** Qid types (the high byte of a Plan 9 mode). */
export const QidType = { DIR: 0x80, APPEND: 0x40, EXCL: 0x20, MOUNT: 0x10, AUTH: 0x08, TMP: 0x04, SYMLINK: 0x02, LINK: 0x01, FILE: 0x00 } as const;

/** Tgetattr request_mask / Rgetattr valid: the basic fields (mode … blocks). */
export const P9_GETATTR_BASIC = 0x7ffn;

/** Tsetattr valid bits (Linux include/net/9p/9p.h P9_ATTR_*). */
export const SetattrValid = {
  MODE: 0x1,
  UID: 0x2,
  GID: 0x4,
  SIZE: 0x8,
  ATIME: 0x10,
  MTIME: 0x20,
  CTIME: 0x40,
  ATIME_SET: 0x80,
  MTIME_SET: 0x100,
} as const;

/** Tlopen/Tlcreate flags are Linux's open(2) flags (asm-generic/fcntl.h). */
export const DotlOpen = {
  ACCMODE: 0o3,
  WRONLY: 0o1,
  RDWR: 0o2,
  CREAT: 0o100,
  EXCL: 0o200,
  TRUNC: 0o1000,
  APPEND: 0o2000,
  DIRECTORY: 0o200000,
} as const;

/** Tunlinkat flags: AT_REMOVEDIR. */
export const AT_REMOVEDIR = 0x200;

/** Rlock status. */
export const LockStatus = { SUCCESS: 0, BLOCKED: 1, ERROR: 2, GRACE: 3 } as const;
/** Tgetlock/Rgetlock type: F_UNLCK means "no conflicting lock". */
export const LOCK_TYPE_UNLCK = 2;

/** File type bits of st_mode (the same numbers on Linux and in 9P2000.L). */
export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;

/** Linux errno values (asm-generic/errno-base.h, errno.h): Rlerror's ecode. */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  EIO: 5,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EBUSY: 16,
  EEXIST: 17,
  EXDEV: 18,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  ENFILE: 23,
  EMFILE: 24,
  EFBIG: 27,
  ENOSPC: 28,
  EROFS: 30,
  EMLINK: 31,
  ERANGE: 34,
  ENAMETOOLONG: 36,
  ENOSYS: 38,
  ENOTEMPTY: 39,
  ELOOP: 40,
  ENODATA: 61,
  EPROTO: 71,
  EOVERFLOW: 75,
  EOPNOTSUPP: 95,
  EDQUOT: 122,
} as const;
