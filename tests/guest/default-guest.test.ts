// ensureDefaultGuest for real: the first run of the suite fetches Debian's kernel and busybox into
// the user's default cache (network, ~115 MB, a few seconds), so the boot tests that follow reuse
// it; later calls must not run anything at all. Failure paths use a fake command runner.
// Needs the Debian packages apt, dpkg, xz-utils and debian-archive-keyring (all in a Debian base system).
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TypervisorError } from '../../src/core/errors.js';
import { DEFAULT_GUEST_MODULES, defaultCacheDir, ensureDefaultGuest, type DefaultGuest } from '../../src/host/guest-image/default-guest.js';
import { readGuestParts } from '../../src/host/guest-image/guest-parts.js';
import { buildInitramfs, INITRAMFS_FORMAT } from '../../src/host/guest-image/initramfs.js';
import { runCommand, type CommandResult, type CommandRunner } from '../../src/host/guest-image/run-command.js';
import { buildDeb, writeFakeBusyboxTree, writeFakeKernelTree } from './fake-packages.js';

const work = mkdtempSync(path.join(tmpdir(), 'default-guest-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A runner that records what would run and answers from `answer` (default: refuses). */
function fakeRunner(answer?: (command: string, args: readonly string[]) => Partial<CommandResult>) {
  const calls: string[] = [];
  const run: CommandRunner = async (command, args) => {
    calls.push([command, ...args].join(' '));
    if (!answer) throw new Error(`unexpected command: ${command}`);
    return { status: 0, signal: null, stdout: new Uint8Array(0), stderr: '', ...answer(command, args) };
  };
  return { run, calls };
}

let guest: DefaultGuest;

describe('ensureDefaultGuest with the default cache', () => {
  it('fetches the guest on first use (or finds it), with progress messages', async () => {
    const messages: string[] = [];
    guest = await ensureDefaultGuest({ progress: (m) => messages.push(m) });
    expect(guest.kernelPath.startsWith(path.join(defaultCacheDir(), 'guests', 'debian-trixie-riscv64'))).toBe(true);
    expect(guest.kernelVersion).toMatch(/^\d+\.\d+\.\d+.*-riscv64$/);
    expect(path.basename(path.dirname(guest.kernelPath))).toBe(guest.kernelVersion);
    // A RISC-V Linux Image (boot-image-header.rst): "MZ" EFI stub, magic "RISCV\0\0\0" and "RSC\x05".
    const kernel = readFileSync(guest.kernelPath);
    expect(kernel.subarray(0, 2).toString('latin1')).toBe('MZ');
    expect(kernel.subarray(0x30, 0x38).toString('latin1')).toBe('RISCV\0\0\0');
    expect(kernel.subarray(0x38, 0x3c).toString('latin1')).toBe('RSC\x05');
    const initramfs = readFileSync(guest.initramfsPath);
    expect(initramfs.subarray(0, 6).toString('latin1')).toBe('070701');
    expect(initramfs.includes(Buffer.from(`lib/modules/${guest.kernelVersion}/kernel/fs/ext4/ext4.ko\0`))).toBe(true);
    if (messages.length > 0) {
      expect(messages[0]).toMatch(/^updating package lists/);
      expect(messages).toContainEqual(expect.stringMatching(/^downloading linux-image-\S+-riscv64 and busybox-static \(\d+ MB\)$/));
      expect(messages.slice(-2)).toEqual(['unpacking', 'building initramfs']);
    }
    expect(readdirSync(path.dirname(path.dirname(guest.kernelPath))).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('uses the cached guest afterwards without running anything', async () => {
    const { run, calls } = fakeRunner();
    const messages: string[] = [];
    const again = await ensureDefaultGuest({ run, progress: (m) => messages.push(m) });
    expect(again).toEqual(guest);
    expect(calls).toEqual([]);
    expect(messages).toEqual([]);
  });

  it('rebuilds an initramfs of an older format from the cached parts, offline and byte for byte', async () => {
    const cacheDir = path.join(work, 'copy');
    const dir = path.join(cacheDir, 'guests', 'debian-trixie-riscv64', guest.kernelVersion);
    cpSync(path.dirname(guest.kernelPath), dir, { recursive: true });
    const manifestFile = path.join(dir, 'manifest.json');
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8'));
    writeFileSync(manifestFile, JSON.stringify({ ...manifest, initramfs: { format: INITRAMFS_FORMAT - 1, size: 1 } }));
    writeFileSync(path.join(dir, 'initramfs.cpio'), 'old');
    const { run, calls } = fakeRunner();
    const rebuilt = await ensureDefaultGuest({ cacheDir, run });
    expect(calls).toEqual([]);
    expect(rebuilt.initramfsPath).toBe(path.join(dir, 'initramfs.cpio'));
    expect(readFileSync(rebuilt.initramfsPath).equals(readFileSync(guest.initramfsPath))).toBe(true);
    expect(JSON.parse(readFileSync(manifestFile, 'utf8')).initramfs.format).toBe(INITRAMFS_FORMAT);
  });
});

describe('ensureDefaultGuest failures', () => {
  const mirror = 'http://mirror.invalid/debian';

  it('reports a failed apt-get update with the command, its error output and what to do; leaves no build folder', async () => {
    const cacheDir = path.join(work, 'offline');
    const family = path.join(cacheDir, 'guests', 'debian-trixie-riscv64');
    mkdirSync(path.join(family, '.build-999999999-stale'), { recursive: true }); // a dead run's leftovers
    mkdirSync(path.join(family, '6.0.0-riscv64'), { recursive: true }); // no manifest: not a guest
    const { run, calls } = fakeRunner((command) => (command === 'apt-get' ? { status: 100, stderr: 'Ign:1 …\nErr:1 http://mirror.invalid/debian trixie InRelease\n  Could not resolve \'mirror.invalid\'\nE: Failed to fetch http://mirror.invalid/debian/dists/trixie/InRelease\n' } : {}));
    const error = await ensureDefaultGuest({ cacheDir, run, mirror }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TypervisorError);
    const e = error as TypervisorError;
    expect(e.message).toMatch(/^updating the package lists of Debian trixie \(riscv64\) at http:\/\/mirror\.invalid\/debian failed: `apt-get .*-o Dir=.* update` exited with status 100:\n/);
    expect(e.message).toContain("Could not resolve 'mirror.invalid'");
    expect(e.hint).toMatch(/reachable/);
    expect(calls.length).toBe(1);
    expect(readdirSync(family).sort()).toEqual(['6.0.0-riscv64']);
  });

  it('reports a package Debian does not have', async () => {
    const { run } = fakeRunner((command) => (command === 'apt-cache' ? { status: 100, stderr: 'E: No packages found\n' } : {}));
    const error = (await ensureDefaultGuest({ cacheDir: path.join(work, 'nopkg'), run, mirror }).catch((e: unknown) => e)) as TypervisorError;
    expect(error).toBeInstanceOf(TypervisorError);
    expect(error.message).toMatch(/^looking up linux-image-riscv64 in Debian trixie .* failed: `apt-cache .* depends .*linux-image-riscv64` exited with status 100:\nE: No packages found$/);
    expect(error.hint).toMatch(/renamed or removed/);
  });

  it('says which tool is missing and which package has it', async () => {
    const { run } = fakeRunner();
    const missing: CommandRunner = async (command, args) => {
      if (command === 'apt-get') throw new TypervisorError("'apt-get' is not installed (or not on PATH)", { hint: 'install it (apt-get install apt)' });
      return run(command, args);
    };
    await expect(ensureDefaultGuest({ cacheDir: path.join(work, 'notool'), run: missing, mirror })).rejects.toThrow(/apt-get' is not installed/);
    expect(existsSync(path.join(work, 'notool', 'guests', 'debian-trixie-riscv64'))).toBe(true);
    expect(readdirSync(path.join(work, 'notool', 'guests', 'debian-trixie-riscv64'))).toEqual([]);
  });
});

describe('ensureDefaultGuest against a fake archive (apt answered by the test, dpkg-deb and xz real)', () => {
  const VERSION = '6.99.0+fake-riscv64';
  const KERNEL_PKG = `linux-image-${VERSION}`;
  const debs = path.join(work, 'debs');
  const mirror = 'http://fake.invalid/debian';

  /** apt-get and apt-cache as the fake archive would answer; everything else runs for real. */
  function archive() {
    const calls: string[] = [];
    const run: CommandRunner = async (command, args, options) => {
      const verb = args.find((a) => ['update', 'depends', 'show', 'download'].includes(a));
      calls.push(verb ? `${command} ${verb}` : command);
      const ok = (stdout = '') => ({ status: 0, signal: null, stdout: new TextEncoder().encode(stdout), stderr: '' });
      if (command === 'apt-get' && verb === 'update') return ok();
      if (command === 'apt-cache' && verb === 'depends') return ok(`linux-image-riscv64\n  Depends: ${KERNEL_PKG}\n`);
      if (command === 'apt-cache' && verb === 'show') return ok(`Package: ${KERNEL_PKG}\nVersion: 6.99.0-1\nSize: 112012420\n\nPackage: busybox-static\nVersion: 1:1.37.0-6\nSize: 941532\n`);
      if (command === 'apt-get' && verb === 'download') {
        for (const f of readdirSync(debs)) copyFileSync(path.join(debs, f), path.join(options!.cwd!, f));
        return ok();
      }
      return runCommand(command, args, options);
    };
    return { run, calls };
  }

  beforeAll(() => {
    const kernelTree = path.join(work, 'fake-kernel');
    const busyboxTree = path.join(work, 'fake-busybox');
    mkdirSync(debs, { recursive: true });
    writeFakeKernelTree(kernelTree, VERSION);
    writeFakeBusyboxTree(busyboxTree);
    buildDeb(kernelTree, KERNEL_PKG, '6.99.0-1', path.join(debs, `${KERNEL_PKG}_6.99.0-1_riscv64.deb`));
    buildDeb(busyboxTree, 'busybox-static', '1:1.37.0-6', path.join(debs, 'busybox-static_1%3a1.37.0-6_riscv64.deb'));
  });

  it('fetches, unpacks, builds and caches the guest, telling progress', async () => {
    const cacheDir = path.join(work, 'fake-1');
    const { run, calls } = archive();
    const messages: string[] = [];
    const g = await ensureDefaultGuest({ cacheDir, run, mirror, progress: (m) => messages.push(m) });
    const dir = path.join(cacheDir, 'guests', 'debian-trixie-riscv64', VERSION);
    expect(g).toEqual({ kernelPath: path.join(dir, 'Image'), initramfsPath: path.join(dir, 'initramfs.cpio'), kernelVersion: VERSION });
    expect(messages).toEqual([
      `updating package lists (Debian trixie (riscv64) at ${mirror})`,
      `downloading ${KERNEL_PKG} and busybox-static (113 MB)`,
      'unpacking',
      'building initramfs',
    ]);
    expect(calls.filter((c) => c.startsWith('apt'))).toEqual(['apt-get update', 'apt-cache depends', 'apt-cache show', 'apt-get download']);
    expect(readFileSync(g.kernelPath, 'utf8')).toBe(`fake kernel ${VERSION}`);
    // What readGuestParts + buildInitramfs make of the same packages unpacked side by side.
    const both = path.join(work, 'fake-both');
    writeFakeKernelTree(both, VERSION);
    writeFakeBusyboxTree(both);
    const expected = buildInitramfs(await readGuestParts(both, DEFAULT_GUEST_MODULES));
    expect(new Uint8Array(readFileSync(g.initramfsPath))).toEqual(expected);
    const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
    expect(manifest).toMatchObject({ kernelVersion: VERSION, kernelPackage: KERNEL_PKG, kernelPackageVersion: '6.99.0-1', busyboxPackageVersion: '1:1.37.0-6', missingModules: ['virtio_blk', 'virtio_balloon'] });
    expect(readdirSync(path.dirname(dir))).toEqual([VERSION]);
    // And now without anything.
    const again = archive();
    expect(await ensureDefaultGuest({ cacheDir, run: again.run })).toEqual(g);
    expect(again.calls).toEqual([]);
  });

  it('two typervisors fetching at once both get the same complete guest', async () => {
    const cacheDir = path.join(work, 'fake-2');
    const [a, b] = await Promise.all([ensureDefaultGuest({ cacheDir, run: archive().run, mirror }), ensureDefaultGuest({ cacheDir, run: archive().run, mirror })]);
    expect(a).toEqual(b);
    expect(readdirSync(path.join(cacheDir, 'guests', 'debian-trixie-riscv64'))).toEqual([VERSION]);
    expect(readFileSync(a.kernelPath, 'utf8')).toBe(`fake kernel ${VERSION}`);
  });

  it('replaces a folder of an older cache layout, and refresh asks Debian but downloads nothing new', async () => {
    const cacheDir = path.join(work, 'fake-3');
    const dir = path.join(cacheDir, 'guests', 'debian-trixie-riscv64', VERSION);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ layout: 0 }));
    writeFileSync(path.join(dir, 'Image'), 'old');
    const g = await ensureDefaultGuest({ cacheDir, run: archive().run, mirror });
    expect(readFileSync(g.kernelPath, 'utf8')).toBe(`fake kernel ${VERSION}`);
    const refresh = archive();
    expect(await ensureDefaultGuest({ cacheDir, run: refresh.run, mirror, refresh: true })).toEqual(g);
    expect(refresh.calls).toEqual(['apt-get update', 'apt-cache depends']);
    expect(readdirSync(path.dirname(dir))).toEqual([VERSION]);
  });
});
