// virtio-blk in the default Debian guest, end to end: an ext4 filesystem made on the host
// (mkfs.ext4 on a raw file) and converted to qcow2 by qemu-img is attached with `--disk`; the
// guest's /init loads virtio_blk and ext4, mounts /dev/vda, writes files, syncs and unmounts;
// qemu-img check finds the image clean; a second boot reads the files back; a `readonly` boot
// sees a read-only disk where writes fail. Needs the build, the cached default guest, e2fsprogs
// and qemu-utils.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDefaultGuest } from '../../src/host/guest-image/default-guest.js';
import { BOOT_TIMEOUT_MS, runTool, runTypervisor, stripTerminalQueries, type RunResult } from './guest-harness.js';

const dir = mkdtempSync(path.join(tmpdir(), 'typervisor-blk-'));
const raw = path.join(dir, 'fs.raw');
const qcow2 = path.join(dir, 'fs.qcow2');

beforeAll(async () => {
  await ensureDefaultGuest();
  runTool('truncate', ['-s', '64M', raw]);
  runTool('mkfs.ext4', ['-q', '-F', '-L', 'tvdisk', raw]);
  runTool('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, qcow2]);
}, 600_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const shown = (r: RunResult) => `status ${r.status} after ${(r.ms / 1000).toFixed(1)} s\n--- stdout ---\n${stripTerminalQueries(r.stdout).slice(-3000)}\n--- stderr ---\n${r.stderr.slice(-3000)}`;
const guest = (disk: string, script: string[]) => runTypervisor(['run', '--disk', disk, '--', 'sh', '-c', script.join('; ')]);

function qemuImgCheck(file: string): string {
  return runTool('qemu-img', ['check', file]);
}

describe('virtio-blk in the default guest', () => {
  it('mounts an ext4 qcow2 disk, writes files, and leaves qemu-img check clean', async () => {
    const r = await guest(`${qcow2},serial=tv-disk-1`, [
      'set -e',
      'echo "serial=$(cat /sys/block/vda/serial)"',
      'echo "sectors=$(cat /sys/block/vda/size) ro=$(cat /sys/block/vda/ro) dev=$(cat /sys/bus/virtio/devices/virtio0/device)"',
      'mkdir -p /mnt/d',
      'mount -t ext4 /dev/vda /mnt/d',
      'echo "hello from the guest" > /mnt/d/hello.txt',
      'mkdir /mnt/d/dir',
      'dd if=/dev/urandom of=/mnt/d/dir/random.bin bs=4k count=1024 2>/dev/null', // 4 MiB
      'md5sum /mnt/d/dir/random.bin | cut -d" " -f1 > /mnt/d/random.md5',
      'echo "md5=$(cat /mnt/d/random.md5)"',
      // DISCARD: a file written and removed, then fstrim hands the free space back.
      'dd if=/dev/urandom of=/mnt/d/scratch bs=1M count=4 2>/dev/null && sync && rm /mnt/d/scratch',
      'fstrim /mnt/d && echo trimmed',
      'sync',
      'umount /mnt/d',
      'echo written',
    ]);
    expect(r.status, shown(r)).toBe(0);
    const out = stripTerminalQueries(r.stdout);
    expect(out, shown(r)).toContain('sectors=131072 ro=0 dev=0x0002\n'); // 64 MiB in 512-byte sectors
    expect(out, shown(r)).toContain('serial=tv-disk-1\n'); // GET_ID
    expect(out, shown(r)).toContain('trimmed\n');
    expect(out, shown(r)).toContain('written\n');
    expect(qemuImgCheck(qcow2)).toContain('No errors were found on the image.');
    // The filesystem is consistent as the host sees it too.
    runTool('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', qcow2, raw]);
    expect(runTool('debugfs', ['-R', 'cat /hello.txt', raw])).toBe('hello from the guest\n');
    runTool('e2fsck', ['-fn', raw]);
  }, BOOT_TIMEOUT_MS + 60_000);

  it('reads the files back on a second boot', async () => {
    const r = await guest(qcow2, [
      'set -e',
      'mkdir -p /mnt/d',
      'mount /dev/vda /mnt/d',
      'cat /mnt/d/hello.txt',
      'test "$(md5sum /mnt/d/dir/random.bin | cut -d" " -f1)" = "$(cat /mnt/d/random.md5)" && echo md5-ok',
      'umount /mnt/d',
    ]);
    expect(r.status, shown(r)).toBe(0);
    const out = stripTerminalQueries(r.stdout);
    expect(out, shown(r)).toContain('hello from the guest\n');
    expect(out, shown(r)).toContain('md5-ok\n');
    expect(qemuImgCheck(qcow2)).toContain('No errors were found on the image.');
  }, BOOT_TIMEOUT_MS + 10_000);

  it('offers a readonly disk read-only: reads work, writes fail, the image is unchanged', async () => {
    const before = runTool('qemu-img', ['info', '--output', 'json', qcow2]);
    const r = await guest(`${qcow2},readonly`, [
      'echo "ro=$(cat /sys/block/vda/ro)"',
      'mkdir -p /mnt/d',
      'mount -o ro /dev/vda /mnt/d && cat /mnt/d/hello.txt',
      'echo x > /mnt/d/new.txt; echo "file-write=$?"',
      'dd if=/dev/zero of=/dev/vda bs=512 count=1 2>/dev/null; echo "dev-write=$?"',
      'umount /mnt/d',
    ]);
    expect(r.status, shown(r)).toBe(0);
    const out = stripTerminalQueries(r.stdout);
    expect(out, shown(r)).toContain('ro=1\n');
    expect(out, shown(r)).toContain('hello from the guest\n');
    expect(out, shown(r)).toContain('file-write=1\n');
    expect(out, shown(r)).toMatch(/dev-write=[1-9]/);
    expect(runTool('qemu-img', ['info', '--output', 'json', qcow2])).toBe(before);
    expect(qemuImgCheck(qcow2)).toContain('No errors were found on the image.');
  }, BOOT_TIMEOUT_MS + 10_000);

  it('refuses a missing disk, an unknown format and an unknown option with a hint', async () => {
    const missing = await runTypervisor(['run', '--disk', path.join(dir, 'nope.qcow2'), '--', 'true']);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/--disk .*nope\.qcow2: .*no such file/);
    expect(missing.stderr).toContain('hint: check the path');
    const format = await runTypervisor(['run', '--disk', `${qcow2},format=qed`, '--', 'true']);
    expect(format.stderr).toMatch(/unknown format 'qed'\nhint: formats: qcow2, raw/);
    const option = await runTypervisor(['run', '--disk', `${qcow2},cache=none`, '--', 'true']);
    expect(option.stderr).toMatch(/unknown option 'cache=none'\nhint: use --disk PATH\[,format=qcow2\|raw\|vpc\|vmdk\|vdi\]/);
  }, 60_000);
});
