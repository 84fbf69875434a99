// The default guest's initramfs, built from a fake unpacked package tree (small fake files, no
// download), read back with GNU cpio; and the command archive's quoting, run through the host's
// sh. Needs the Debian packages cpio and xz-utils.
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandInitramfs, commandScript } from '../../src/host/guest-image/command-initramfs.js';
import { DEFAULT_GUEST_MODULES } from '../../src/host/guest-image/default-guest.js';
import { readGuestParts, type GuestParts } from '../../src/host/guest-image/guest-parts.js';
import { buildInitramfs, initScript } from '../../src/host/guest-image/initramfs.js';
import { EXPECTED_ORDER, FAKE_BUSYBOX, FAKE_MODULES, elfOf, writeFakeBusyboxTree, writeFakeKernelTree } from './fake-packages.js';
import { cpio } from './host-tools.js';

const VERSION = '6.12.99+deb13-riscv64';
const MODULES = FAKE_MODULES;
const work = mkdtempSync(path.join(tmpdir(), 'initramfs-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const busybox = FAKE_BUSYBOX;

let parts: GuestParts;
let archive: Uint8Array;
let tree: string;

beforeAll(async () => {
  const root = path.join(work, 'root');
  writeFakeKernelTree(root, VERSION);
  writeFakeBusyboxTree(root);
  parts = await readGuestParts(root, DEFAULT_GUEST_MODULES);
  archive = buildInitramfs(parts);
  tree = path.join(work, 'tree');
  mkdirSync(tree);
  // Device nodes need root; elsewhere GNU cpio warns and goes on.
  try {
    cpio(['-i', '-d', '-m', '--quiet', '--no-absolute-filenames'], archive, tree);
  } catch (e) {
    if (process.getuid?.() === 0) throw e;
  }
});

describe('readGuestParts on a fake package tree', () => {
  it('finds the kernel, busybox, and the modules in load order, skipping absent ones', () => {
    expect(parts.kernelVersion).toBe(VERSION);
    expect(parts.kernelImagePath).toBe(path.join(work, 'root/boot', `vmlinux-${VERSION}`));
    expect(parts.busybox).toEqual(busybox);
    expect(parts.modules.map((m) => m.path)).toEqual(EXPECTED_ORDER);
    expect(parts.missingModules).toEqual(['virtio_blk', 'virtio_balloon']);
    expect(parts.mtime).toBe(1_700_000_000);
  });
});

describe('the base initramfs', () => {
  it('lists the layout: directories first, /dev/console, busybox and its links, /etc, modules, /init', () => {
    const names = cpio(['-t', '--quiet'], archive, work).trimEnd().split('\n');
    for (const n of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'dev', 'etc', 'proc', 'sys', 'run', 'tmp', 'root', 'mnt', 'dev/console', 'bin/busybox', 'bin/sh', 'sbin/init', 'etc/inittab', 'etc/profile', 'etc/passwd', 'init', `lib/modules/${VERSION}/modules.dep`]) {
      expect(names, n).toContain(n);
    }
    // Every parent is listed before its children (the kernel does not create parents).
    for (const [i, n] of names.entries()) if (n.includes('/')) expect(names.indexOf(n.slice(0, n.lastIndexOf('/'))), n).toBeLessThan(i);
    expect(names.filter((n) => n.endsWith('.ko'))).toEqual(EXPECTED_ORDER.map((p) => `lib/modules/${VERSION}/${p}`));
    expect(names.some((n) => n.includes('unrelated'))).toBe(false);
    // Nothing else at the top level (a file there once dragged in a bogus parent directory).
    expect(names.filter((n) => !n.includes('/')).sort()).toEqual(['bin', 'dev', 'etc', 'init', 'lib', 'mnt', 'proc', 'root', 'run', 'sbin', 'sys', 'tmp', 'usr']);
  });

  it('holds /dev/console as character device 5,1 and root-owned files', () => {
    const long = cpio(['-t', '-v', '--quiet'], archive, work);
    expect(long).toMatch(/^crw------- +1 root +root +5, +1 .* dev\/console$/m);
    expect(long).toMatch(/^-rwxr-xr-x +1 root +root .* init$/m);
    expect(long).toMatch(/^drwx------ .* root$/m);
    expect(long).toMatch(/^drwxrwxrwt .* tmp$/m);
  });

  it('extracts to busybox, its links, an executable /init and the decompressed modules', () => {
    expect(new Uint8Array(readFileSync(path.join(tree, 'bin/busybox')))).toEqual(busybox);
    expect(lstatSync(path.join(tree, 'bin/busybox')).mode & 0o777).toBe(0o755);
    for (const applet of ['sh', 'mount', 'insmod', 'setsid', 'cttyhack', 'devmem', 'stty', 'poweroff']) expect(readlinkSync(path.join(tree, 'bin', applet))).toBe('busybox');
    expect(readlinkSync(path.join(tree, 'sbin/init'))).toBe('../bin/busybox');
    expect(lstatSync(path.join(tree, 'init')).mode & 0o777).toBe(0o755);
    expect(lstatSync(path.join(tree, 'etc/typervisor/console-shell')).mode & 0o777).toBe(0o755);
    for (const rel of Object.keys(MODULES).filter((r) => !r.includes('unrelated'))) {
      const file = path.join(tree, 'lib/modules', VERSION, rel.replace(/\.xz$/, ''));
      expect(new Uint8Array(readFileSync(file)), rel).toEqual(elfOf(rel));
    }
    expect(lstatSync(path.join(tree, 'bin/busybox')).mtimeMs).toBe(1_700_000_000_000);
  });

  it('has an /init that loads the modules in dependency order and branches on /typervisor/command', () => {
    const init = readFileSync(path.join(tree, 'init'), 'utf8');
    expect(init).toBe(initScript(VERSION, EXPECTED_ORDER));
    expect(init.startsWith('#!/bin/sh\n')).toBe(true);
    // virtio_mmio first, then the rest in dependency order, each only if a device wants it.
    const first = [...init.matchAll(/^load '([^']+)'$/gm)].map((m) => m[1]);
    const rest = [...(/^for p in (.*); do$/m.exec(init)?.[1] ?? '').matchAll(/'([^']+)'/g)].map((m) => m[1]);
    expect([...first, ...rest]).toEqual(EXPECTED_ORDER);
    expect(first).toEqual([EXPECTED_ORDER.find((p) => p.endsWith('/virtio_mmio.ko'))]);
    expect(init).toContain(`insmod "/lib/modules/${VERSION}/$1"`);
    for (const step of ['mount -t proc proc /proc', 'mount -t sysfs sysfs /sys', 'mount -t devtmpfs devtmpfs /dev', 'hostname typervisor', 'if [ -f /typervisor/command ]; then', 'stty -onlcr </dev/console', 'setsid cttyhack sh /typervisor/command', 'devmem 0x100000 32 "$code"', 'exec poweroff -f', 'exec init']) {
      expect(init, step).toContain(step);
    }
    expect(init.indexOf('mount -t proc')).toBeLessThan(init.indexOf('--install'));
    // The exit status arithmetic, as the guest's sh will do it.
    const code = (status: number) => execFileSync('sh', ['-c', `status=${status}; if [ "$status" -eq 0 ]; then code=0x5555; else code=$(( (status << 16) | 0x3333 )); fi; echo $code`], { encoding: 'utf8' }).trim();
    expect(code(0)).toBe('0x5555');
    expect(Number(code(3))).toBe(0x3_3333);
    expect(Number(code(255))).toBe(0xff_3333);
    execFileSync('sh', ['-n', path.join(tree, 'init')]);
    execFileSync('sh', ['-n', path.join(tree, 'etc/typervisor/console-shell')]);
  });

  it('configures busybox init for one console shell, and a root prompt', () => {
    expect(readFileSync(path.join(tree, 'etc/inittab'), 'utf8')).toMatch(/^::once:\/etc\/typervisor\/console-shell$/m);
    expect(readFileSync(path.join(tree, 'etc/typervisor/console-shell'), 'utf8')).toContain('setsid cttyhack sh -l');
    expect(readFileSync(path.join(tree, 'etc/profile'), 'utf8')).toContain(`PS1='\\u@\\h:\\w\\$ '`);
    expect(readFileSync(path.join(tree, 'etc/passwd'), 'utf8')).toBe('root:x:0:0:root:/root:/bin/sh\n');
  });

  it('writes modules.dep in depmod form for busybox modprobe', () => {
    const dep = readFileSync(path.join(tree, 'lib/modules', VERSION, 'modules.dep'), 'utf8');
    expect(dep).toContain('kernel/fs/ext4/ext4.ko: kernel/lib/crc16.ko kernel/fs/mbcache.ko kernel/fs/jbd2/jbd2.ko\n');
    expect(dep).toContain('kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko\n');
    expect(dep).toContain('kernel/drivers/virtio/virtio_mmio.ko:\n');
  });

  it('is reproducible: the same parts give the same bytes', () => {
    expect(buildInitramfs(parts)).toEqual(archive);
  });
});

describe('the command archive', () => {
  const nasty = [
    "it's",
    '"double" quotes',
    '$HOME $(echo pwned) `id` ${PATH}',
    'back\\slash \\\\ \\n',
    'new\nline\n',
    '  leading and trailing  ',
    '',
    '*',
    '; rm -rf / #',
    "'",
    "''",
    "\\'",
    '-n',
    '\ttab',
    'ünïcödé 日本',
    '!$?&|<>(){}[]~',
  ];

  it('runs argv exactly as given through sh (the program path quoted too)', () => {
    const dir = mkdtempSync(path.join(work, "prog dir's $x-"));
    const prog = path.join(dir, "print args 'nul'");
    writeFileSync(prog, '#!/bin/sh\nfor a in "$@"; do printf \'%s\\0\' "$a"; done\n', { mode: 0o755 });
    const script = path.join(work, 'command');
    writeFileSync(script, commandScript([prog, ...nasty]));
    const out = execFileSync('sh', [script], { encoding: 'utf8' });
    expect(out.split('\0').slice(0, -1)).toEqual(nasty);
  });

  it('holds the script at typervisor/command, executable, readable by GNU cpio', () => {
    const bytes = commandInitramfs(['echo', 'hi there']);
    expect(cpio(['-t', '-v', '--quiet'], bytes, work)).toMatch(/^-rwxr-xr-x .* typervisor\/command$/m);
    const dir = mkdtempSync(path.join(work, 'cmd-'));
    cpio(['-i', '-d', '--quiet'], bytes, dir);
    expect(readFileSync(path.join(dir, 'typervisor/command'), 'utf8')).toBe("#!/bin/sh\nexec 'echo' 'hi there'\n");
    expect(execFileSync('sh', [path.join(dir, 'typervisor/command')], { encoding: 'utf8' })).toBe('hi there\n');
  });
});
