// The host folder adapter of virtio-9p, against a real temporary folder: what works, and that a
// hostile guest's names (.., '/', absolute names, symlinks made on the host or by the guest,
// pointing outside) never read or change a host file outside the share. The 9P server is put
// in front of it too, so walks go through the same code as the guest's.
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TypervisorError } from '../core/errors.js';
import { P9Reader, P9Writer } from '../devices/virtio/9p/p9-message.js';
import { Errno, P9, P9_NOFID } from '../devices/virtio/9p/p9-protocol.js';
import { P9Server } from '../devices/virtio/9p/p9-server.js';
import { SharedFsError } from '../devices/virtio/9p/shared-file-system.js';
import { openSharedDirectory, type SharedDirectory } from './shared-directory.js';

let top: string;
let share: string;
let outside: string;
let secret: string;
let fs: SharedDirectory;
const RW = { read: true, write: true, truncate: false, append: false };

/** Everything under `dir` with contents and mtimes: compared before and after an attack. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = path.join(dir, name);
    const s = lstatSync(p);
    out.push(`${name} ${s.mode.toString(8)} ${s.nlink} ${s.mtimeMs} ${s.isFile() ? readFileSync(p, 'utf8') : ''}`);
    if (s.isDirectory()) out.push(...snapshot(p).map((l) => `${name}/${l}`));
  }
  return out;
}

async function errnoOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
  } catch (e) {
    if (e instanceof SharedFsError) return e.errno;
    throw e;
  }
  throw new Error('the call succeeded');
}

beforeEach(async () => {
  top = mkdtempSync(path.join(tmpdir(), 'typervisor-9p-'));
  share = path.join(top, 'share');
  outside = path.join(top, 'outside');
  mkdirSync(share);
  mkdirSync(outside);
  secret = path.join(outside, 'secret.txt');
  writeFileSync(secret, 'HOST SECRET\n');
  writeFileSync(path.join(share, 'file.txt'), 'in the share\n');
  mkdirSync(path.join(share, 'sub'));
  symlinkSync('../outside', path.join(share, 'escape')); // relative, to a folder outside
  symlinkSync(outside, path.join(share, 'abs')); // absolute, to a folder outside
  symlinkSync(secret, path.join(share, 'secretlink')); // to a file outside
  symlinkSync('../../outside', path.join(share, 'sub', 'deep'));
  fs = await openSharedDirectory(share);
});

afterEach(() => rmSync(top, { recursive: true, force: true }));

describe('SharedDirectory (virtio-9p host folder)', () => {
  it('reads, writes, creates, lists, renames and removes inside the share', async () => {
    const st = await fs.stat(['file.txt']);
    expect(st.ino).toBe(statSync(path.join(share, 'file.txt'), { bigint: true }).ino); // qid.path is the host inode
    expect(st.size).toBe(13n);
    const f = await fs.open(['file.txt'], { read: true, write: false, truncate: false, append: false });
    expect(new TextDecoder().decode(await f.read(3, 100))).toBe('the share\n');
    await f.close();
    const { file } = await fs.create(['sub'], 'new.txt', RW, 0o640, true);
    expect(await file.write(0, new TextEncoder().encode('guest data'))).toBe(10);
    await file.close();
    expect(readFileSync(path.join(share, 'sub/new.txt'), 'utf8')).toBe('guest data');
    expect(statSync(path.join(share, 'sub/new.txt')).mode & 0o777).toBe(0o640); // not narrowed by the host umask
    await fs.mkdir(['sub'], 'd', 0o700);
    await fs.rename(['sub'], 'new.txt', ['sub', 'd'], 'moved.txt');
    expect((await fs.readdir(['sub', 'd'])).map((e) => e.name)).toEqual(['moved.txt']);
    await fs.setattr(['sub', 'd', 'moved.txt'], { size: 5, mode: 0o600, mtime: { sec: 1_000_000_000n, nsec: 0 } });
    expect(readFileSync(path.join(share, 'sub/d/moved.txt'), 'utf8')).toBe('guest');
    expect(statSync(path.join(share, 'sub/d/moved.txt')).mtimeMs).toBe(1e12);
    await fs.link(['file.txt'], ['sub'], 'hard');
    expect(statSync(path.join(share, 'file.txt')).nlink).toBe(2);
    await fs.unlink(['sub', 'd'], 'moved.txt', false);
    await fs.unlink(['sub'], 'd', true);
    await fs.symlink([], 'mine', '/etc/hostname');
    expect(await fs.readlink(['mine'])).toBe('/etc/hostname');
    expect((await fs.statfs()).bsize).toBeGreaterThan(0);
  });

  it('refuses names that are not plain names: .., ., /, absolute paths, NUL, empty', async () => {
    for (const bad of [['..'], ['.'], ['sub', '..', '..'], ['/etc/passwd'], ['..', 'outside', 'secret.txt'], ['a\0b'], [''], ['sub/../../outside']]) {
      expect(await errnoOf(fs.stat(bad))).toBe(Errno.EINVAL);
      expect(await errnoOf(fs.open(bad, RW))).toBe(Errno.EINVAL);
    }
    expect(await errnoOf(fs.create([], '../outside/new', RW, 0o644, false))).toBe(Errno.EINVAL);
    expect(await errnoOf(fs.create([], '/tmp/x', RW, 0o644, false))).toBe(Errno.EINVAL);
    expect(await errnoOf(fs.rename([], 'file.txt', [], '../stolen.txt'))).toBe(Errno.EINVAL);
    expect(await errnoOf(fs.rename([], 'file.txt', ['..'], 'stolen.txt'))).toBe(Errno.EINVAL);
    expect(await errnoOf(fs.symlink([], '../x', 'y'))).toBe(Errno.EINVAL);
    expect(readdirSync(top).sort()).toEqual(['outside', 'share']);
  });

  it('never follows a host symlink to outside: not walked through, opened, created through, listed, renamed into', async () => {
    const before = snapshot(outside);
    for (const link of ['escape', 'abs']) {
      expect((await fs.stat([link])).mode & 0o170000).toBe(0o120000); // the link itself (lstat)
      expect(await errnoOf(fs.stat([link, 'secret.txt']))).toBe(Errno.ELOOP);
      expect(await errnoOf(fs.open([link, 'secret.txt'], RW))).toBe(Errno.ELOOP);
      expect(await errnoOf(fs.create([link], 'planted.txt', RW, 0o644, true))).toBe(Errno.ELOOP);
      expect(await errnoOf(fs.mkdir([link], 'd', 0o755))).toBe(Errno.ELOOP);
      expect(await errnoOf(fs.symlink([link], 's', 'x'))).toBe(Errno.ELOOP);
      expect(await errnoOf(fs.readdir([link]))).toBe(Errno.ENOTDIR);
      expect(await errnoOf(fs.unlink([link], 'secret.txt', false))).toBe(Errno.ELOOP);
      expect(await errnoOf(fs.rename([], 'file.txt', [link], 'stolen.txt'))).toBe(Errno.ELOOP);
      expect(await errnoOf(fs.rename([link], 'secret.txt', [], 'taken.txt'))).toBe(Errno.ELOOP);
      expect(await errnoOf(fs.link([link, 'secret.txt'], [], 'hard'))).toBe(Errno.ELOOP);
      expect(await errnoOf(fs.setattr([link, 'secret.txt'], { size: 0 }))).toBe(Errno.ELOOP);
    }
    expect(await errnoOf(fs.stat(['sub', 'deep', 'secret.txt']))).toBe(Errno.ELOOP);
    // A symlink to a file outside: only its target string is ever given out.
    expect(await fs.readlink(['secretlink'])).toBe(secret);
    expect(await errnoOf(fs.open(['secretlink'], RW))).toBe(Errno.ELOOP);
    expect(await errnoOf(fs.create([], 'secretlink', { ...RW, truncate: true }, 0o644, false))).toBe(Errno.ELOOP);
    expect(await errnoOf(fs.create([], 'secretlink', RW, 0o644, true))).toBe(Errno.EEXIST);
    expect(await errnoOf(fs.setattr(['secretlink'], { size: 0 }))).toBe(Errno.EINVAL);
    expect(await errnoOf(fs.setattr(['secretlink'], { mode: 0o777 }))).toBe(Errno.EOPNOTSUPP);
    await fs.setattr(['secretlink'], { mtime: { sec: 5n, nsec: 0 } }); // lutimes: the link, not the file
    await fs.link(['secretlink'], [], 'hardlink'); // a hard link to the symlink itself
    expect(lstatSync(path.join(share, 'hardlink')).isSymbolicLink()).toBe(true);
    await fs.unlink([], 'secretlink', false); // removes the link, not the file
    expect(snapshot(outside)).toEqual(before);
  });

  it('stores the guest\'s symlinks as symlinks and never resolves them on the host', async () => {
    const before = snapshot(outside);
    await fs.symlink([], 'root', '/');
    await fs.symlink([], 'up', '../outside');
    expect(lstatSync(path.join(share, 'root')).isSymbolicLink()).toBe(true);
    expect(await errnoOf(fs.stat(['root', 'etc']))).toBe(Errno.ELOOP);
    expect(await errnoOf(fs.open(['up'], RW))).toBe(Errno.ELOOP);
    expect(await errnoOf(fs.create(['up'], 'x', RW, 0o644, false))).toBe(Errno.ELOOP);
    expect(snapshot(outside)).toEqual(before);
  });

  it('refuses every change of a readonly share with EROFS and changes nothing', async () => {
    const ro = await openSharedDirectory(share, { readOnly: true });
    const before = snapshot(share);
    expect(await errnoOf(ro.open(['file.txt'], RW))).toBe(Errno.EROFS);
    expect(await errnoOf(ro.create([], 'n', RW, 0o644, false))).toBe(Errno.EROFS);
    expect(await errnoOf(ro.mkdir([], 'n', 0o755))).toBe(Errno.EROFS);
    expect(await errnoOf(ro.unlink([], 'file.txt', false))).toBe(Errno.EROFS);
    expect(await errnoOf(ro.rename([], 'file.txt', [], 'x'))).toBe(Errno.EROFS);
    expect(await errnoOf(ro.setattr(['file.txt'], { size: 0 }))).toBe(Errno.EROFS);
    expect(await errnoOf(ro.symlink([], 's', 'x'))).toBe(Errno.EROFS);
    expect(await errnoOf(ro.link(['file.txt'], [], 'h'))).toBe(Errno.EROFS);
    const f = await ro.open(['file.txt'], { read: true, write: false, truncate: false, append: false });
    expect(new TextDecoder().decode(await f.read(0, 2))).toBe('in');
    await f.close();
    expect(snapshot(share)).toEqual(before);
  });

  it('behind the 9P server: .. walks stop at the root and symlinks are not walked through', async () => {
    const before = snapshot(outside);
    const server = new P9Server(fs);
    let tag = 0;
    const call = async (type: number, body: (w: P9Writer) => P9Writer) => {
      const r = new P9Reader(await server.handle(body(new P9Writer(type, ++tag)).finish(), 65536));
      r.u32();
      const t = r.u8();
      r.u16();
      return { t, r };
    };
    await call(P9.Tversion, (w) => w.u32(65536).string('9P2000.L'));
    await call(P9.Tattach, (w) => w.u32(0).u32(P9_NOFID).string('').string('').u32(0));
    const walk = (newfid: number, ...names: string[]) =>
      call(P9.Twalk, (w) => {
        w.u32(0).u32(newfid).u16(names.length);
        for (const n of names) w.string(n);
        return w;
      });
    // '..' from the root stays at the root: 'outside' is then looked for in the share.
    const up = await walk(1, '..', '..', '..', 'outside');
    expect(up.t).toBe(P9.Twalk + 1); // Rwalk
    expect(up.r.u16()).toBe(3); // the three '..' (at the root), not 'outside'
    const through = await walk(2, 'escape', 'secret.txt');
    expect(through.r.u16()).toBe(1);
    await walk(3, 'secretlink');
    const open = await call(P9.Tlopen, (w) => w.u32(3).u32(0));
    expect([open.t, open.r.u32()]).toEqual([P9.Rlerror, Errno.ELOOP]);
    await walk(4, 'escape');
    const create = await call(P9.Tlcreate, (w) => w.u32(4).string('planted').u32(0o1 | 0o100).u32(0o644).u32(0));
    expect([create.t, create.r.u32()]).toEqual([P9.Rlerror, Errno.ENOTDIR]); // not a directory fid
    const rename = await call(P9.Trenameat, (w) => w.u32(0).string('file.txt').u32(4).string('stolen'));
    expect(rename.t).toBe(P9.Rlerror);
    expect(snapshot(outside)).toEqual(before);
  });

  it('random 9P sessions with hostile names never read or change anything outside the share (fast-check)', async () => {
    const before = snapshot(outside);
    const topBefore = readdirSync(top).sort();
    const name = fc.constantFrom('..', 'escape', 'abs', 'secretlink', 'sub', 'deep', 'secret.txt', 'new', 'a/b', '/etc');
    const path = fc.array(name, { maxLength: 3 });
    // Each step walks from the root to a fid, then does one thing there, as the v9fs client does.
    const step = fc.record({
      path,
      then: fc.constantFrom('open-rw', 'open-trunc', 'create', 'mkdir', 'symlink', 'rename-in', 'rename-out', 'unlink', 'rmdir', 'setattr', 'link', 'readdir', 'readlink'),
      name,
    });
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 20 }), async (steps) => {
        const server = new P9Server(fs);
        let tag = 0;
        const send = async (type: number, body: (w: P9Writer) => P9Writer) => {
          const reply = await server.handle(body(new P9Writer(type, ++tag & 0xffff)).finish(), 65536);
          expect(new TextDecoder().decode(reply)).not.toContain('HOST SECRET');
        };
        await send(P9.Tversion, (w) => w.u32(65536).string('9P2000.L'));
        await send(P9.Tattach, (w) => w.u32(0).u32(P9_NOFID).string('').string('').u32(0));
        await send(P9.Twalk, (w) => w.u32(0).u32(2).u16(1).string('sub')); // fid 2: a directory to move things to
        for (const { path: names, then, name: n } of steps) {
          await send(P9.Twalk, (w) => {
            w.u32(0).u32(1).u16(names.length);
            for (const x of names) w.string(x);
            return w;
          });
          switch (then) {
            case 'open-rw':
            case 'open-trunc':
              await send(P9.Tlopen, (w) => w.u32(1).u32(then === 'open-rw' ? 2 : 0o1002));
              await send(P9.Tread, (w) => w.u32(1).u64(0).u32(4096));
              await send(P9.Twrite, (w) => w.u32(1).u64(0).u32(5).data(new TextEncoder().encode('PWNED')));
              break;
            case 'create':
              await send(P9.Tlcreate, (w) => w.u32(1).string(n).u32(0o1102).u32(0o644).u32(0));
              await send(P9.Twrite, (w) => w.u32(1).u64(0).u32(5).data(new TextEncoder().encode('PWNED')));
              break;
            case 'mkdir':
              await send(P9.Tmkdir, (w) => w.u32(1).string(n).u32(0o755).u32(0));
              break;
            case 'symlink':
              await send(P9.Tsymlink, (w) => w.u32(1).string(n).string('../outside').u32(0));
              break;
            case 'rename-in':
              await send(P9.Trenameat, (w) => w.u32(1).string(n).u32(2).string('moved'));
              break;
            case 'rename-out':
              await send(P9.Trenameat, (w) => w.u32(2).string('moved').u32(1).string(n));
              break;
            case 'unlink':
            case 'rmdir':
              await send(P9.Tunlinkat, (w) => w.u32(1).string(n).u32(then === 'rmdir' ? 0x200 : 0));
              break;
            case 'setattr':
              await send(P9.Tsetattr, (w) => w.u32(1).u32(0x1 | 0x8 | 0x20 | 0x100).u32(0o777).u32(0).u32(0).u64(0).u64(0).u64(0).u64(1).u64(0));
              break;
            case 'link':
              await send(P9.Tlink, (w) => w.u32(2).u32(1).string(n));
              break;
            case 'readdir':
              await send(P9.Tlopen, (w) => w.u32(1).u32(0));
              await send(P9.Treaddir, (w) => w.u32(1).u64(0).u32(8192));
              break;
            case 'readlink':
              await send(P9.Treadlink, (w) => w.u32(1));
              break;
          }
          await send(P9.Tclunk, (w) => w.u32(1));
        }
        await server.close();
        expect(snapshot(outside)).toEqual(before);
        expect(readdirSync(top).sort()).toEqual(topBefore);
      }),
      { numRuns: 200 },
    );
  });

  it('refuses a missing share folder or a file with a TypervisorError naming it', async () => {
    await expect(openSharedDirectory(path.join(top, 'nope'))).rejects.toThrow(TypervisorError);
    await expect(openSharedDirectory(path.join(top, 'nope'))).rejects.toThrow(/nope: no such directory/);
    await expect(openSharedDirectory(secret)).rejects.toThrow(/secret\.txt: not a directory/);
  });
});
