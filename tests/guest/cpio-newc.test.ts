// The cpio writer's archives must be what GNU cpio (Debian package cpio) reads: extract one with
// `cpio -idm` and compare the tree on disk with what went in.
import { lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeCpioNewc, type CpioEntry } from '../../src/core/cpio-newc.js';
import { cpio } from './host-tools.js';

const work = mkdtempSync(path.join(tmpdir(), 'cpio-newc-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const isRoot = process.getuid?.() === 0;
const text = (s: string) => new TextEncoder().encode(s);

describe('cpio newc archives read by GNU cpio', () => {
  const big = new Uint8Array(70_001).map((_, i) => (i * 31) & 0xff);
  const entries: CpioEntry[] = [
    { type: 'directory', name: 'bin', mode: 0o755, mtime: 1_000_000 },
    { type: 'file', name: 'bin/tool', data: big, mode: 0o755, mtime: 1_700_000_000 },
    { type: 'symlink', name: 'bin/sh', target: 'tool', mtime: 1_600_000_000 },
    { type: 'directory', name: 'etc', mode: 0o700, uid: 1000, gid: 1001, mtime: 2_000_000 },
    { type: 'file', name: 'etc/a name with spaces', data: text('x'), mode: 0o600, uid: 1000, gid: 1001, mtime: 3 },
    { type: 'file', name: 'etc/empty', data: new Uint8Array(0), mode: 0o644 },
    { type: 'file', name: 'etc/ünïcode', data: text('héllo\n'), mode: 0o640 },
    { type: 'symlink', name: 'abs-link', target: '/proc/self/mounts' },
    { type: 'directory', name: 'dev', mode: 0o755 },
    { type: 'char-device', name: 'dev/console', major: 5, minor: 1, mode: 0o600 },
    { type: 'block-device', name: 'dev/vda', major: 254, minor: 3, mode: 0o660 },
  ];
  const archive = writeCpioNewc(entries);

  it('lists the members in order', () => {
    expect(cpio(['-t', '--quiet'], archive, work).trimEnd().split('\n')).toEqual(entries.map((e) => e.name));
  });

  it('extracts to the tree that went in', () => {
    const dir = mkdtempSync(path.join(work, 'x-'));
    // Directories' mtimes are set after their contents are written only with -m and in order;
    // device nodes need root, so as another user they are left out.
    const input = isRoot ? archive : writeCpioNewc(entries.filter((e) => !e.type.endsWith('-device')));
    cpio(['-i', '-d', '-m', '--quiet', '--no-absolute-filenames'], input, dir);
    for (const e of entries) {
      if (!isRoot && e.type.endsWith('-device')) continue;
      const p = path.join(dir, e.name);
      const st = lstatSync(p);
      const want = { directory: 0o040000, file: 0o100000, symlink: 0o120000, 'char-device': 0o020000, 'block-device': 0o060000 }[e.type];
      expect(st.mode & 0o170000, e.name).toBe(want);
      if (e.type !== 'symlink') expect(st.mode & 0o7777, e.name).toBe(e.mode ?? (e.type === 'file' ? 0o644 : e.type === 'directory' ? 0o755 : 0o600));
      if (e.type === 'file') {
        expect(new Uint8Array(readFileSync(p)), e.name).toEqual(e.data);
        expect(st.mtimeMs / 1000, e.name).toBe(e.mtime ?? 0);
      }
      if (e.type === 'symlink') expect(readlinkSync(p)).toBe(e.target);
      if (e.type === 'char-device' || e.type === 'block-device') {
        expect(Math.floor(st.rdev / 256) & 0xfff, e.name).toBe(e.major);
        expect(st.rdev & 0xff, e.name).toBe(e.minor);
      }
      if (isRoot) {
        expect(st.uid, e.name).toBe(e.uid ?? 0);
        expect(st.gid, e.name).toBe(e.gid ?? 0);
      }
    }
  });

  it('concatenated archives read as one stream up to the first trailer, like -i of each', () => {
    // Linux reads every archive of a concatenated initrd; GNU cpio stops at the first trailer,
    // so check the second one on its own from its offset (which must be 4-aligned).
    const second = writeCpioNewc([{ type: 'file', name: 'later', data: text('second') }]);
    const both = new Uint8Array(archive.length + second.length);
    both.set(archive);
    both.set(second, archive.length);
    expect(archive.length % 4).toBe(0);
    expect(cpio(['-t', '--quiet'], both.subarray(archive.length), work).trim()).toBe('later');
  });
});
