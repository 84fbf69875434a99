// VMDK and VDI disks in the default Debian guest: an ext4 filesystem made on the host with
// mkfs.ext4 -d (so its files come from the host, not from us), converted by qemu-img to a
// stream-optimized VMDK and a dynamic VDI, attached read-only with `--disk`; the guest mounts
// both and checks the file's md5. Attaching them writable is refused before the boot. Needs the
// build, the cached default guest, e2fsprogs and qemu-utils.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDefaultGuest } from '../../src/host/guest-image/default-guest.js';
import { BOOT_TIMEOUT_MS, runTool, runTypervisor, stripTerminalQueries, type RunResult } from './guest-harness.js';

const dir = mkdtempSync(path.join(tmpdir(), 'typervisor-vmdk-vdi-'));
const raw = path.join(dir, 'fs.raw');
const vmdk = path.join(dir, 'fs.vmdk');
const vdi = path.join(dir, 'fs.vdi');
const payload = Uint8Array.from({ length: 3 * 1024 * 1024 + 123 }, (_, i) => (i * 2654435761) >>> 23);
const md5 = createHash('md5').update(payload).digest('hex');

beforeAll(async () => {
  await ensureDefaultGuest();
  const content = path.join(dir, 'content');
  mkdirSync(content);
  writeFileSync(path.join(content, 'payload.bin'), payload);
  writeFileSync(path.join(content, 'hello.txt'), 'hello from the host\n');
  runTool('truncate', ['-s', '24M', raw]);
  runTool('mkfs.ext4', ['-q', '-F', '-d', content, raw]);
  runTool('qemu-img', ['convert', '-f', 'raw', '-O', 'vmdk', '-o', 'subformat=streamOptimized', raw, vmdk]);
  runTool('qemu-img', ['convert', '-f', 'raw', '-O', 'vdi', raw, vdi]);
}, 600_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const shown = (r: RunResult) => `status ${r.status} after ${(r.ms / 1000).toFixed(1)} s\n--- stdout ---\n${stripTerminalQueries(r.stdout).slice(-3000)}\n--- stderr ---\n${r.stderr.slice(-3000)}`;

describe('vmdk and vdi disks in the default guest', () => {
  it('mounts a read-only streamOptimized vmdk and a vdi and reads the host\'s files', async () => {
    const r = await runTypervisor(['run', '--disk', `${vmdk},readonly`, '--disk', `${vdi},format=vdi,readonly`, '--', 'sh', '-c', [
      'mkdir -p /mnt/a /mnt/b',
      'mount -o ro -t ext4 /dev/vda /mnt/a && mount -o ro -t ext4 /dev/vdb /mnt/b',
      'echo "ro=$(cat /sys/block/vda/ro)$(cat /sys/block/vdb/ro)"',
      'cat /mnt/a/hello.txt',
      'echo "a=$(md5sum /mnt/a/payload.bin | cut -d" " -f1)"',
      'echo "b=$(md5sum /mnt/b/payload.bin | cut -d" " -f1)"',
      'umount /mnt/a /mnt/b',
    ].join('; ')]);
    expect(r.status, shown(r)).toBe(0);
    const out = stripTerminalQueries(r.stdout);
    expect(out, shown(r)).toContain('ro=11\n');
    expect(out, shown(r)).toContain('hello from the host\n');
    expect(out, shown(r)).toContain(`a=${md5}\n`);
    expect(out, shown(r)).toContain(`b=${md5}\n`);
  }, BOOT_TIMEOUT_MS + 30_000);

  it('refuses to attach them writable, with the hint to add ,readonly or convert', async () => {
    for (const [file, fmt] of [[vmdk, 'vmdk'], [vdi, 'vdi']]) {
      const r = await runTypervisor(['run', '--disk', file, '--', 'true']);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`--disk ${file}: ${fmt} images are read-only in typervisor\nhint: attach it with ,readonly or convert it: typervisor img convert -O qcow2 `);
    }
  }, 60_000);
});
