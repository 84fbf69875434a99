// Every kind of virtio device on one machine, from the command line, at once: a qcow2 disk, a
// read-only VHD, a shared folder, an entropy source, a balloon and the console on hvc0 — seven
// of the eight virtio-mmio slots. The guest must find each device at the slot and PLIC source
// QEMU would give it (slots from 7 down, source = 1 + slot) and use every one in the same boot.
// Needs the build, the cached default guest, qemu-img and e2fsprogs.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDefaultGuest } from '../../src/host/guest-image/default-guest.js';
import { runTool, runTypervisor, stripTerminalQueries, type RunResult } from './guest-harness.js';

const dir = mkdtempSync(path.join(tmpdir(), 'typervisor-all-devices-'));
const shown = (r: RunResult) => `status ${r.status} after ${(r.ms / 1000).toFixed(1)} s\n--- stdout ---\n${stripTerminalQueries(r.stdout).slice(-4000)}\n--- stderr ---\n${r.stderr.slice(-3000)}`;

beforeAll(async () => {
  await ensureDefaultGuest();
  // An ext4 file system with one file, as qcow2 (written by the guest) and as a dynamic VHD (read-only).
  const content = mkdtempSync(path.join(dir, 'fs-'));
  writeFileSync(path.join(content, 'hello.txt'), 'hello from the host\n');
  runTool('mkfs.ext4', ['-q', '-F', '-d', content, path.join(dir, 'fs.raw'), '16M']);
  runTool('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', path.join(dir, 'fs.raw'), path.join(dir, 'disk.qcow2')]);
  runTool('qemu-img', ['convert', '-f', 'raw', '-O', 'vpc', path.join(dir, 'fs.raw'), path.join(dir, 'disk.vhd')]);
  writeFileSync(path.join(dir, 'shared.txt'), 'shared from the host\n');
}, 600_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('all virtio device kinds at once', () => {
  it('are found at QEMU\'s slots and all work in one boot', async () => {
    const r = await runTypervisor([
      'run', '--console', 'hvc0', '--device', 'virtio-rng', '--balloon', '64M',
      '--disk', path.join(dir, 'disk.qcow2'), '--disk', `${path.join(dir, 'disk.vhd')},format=vpc,readonly`,
      '--share', dir,
      '--',
      'sh', '-c',
      [
        'for d in /sys/bus/virtio/devices/*; do echo "dev $(basename $(readlink -f $d/..)) $(cat $d/device)"; done',
        'echo "console=$(cat /proc/consoles | cut -d" " -f1)"',
        'echo "rng=$(cat /sys/devices/virtual/misc/hw_random/rng_current) bytes=$(head -c 32 /dev/hwrng | wc -c)"',
        'mkdir -p /a /b /s',
        'mount /dev/vda /a && echo "vda=$(cat /a/hello.txt)" && echo "guest wrote" > /a/new.txt && umount /a',
        'mount -o ro /dev/vdb /b && echo "vdb=$(cat /b/hello.txt)"',
        'mount -t 9p -o trans=virtio,version=9p2000.L share0 /s && echo "share=$(cat /s/shared.txt)" && echo from-guest > /s/back.txt && umount /s',
        'echo "memtotal=$(awk \'/MemTotal/ {print $2}\' /proc/meminfo)"',
      ].join('; '),
    ]);
    expect(r.status, shown(r)).toBe(0);
    const out = stripTerminalQueries(r.stdout);
    // Slots from 7 (0x10008000) down in config order: the --device first, the disks and then the
    // share last; the console (hvc0) and the balloon between. Device ids of virtio 1.2 §5.
    const devices = new Map([...out.matchAll(/^dev (\S+) (0x[0-9a-f]+)$/gm)].map((m) => [m[1]!, m[2]!]));
    expect([...devices.keys()].sort(), shown(r)).toEqual(['10003000', '10004000', '10005000', '10006000', '10007000', '10008000'].map((a) => `${a}.virtio_mmio`));
    expect(devices.get('10008000.virtio_mmio'), shown(r)).toBe('0x0004');
    expect([devices.get('10005000.virtio_mmio'), devices.get('10004000.virtio_mmio'), devices.get('10003000.virtio_mmio')], shown(r)).toEqual(['0x0002', '0x0002', '0x0009']);
    expect([devices.get('10007000.virtio_mmio'), devices.get('10006000.virtio_mmio')].sort(), shown(r)).toEqual(['0x0003', '0x0005']);
    expect(out, shown(r)).toContain('console=hvc0\n');
    expect(out, shown(r)).toContain('rng=virtio_rng.0 bytes=32\n');
    expect(out, shown(r)).toContain('vda=hello from the host\n');
    expect(out, shown(r)).toContain('vdb=hello from the host\n');
    expect(out, shown(r)).toContain('share=shared from the host\n');
    const memKb = Number(/memtotal=(\d+)/.exec(out)?.[1]);
    // 512 MiB less the kernel's reservations, less the 64 MiB balloon.
    expect(memKb, shown(r)).toBeLessThan(512 * 1024 - 64 * 1024);
    expect(memKb, shown(r)).toBeGreaterThan(300 * 1024);
    expect(readFileSync(path.join(dir, 'back.txt'), 'utf8')).toBe('from-guest\n');
    runTool('qemu-img', ['check', path.join(dir, 'disk.qcow2')]);
    runTool('qemu-img', ['convert', '-O', 'raw', path.join(dir, 'disk.qcow2'), path.join(dir, 'after.raw')]);
    expect(runTool('debugfs', ['-R', 'cat /new.txt', path.join(dir, 'after.raw')])).toBe('guest wrote\n');
  });
});
