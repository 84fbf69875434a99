import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemorySharedFileSystem } from './memory-shared-file-system.js';
import { P9Reader, P9Writer } from './p9-message.js';
import { Errno, P9, P9_NOFID, QidType } from './p9-protocol.js';
import { P9_MAX_OPEN_FILES, P9Server } from './p9-server.js';

const O_RDONLY = 0;
const O_WRONLY = 1;
const O_RDWR = 2;
const O_CREAT = 0o100;
const O_EXCL = 0o200;
const AT_REMOVEDIR = 0x200;

/** Plays the guest's v9fs client: builds T-messages and decodes the answers. */
class Client {
  private tag = 1;
  constructor(readonly server: P9Server, private room = 1 << 20) {}

  async call(type: number, body: (w: P9Writer) => P9Writer = (w) => w): Promise<{ type: number; r: P9Reader; errno?: number }> {
    const tag = this.tag++ & 0x7fff;
    const reply = await this.server.handle(body(new P9Writer(type, tag)).finish(), this.room);
    const r = new P9Reader(reply);
    const size = r.u32();
    const rtype = r.u8();
    expect(r.u16()).toBe(tag);
    expect(size).toBe(reply.length);
    if (rtype === P9.Rlerror) return { type: rtype, r, errno: r.u32() };
    expect(rtype).toBe(type + 1);
    return { type: rtype, r };
  }

  /** The call must succeed; returns the reader positioned at the body. */
  async ok(type: number, body?: (w: P9Writer) => P9Writer): Promise<P9Reader> {
    const res = await this.call(type, body);
    if (res.errno !== undefined) throw new Error(`type ${type} failed with errno ${res.errno}`);
    return res.r;
  }

  async errno(type: number, body?: (w: P9Writer) => P9Writer): Promise<number | undefined> {
    return (await this.call(type, body)).errno;
  }

  async start(msize = 65536): Promise<void> {
    await this.ok(P9.Tversion, (w) => w.u32(msize).string('9P2000.L'));
    await this.ok(P9.Tattach, (w) => w.u32(0).u32(P9_NOFID).string('root').string('').u32(0));
  }

  walk(fid: number, newfid: number, ...names: string[]) {
    return this.call(P9.Twalk, (w) => {
      w.u32(fid).u32(newfid).u16(names.length);
      for (const n of names) w.string(n);
      return w;
    });
  }

  async open(fid: number, path: string[], flags: number): Promise<void> {
    expect((await this.walk(0, fid, ...path)).errno).toBeUndefined();
    await this.ok(P9.Tlopen, (w) => w.u32(fid).u32(flags));
  }

  async read(fid: number, offset: number, count: number): Promise<Uint8Array> {
    const r = await this.ok(P9.Tread, (w) => w.u32(fid).u64(offset).u32(count));
    return r.data(r.u32()).slice();
  }

  async readdir(fid: number, count = 8192): Promise<string[]> {
    const names: string[] = [];
    for (let offset = 0n; ; ) {
      const r = await this.ok(P9.Treaddir, (w) => w.u32(fid).u64(offset).u32(count));
      const n = r.u32();
      if (n === 0) return names;
      const body = new P9Reader(r.data(n));
      while (body.remaining) {
        body.data(13);
        offset = body.u64();
        body.u8();
        names.push(body.string());
      }
    }
  }
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const bytes = (s: string) => new TextEncoder().encode(s);

async function setup(readOnly = false) {
  const fs = new MemorySharedFileSystem(readOnly);
  fs.put('hello.txt', 'hello, world\n');
  fs.put('dir/inner.txt', 'inner');
  fs.put('dir/link', { symlink: '../hello.txt' });
  const server = new P9Server(fs);
  const c = new Client(server);
  await c.start();
  return { fs, server, c };
}

describe('P9Server (9P2000.L)', () => {
  it('negotiates msize and version in Tversion, refusing everything before it', async () => {
    const server = new P9Server(new MemorySharedFileSystem(), 128 * 1024);
    const c = new Client(server);
    expect(await c.errno(P9.Tattach, (w) => w.u32(0).u32(P9_NOFID).string('').string('').u32(0))).toBe(Errno.EPROTO);
    let r = await c.ok(P9.Tversion, (w) => w.u32(1 << 24).string('9P2000.L'));
    expect([r.u32(), r.string()]).toEqual([128 * 1024, '9P2000.L']);
    expect(server.negotiatedMsize).toBe(128 * 1024);
    r = await c.ok(P9.Tversion, (w) => w.u32(8192).string('9P2000.u'));
    expect([r.u32(), r.string()]).toEqual([8192, 'unknown']);
    expect(await c.errno(P9.Tversion, (w) => w.u32(100).string('9P2000.L'))).toBe(Errno.EINVAL);
  });

  it('attaches, walks, reads a file and its attributes', async () => {
    const { c } = await setup();
    const w = await c.walk(0, 1, 'dir', 'inner.txt');
    expect(w.r.u16()).toBe(2);
    expect(w.r.u8()).toBe(QidType.DIR);
    await c.ok(P9.Tlopen, (x) => x.u32(1).u32(O_RDONLY));
    expect(text(await c.read(1, 0, 100))).toBe('inner');
    expect(text(await c.read(1, 2, 2))).toBe('ne');
    expect(await c.read(1, 99, 10)).toEqual(new Uint8Array(0));
    const a = await c.ok(P9.Tgetattr, (x) => x.u32(1).u64(0x7ff));
    expect(a.u64()).toBe(0x7ffn);
    a.data(13);
    expect(a.u32() & 0o170000).toBe(0o100000);
    a.u32();
    a.u32();
    a.u64();
    a.u64();
    expect(a.u64()).toBe(5n); // size
    await c.ok(P9.Tclunk, (x) => x.u32(1));
    expect(await c.errno(P9.Tread, (x) => x.u32(1).u64(0).u32(10))).toBe(Errno.EBADF);
  });

  it('walks: ".." never goes above the root, a missing first name fails, a later one gives a partial Rwalk', async () => {
    const { c, server } = await setup();
    const up = await c.walk(0, 1, '..', '..', 'dir', '..', 'hello.txt');
    expect(up.r.u16()).toBe(5);
    await c.ok(P9.Tlopen, (x) => x.u32(1).u32(O_RDONLY));
    expect(text(await c.read(1, 0, 100))).toBe('hello, world\n');
    expect((await c.walk(0, 2, 'nope')).errno).toBe(Errno.ENOENT);
    const partial = await c.walk(0, 2, 'dir', 'nope');
    expect(partial.r.u16()).toBe(1);
    expect(server.fidCount).toBe(2); // newfid not made by a partial walk
    for (const bad of ['a/b', '', 'x\0y']) expect((await c.walk(0, 3, bad)).errno).toBe(Errno.ENOENT);
    expect((await c.walk(0, 3, 'hello.txt', 'x')).r.u16()).toBe(1); // not a directory: stops
    expect((await c.walk(0, 3, ...Array(17).fill('dir'))).errno).toBe(Errno.EINVAL);
    expect((await c.walk(0, 1, 'dir')).errno).toBe(Errno.EBADF); // newfid in use
    expect((await c.walk(42, 5)).errno).toBe(Errno.EBADF);
  });

  it('walks onto a symlink without following it, and reads its target', async () => {
    const { c } = await setup();
    const w = await c.walk(0, 1, 'dir', 'link');
    w.r.u16();
    w.r.data(13);
    expect(w.r.u8()).toBe(QidType.SYMLINK);
    expect((await c.ok(P9.Treadlink, (x) => x.u32(1))).string()).toBe('../hello.txt');
    expect(await c.errno(P9.Tlopen, (x) => x.u32(1).u32(O_RDONLY))).toBe(Errno.ELOOP);
    expect((await c.walk(0, 2, 'dir', 'link', 'x')).r.u16()).toBe(2); // not walked through
  });

  it('creates, writes, reads back, truncates and removes', async () => {
    const { c, fs } = await setup();
    await c.walk(0, 1, 'dir');
    const cr = await c.ok(P9.Tlcreate, (w) => w.u32(1).string('new.bin').u32(O_RDWR | O_CREAT | O_EXCL).u32(0o640).u32(0));
    expect(cr.u8()).toBe(QidType.FILE);
    const data = Uint8Array.from({ length: 3000 }, (_, i) => i & 0xff);
    const wr = await c.ok(P9.Twrite, (w) => w.u32(1).u64(10).u32(data.length).data(data));
    expect(wr.u32()).toBe(3000);
    expect(fs.get('dir/new.bin')!.data.subarray(10)).toEqual(data);
    expect(fs.get('dir/new.bin')!.mode & 0o777).toBe(0o640);
    expect(await c.read(1, 10, 3000)).toEqual(data);
    await c.ok(P9.Tsetattr, (w) => w.u32(1).u32(0x8 | 0x1).u32(0o600).u32(0).u32(0).u64(5).u64(0).u64(0).u64(0).u64(0));
    expect(fs.get('dir/new.bin')!.data.length).toBe(5);
    expect(fs.get('dir/new.bin')!.mode & 0o777).toBe(0o600);
    await c.walk(0, 2, 'dir');
    expect(await c.errno(P9.Tlcreate, (w) => w.u32(2).string('new.bin').u32(O_RDWR | O_CREAT | O_EXCL).u32(0o640).u32(0))).toBe(Errno.EEXIST);
    expect(await c.errno(P9.Tlcreate, (w) => w.u32(2).string('a/b').u32(O_RDWR | O_CREAT).u32(0o640).u32(0))).toBe(Errno.EINVAL);
    await c.ok(P9.Tunlinkat, (w) => w.u32(2).string('new.bin').u32(0));
    expect(fs.get('dir/new.bin')).toBeUndefined();
  });

  it('mkdir, symlink, link, rename, renameat (fids follow), unlinkat of a directory, readdir', async () => {
    const { c, fs } = await setup();
    await c.ok(P9.Tmkdir, (w) => w.u32(0).string('sub').u32(0o755).u32(0));
    await c.ok(P9.Tsymlink, (w) => w.u32(0).string('sl').string('/etc/hostname').u32(0));
    expect(fs.get('sl')).toMatchObject({ kind: 'symlink', target: '/etc/hostname' });
    await c.walk(0, 1, 'hello.txt');
    await c.walk(0, 2, 'sub');
    await c.ok(P9.Tlink, (w) => w.u32(2).u32(1).string('hard'));
    expect(text(fs.get('sub/hard')!.data)).toBe('hello, world\n');
    await c.ok(P9.Trename, (w) => w.u32(1).u32(2).string('moved.txt'));
    expect(fs.get('hello.txt')).toBeUndefined();
    await c.ok(P9.Tlopen, (w) => w.u32(1).u32(O_RDONLY)); // fid 1 moved with the file
    expect(text(await c.read(1, 0, 5))).toBe('hello');
    await c.walk(0, 3, 'dir');
    await c.walk(0, 4, 'dir', 'inner.txt');
    await c.ok(P9.Trenameat, (w) => w.u32(0).string('dir').u32(2).string('dir2'));
    await c.ok(P9.Tlopen, (w) => w.u32(4).u32(O_RDONLY));
    expect(text(await c.read(4, 0, 5))).toBe('inner');
    expect(await c.errno(P9.Tunlinkat, (w) => w.u32(2).string('dir2').u32(AT_REMOVEDIR))).toBe(Errno.ENOTEMPTY);
    await c.ok(P9.Tmkdir, (w) => w.u32(0).string('empty').u32(0o700).u32(0));
    await c.ok(P9.Tunlinkat, (w) => w.u32(0).string('empty').u32(AT_REMOVEDIR));
    await c.walk(0, 5);
    await c.ok(P9.Tlopen, (w) => w.u32(5).u32(O_RDONLY));
    expect((await c.readdir(5)).sort()).toEqual(['.', '..', 'sl', 'sub']);
    await c.walk(0, 6, 'sub', 'dir2');
    await c.ok(P9.Tlopen, (w) => w.u32(6).u32(O_RDONLY));
    expect((await c.readdir(6, 40)).sort()).toEqual(['.', '..', 'inner.txt', 'link']); // one entry per call
  });

  it('lists a directory of many entries (replies past the writer\'s first buffer)', async () => {
    const { c, fs } = await setup();
    const names = Array.from({ length: 60 }, (_, i) => `file-with-a-long-name-${i}`);
    for (const n of names) fs.put(`many/${n}`, n);
    await c.open(1, ['many'], O_RDONLY);
    expect((await c.readdir(1)).sort()).toEqual(['.', '..', ...names].sort());
  });

  it('answers statfs, fsync, locks, flush; refuses xattrs, mknod, auth and unknown types', async () => {
    const { c } = await setup();
    const s = await c.ok(P9.Tstatfs, (w) => w.u32(0));
    expect(s.u32()).toBe(0x01021997);
    await c.open(1, ['hello.txt'], O_RDWR);
    await c.ok(P9.Tfsync, (w) => w.u32(1).u32(0));
    expect((await c.ok(P9.Tlock, (w) => w.u32(1).u8(1).u32(0).u64(0).u64(0).u32(7).string('guest'))).u8()).toBe(0);
    const g = await c.ok(P9.Tgetlock, (w) => w.u32(1).u8(1).u64(3).u64(4).u32(7).string('guest'));
    expect([g.u8(), g.u64(), g.u64(), g.u32(), g.string()]).toEqual([2, 3n, 4n, 7, 'guest']);
    await c.ok(P9.Tflush, (w) => w.u16(5));
    expect(await c.errno(P9.Txattrwalk, (w) => w.u32(0).u32(9).string(''))).toBe(Errno.EOPNOTSUPP);
    expect(await c.errno(P9.Tmknod, (w) => w.u32(0).string('dev').u32(0o20644).u32(1).u32(3).u32(0))).toBe(Errno.EPERM);
    expect(await c.errno(P9.Tauth, (w) => w.u32(1).string('').string('').u32(0))).toBe(Errno.EOPNOTSUPP);
    expect(await c.errno(200)).toBe(Errno.EOPNOTSUPP);
    expect(await c.errno(P9.Tread, (w) => w.u32(1))).toBe(Errno.EPROTO); // truncated body
  });

  it('refuses every change of a read-only share with EROFS', async () => {
    const { c, fs } = await setup(true);
    await c.walk(0, 1, 'hello.txt');
    expect(await c.errno(P9.Tlopen, (w) => w.u32(1).u32(O_WRONLY))).toBe(Errno.EROFS);
    expect(await c.errno(P9.Tmkdir, (w) => w.u32(0).string('d').u32(0o755).u32(0))).toBe(Errno.EROFS);
    expect(await c.errno(P9.Tlcreate, (w) => w.u32(0).string('f').u32(O_RDWR | O_CREAT).u32(0o644).u32(0))).toBe(Errno.EROFS);
    expect(await c.errno(P9.Tunlinkat, (w) => w.u32(0).string('hello.txt').u32(0))).toBe(Errno.EROFS);
    expect(await c.errno(P9.Trenameat, (w) => w.u32(0).string('hello.txt').u32(0).string('x'))).toBe(Errno.EROFS);
    expect(await c.errno(P9.Tsetattr, (w) => w.u32(1).u32(0x8).u32(0).u32(0).u32(0).u64(0).u64(0).u64(0).u64(0).u64(0))).toBe(Errno.EROFS);
    await c.ok(P9.Tlopen, (w) => w.u32(1).u32(O_RDONLY));
    expect(text(await c.read(1, 0, 5))).toBe('hello');
    expect(text(fs.get('hello.txt')!.data)).toBe('hello, world\n');
  });

  it('bounds reads by msize and by the room for the reply', async () => {
    const fs = new MemorySharedFileSystem();
    fs.put('big', new Uint8Array(100_000).fill(7));
    const c = new Client(new P9Server(fs), 5000);
    await c.start(8192);
    await c.open(1, ['big'], O_RDONLY);
    expect((await c.read(1, 0, 100_000)).length).toBe(5000 - 11);
  });

  it('caps the files one session keeps open', async () => {
    const { c } = await setup();
    for (let i = 0; i < P9_MAX_OPEN_FILES; i++) await c.open(10 + i, ['hello.txt'], O_RDONLY);
    await c.walk(0, 5, 'hello.txt');
    expect(await c.errno(P9.Tlopen, (w) => w.u32(5).u32(O_RDONLY))).toBe(Errno.EMFILE);
    await c.ok(P9.Tclunk, (w) => w.u32(10));
    await c.ok(P9.Tlopen, (w) => w.u32(5).u32(O_RDONLY));
  });

  it('answers any garbage with an R-message or Rlerror and never throws (fast-check)', async () => {
    const types = Object.values(P9);
    const arb = fc.oneof(
      fc.uint8Array({ maxLength: 80 }),
      // A well-formed header of a real type with a random body: reaches the handlers.
      fc.tuple(fc.constantFrom(...types), fc.integer({ min: 0, max: 0xffff }), fc.uint8Array({ maxLength: 80 })).map(([type, tag, body]) => new P9Writer(type, tag).data(body).finish()),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(arb, { minLength: 1, maxLength: 12 }), async (messages) => {
        const { server } = await setup();
        for (const m of messages) {
          const reply = await server.handle(m, 4096);
          const r = new P9Reader(reply);
          expect(r.u32()).toBe(reply.length);
          expect(reply.length).toBeLessThanOrEqual(4096);
          const type = r.u8();
          if (m.length >= 7 && new DataView(m.buffer, m.byteOffset).getUint32(0, true) === m.length) {
            expect([P9.Rlerror, m[4]! + 1]).toContain(type);
          } else {
            expect(type).toBe(P9.Rlerror);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
