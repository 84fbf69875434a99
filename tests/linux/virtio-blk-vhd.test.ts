// A VHD disk in the default Debian guest, end to end: an ext4 filesystem made on the host is
// converted by qemu-img to a dynamic VHD (vpc) and attached with `--disk …,format=vhd`; the guest
// mounts it, writes files (allocating VHD blocks) and unmounts; qemu-img then reads the image
// and the filesystem is consistent with the files in it. Needs the build, the cached default
// guest, e2fsprogs and qemu-utils.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDefaultGuest } from '../../src/host/guest-image/default-guest.js';
import { BOOT_TIMEOUT_MS, runTool, runTypervisor, stripTerminalQueries, type RunResult } from './guest-harness.js';

const dir = mkdtempSync(path.join(tmpdir(), 'typervisor-vhd-'));
const raw = path.join(dir, 'fs.raw');
const vhd = path.join(dir, 'fs.vhd');

beforeAll(async () => {
  await ensureDefaultGuest();
  runTool('truncate', ['-s', '48M', raw]);
  runTool('mkfs.ext4', ['-q', '-F', '-L', 'tvvhd', raw]);
  runTool('qemu-img', ['convert', '-f', 'raw', '-O', 'vpc', raw, vhd]);
}, 600_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const shown = (r: RunResult) => `status ${r.status} after ${(r.ms / 1000).toFixed(1)} s\n--- stdout ---\n${stripTerminalQueries(r.stdout).slice(-3000)}\n--- stderr ---\n${r.stderr.slice(-3000)}`;

describe('a VHD disk in the default guest', () => {
  it('mounts an ext4 dynamic VHD, writes files, and qemu-img reads a consistent filesystem back', async () => {
    const r = await runTypervisor(['run', '--disk', `${vhd},format=vhd`, '--', 'sh', '-c', [
      'set -e',
      'mkdir -p /mnt/d',
      'mount -t ext4 /dev/vda /mnt/d',
      'echo "hello from a VHD" > /mnt/d/hello.txt',
      'dd if=/dev/urandom of=/mnt/d/random.bin bs=4k count=2048 2>/dev/null', // 8 MiB: new blocks
      'md5sum /mnt/d/random.bin | cut -d" " -f1 > /mnt/d/random.md5',
      'sync',
      'umount /mnt/d',
      'echo written',
    ].join('; ')]);
    expect(r.status, shown(r)).toBe(0);
    expect(stripTerminalQueries(r.stdout), shown(r)).toContain('written\n');
    const back = path.join(dir, 'back.raw');
    runTool('qemu-img', ['convert', '-f', 'vpc', '-O', 'raw', vhd, back]);
    expect(runTool('debugfs', ['-R', 'cat /hello.txt', back])).toBe('hello from a VHD\n');
    runTool('e2fsck', ['-fn', back]);
    const md5 = runTool('debugfs', ['-R', 'cat /random.md5', back]).trim();
    runTool('debugfs', ['-R', `dump /random.bin ${path.join(dir, 'random.bin')}`, back]);
    expect(runTool('md5sum', [path.join(dir, 'random.bin')]).split(' ')[0]).toBe(md5);
  }, BOOT_TIMEOUT_MS + 60_000);
});
