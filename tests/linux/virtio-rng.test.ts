// virtio-rng in the default Debian guest, end to end: `--device virtio-rng` puts a virtio-mmio
// transport (version 2) at slot 7 (0x1000_8000, PLIC source 8, as QEMU places the first
// device); the guest's /init loads virtio_mmio and virtio-rng (device id 4), the kernel picks it
// as the current hw_random source, and /dev/hwrng delivers bytes from the host's crypto RNG;
// unbinding the driver resets the device and binding it again negotiates afresh.
// Needs the build and the cached default guest (fetched on first use).
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureDefaultGuest } from '../../src/host/guest-image/default-guest.js';
import { BOOT_TIMEOUT_MS, runTypervisor, stripTerminalQueries, type RunResult } from './guest-harness.js';

beforeAll(async () => {
  await ensureDefaultGuest();
}, 600_000);

const shown = (r: RunResult) => `status ${r.status} after ${(r.ms / 1000).toFixed(1)} s\n--- stdout ---\n${stripTerminalQueries(r.stdout).slice(-3000)}\n--- stderr ---\n${r.stderr.slice(-3000)}`;

describe('virtio-rng in the default guest', () => {
  it('is found by the kernel and feeds /dev/hwrng', async () => {
    const r = await runTypervisor([
      'run', '--device', 'virtio-rng', '--', 'sh', '-c',
      [
        'echo "current=$(cat /sys/devices/virtual/misc/hw_random/rng_current)"',
        'echo "bytes=$(head -c 64 /dev/hwrng | wc -c)"',
        'echo "hex=$(head -c 4096 /dev/hwrng | od -An -tx1 | tr -d " \\n" | head -c 64)"',
        'd=/sys/bus/virtio/devices/virtio0',
        'echo "device=$(cat $d/device) vendor=$(cat $d/vendor) features=$(cat $d/features)"',
        'echo "platform=$(ls /sys/bus/platform/devices | grep virtio_mmio)"',
        "awk '/virtio0/ { print \"plic-source=\" $(NF-2) }' /proc/interrupts",
        // Unbinding resets the device (status 0) and binding runs the handshake again.
        'echo virtio0 > /sys/bus/virtio/drivers/virtio_rng/unbind',
        'echo "unbound=$(cat /sys/devices/virtual/misc/hw_random/rng_current) status=$(cat $d/status)"',
        'echo virtio0 > /sys/bus/virtio/drivers/virtio_rng/bind',
        'echo "rebound=$(cat /sys/devices/virtual/misc/hw_random/rng_current) status=$(cat $d/status) bytes=$(head -c 16 /dev/hwrng | wc -c)"',
      ].join('; '),
    ]);
    expect(r.status, shown(r)).toBe(0);
    const out = stripTerminalQueries(r.stdout);
    expect(out, shown(r)).toContain('current=virtio_rng.0\n');
    expect(out, shown(r)).toContain('bytes=64\n');
    const hex = /hex=([0-9a-f]*)\n/.exec(out)?.[1] ?? '';
    expect(hex, shown(r)).toMatch(/^[0-9a-f]{64}$/);
    expect(hex, shown(r)).not.toMatch(/^0+$/);
    // Device id 4, QEMU's vendor id; VERSION_1 (bit 32), INDIRECT_DESC (28) and EVENT_IDX (29)
    // negotiated: the kernel prints one character per feature bit, bit 0 first.
    const m = /device=(\S+) vendor=(\S+) features=([01]+)/.exec(out);
    expect(m, shown(r)).not.toBeNull();
    expect([m![1], m![2]]).toEqual(['0x0004', '0x554d4551']);
    expect([m![3]![28], m![3]![29], m![3]![32]]).toEqual(['1', '1', '1']);
    expect(out, shown(r)).toContain('platform=10008000.virtio_mmio\n');
    expect(out, shown(r)).toContain('plic-source=8\n'); // 1 + slot 7
    expect(out, shown(r)).toContain('unbound=none status=0x00000001\n');
    expect(out, shown(r)).toContain('rebound=virtio_rng.0 status=0x0000000f bytes=16\n');
  }, BOOT_TIMEOUT_MS + 10_000);
});
