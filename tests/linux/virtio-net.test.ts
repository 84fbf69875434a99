// virtio-net end to end, against QEMU: a QEMU `virt` VM (the same Debian kernel and busybox
// initramfs) listens with `-netdev stream,server=on,addr.type=unix` and a typervisor VM joins
// the segment with `--net socket:PATH`; the typervisor guest pings the QEMU guest and pulls
// 8 MiB from it with nc (the SYN and every ACK carry a TCP checksum our device completed), then
// pushes 8 MiB to it (TSO packets our device cut into segments; the QEMU guest's md5 of them
// must be ours).
// QEMU's virtio-net and stream netdev are the reference: a frame our device or framing got
// wrong never gets an answer. A second NIC (socket:listen:, no peer) shows several NICs and
// default MACs; two typervisor VMs (one listening) show our transmit path against our receive.
// Needs the build, the cached default guest, and qemu-system-riscv64.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandInitramfs, ensureDefaultGuest } from '../../src/host/guest-image/index.js';
import { BOOT_TIMEOUT_MS, runTypervisor, stripTerminalQueries, type RunResult } from './guest-harness.js';

const QEMU_MAC = '52:54:00:12:34:99';
const OUR_MAC = '52:54:00:ab:cd:ef';
// Enough for TCP to open its window many times over; bench/net-throughput.mjs measures bigger pulls.
const BYTES = 8 << 20;

let dir: string;
let qemu: ChildProcess | undefined;
let qemuOut = '';

beforeAll(async () => {
  const guest = await ensureDefaultGuest();
  dir = mkdtempSync(path.join(tmpdir(), 'virtio-net-'));
  const sock = path.join(dir, 'segment.sock');
  const initrd = path.join(dir, 'initrd');
  // The QEMU guest: address 10.0.0.2, then serves zeros on TCP 5000 (again after each client)
  // and takes BYTES on TCP 5001, printing their md5 and its receive packet count on its console.
  // (nc's stdin is a pipe nobody writes: a background job's stdin is /dev/null, whose EOF would
  // make busybox nc hang up at once.)
  const sink = `while true; do sleep 100000 | nc -l -p 5001 | head -c ${BYTES} | md5sum | sed "s/^/pushed-md5=/"; echo "qemu-rx-packets=$(cat /sys/class/net/eth0/statistics/rx_packets)"; done`;
  const script = `ip addr add 10.0.0.2/24 dev eth0 && ip link set eth0 up && echo qemu-net-up; (${sink}) & while true; do nc -l -p 5000 < /dev/zero; done`;
  writeFileSync(initrd, Buffer.concat([readFileSync(guest.initramfsPath), commandInitramfs(['sh', '-c', script])]));
  qemu = spawn('qemu-system-riscv64', [
    '-machine', 'virt', '-m', '512M', '-nographic', '-monitor', 'none', '-serial', 'stdio', '-bios', 'default',
    '-kernel', guest.kernelPath, '-initrd', initrd, '-append', 'console=ttyS0 quiet loglevel=0',
    '-netdev', `stream,id=n0,server=on,addr.type=unix,addr.path=${sock}`,
    '-device', `virtio-net-device,netdev=n0,mac=${QEMU_MAC}`,
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  qemu.stdout!.on('data', (b: Buffer) => (qemuOut += b.toString('latin1')));
  qemu.stderr!.on('data', (b: Buffer) => (qemuOut += b.toString('latin1')));
  const deadline = Date.now() + 30_000;
  while (!existsSync(sock)) {
    if (Date.now() > deadline || qemu.exitCode !== null) throw new Error(`QEMU did not create ${sock}:\n${qemuOut}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}, 600_000);

afterAll(() => {
  qemu?.kill('SIGKILL');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const shown = (r: RunResult) =>
  `status ${r.status} after ${(r.ms / 1000).toFixed(1)} s\n--- stdout ---\n${stripTerminalQueries(r.stdout).slice(-3000)}\n--- stderr ---\n${r.stderr.slice(-3000)}\n--- qemu ---\n${qemuOut.slice(-2000)}`;

describe('virtio-net in the default guest, on a segment with a QEMU VM', () => {
  it('gets its MAC, pings the QEMU guest, pulls 8 MiB from it and pushes 8 MiB to it in TSO packets', async () => {
    const sock = path.join(dir, 'segment.sock');
    const spare = path.join(dir, 'spare.sock');
    const r = await runTypervisor([
      'run', '--net', `socket:${sock},mac=${OUR_MAC}`, '--net', `socket:listen:${spare}`, '--', 'sh', '-c',
      [
        'echo "mac0=$(cat /sys/class/net/eth0/address) mac1=$(cat /sys/class/net/eth1/address)"',
        'echo "features=$(cat /sys/bus/virtio/devices/virtio0/features)"',
        'ip addr add 10.0.0.1/24 dev eth0 && ip link set eth0 up',
        // The QEMU guest may still be booting: wait for its first answer (up to ~4 minutes).
        'i=0; until ping -c 1 -W 2 10.0.0.2 >/dev/null 2>&1; do i=$((i+1)); [ $i -ge 120 ] && break; done',
        'ping -c 3 10.0.0.2',
        't0=$(cut -d" " -f1 /proc/uptime)',
        // busybox timeout: a broken transfer ends in a short count instead of a hang.
        `n=$(timeout 120 nc 10.0.0.2 5000 | head -c ${BYTES} | wc -c)`,
        't1=$(cut -d" " -f1 /proc/uptime)',
        'echo "pulled=$n t0=$t0 t1=$t1"',
        'cat /sys/class/net/eth0/statistics/rx_errors /sys/class/net/eth0/statistics/rx_length_errors | tr "\\n" " " | sed "s/^/errors=/"; echo',
        // The other way: BYTES of random data (so a segment at a wrong offset changes the md5),
        // then zeros until the QEMU guest has BYTES and hangs up. The driver's tx_packets counts
        // the packets it handed the device, TCP's OutSegs the segments on the wire: fewer
        // packets than segments means the device cut TSO packets.
        `dd if=/dev/urandom of=/tmp/push bs=64k count=${BYTES >> 16} 2>/dev/null; md5sum /tmp/push | sed "s/^/sent-md5=/"`,
        'segs() { awk \'/^Tcp: [0-9]/ {print $12}\' /proc/net/snmp; }',
        'tx0=$(cat /sys/class/net/eth0/statistics/tx_packets); s0=$(segs)',
        'cat /tmp/push /dev/zero | timeout 120 nc 10.0.0.2 5001 2>/dev/null',
        'echo "pushed tx_packets=$(( $(cat /sys/class/net/eth0/statistics/tx_packets) - tx0 )) segments=$(( $(segs) - s0 ))"',
      ].join('; '),
    ]);
    const out = stripTerminalQueries(r.stdout);
    expect(r.status, shown(r)).toBe(0);
    expect(out, shown(r)).toContain(`mac0=${OUR_MAC} mac1=52:54:00:12:34:57\n`);
    // CSUM (0), GUEST_CSUM (1), MAC (5), HOST_TSO4/6 (11, 12), HOST_ECN (13), MRG_RXBUF (15),
    // STATUS (16) and VERSION_1 (32) negotiated: the guest leaves TCP checksums and segmentation
    // to the device, whose output QEMU's guest then checks.
    const features = /features=([01]+)/.exec(out)?.[1] ?? '';
    expect([0, 1, 5, 11, 12, 13, 15, 16, 32].map((bit) => features[bit]).join(''), shown(r)).toBe('111111111');
    expect(out, shown(r)).toMatch(/3 packets transmitted, 3 packets received, 0% packet loss/);
    const m = /pulled=(\d+) t0=([\d.]+) t1=([\d.]+)/.exec(out);
    expect(m, shown(r)).not.toBeNull();
    expect(Number(m![1])).toBe(BYTES);
    const seconds = Number(m![3]) - Number(m![2]);
    console.log(`virtio-net: ${BYTES >> 20} MiB QEMU guest → typervisor guest over socket: in ${seconds.toFixed(2)} s guest time = ${(BYTES / 2 ** 20 / seconds).toFixed(1)} MiB/s`);
    expect(out, shown(r)).toContain('errors=0 0 \n');
    // What went to QEMU arrived whole and in order: the QEMU guest's md5 of what it got is ours of what we sent.
    const sent = /sent-md5=([0-9a-f]{32})/.exec(out)?.[1];
    expect(sent, shown(r)).toBeDefined();
    const deadline = Date.now() + 60_000;
    while (!/qemu-rx-packets=\d+/.test(qemuOut) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 200));
    expect(qemuOut, shown(r)).toContain(`pushed-md5=${sent}`);
    const m2 = /pushed tx_packets=(\d+) segments=(\d+)/.exec(out);
    expect(m2, shown(r)).not.toBeNull();
    console.log(`virtio-net: 8 MiB typervisor guest → QEMU guest: ${m2![1]} packets from the guest's driver, ${m2![2]} TCP segments on the wire`);
    expect(Number(m2![1]), shown(r)).toBeLessThan(Number(m2![2]));
  }, 2 * BOOT_TIMEOUT_MS + 120_000);
});

describe('virtio-net between two typervisor VMs', () => {
  it('one listens (socket:listen:), the other connects; 4 MiB go from the listener to the other', async () => {
    const sock = path.join(dir, 'pair.sock');
    const bytes = 4 << 20;
    // The listener serves zeros once; its nc ends when the client hangs up, and with it the VM.
    const server = runTypervisor([
      'run', '--net', `socket:listen:${sock},mac=52:54:00:00:00:0a`, '--', 'sh', '-c',
      'ip addr add 10.0.1.2/24 dev eth0 && ip link set eth0 up && nc -l -p 6000 < /dev/zero; echo server-done',
    ]);
    const deadline = Date.now() + 60_000;
    while (!existsSync(sock)) {
      if (Date.now() > deadline) throw new Error(`the listening typervisor did not create ${sock}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const client = await runTypervisor([
      'run', '--net', `socket:${sock},mac=52:54:00:00:00:0b`, '--', 'sh', '-c',
      [
        'ip addr add 10.0.1.1/24 dev eth0 && ip link set eth0 up',
        'i=0; until ping -c 1 -W 2 10.0.1.2 >/dev/null 2>&1; do i=$((i+1)); [ $i -ge 120 ] && break; done',
        // The server's nc may not listen yet: retry until the whole pull arrives.
        `n=0; j=0; while [ "$n" != ${bytes} ] && [ $j -lt 30 ]; do n=$(timeout 120 nc 10.0.1.2 6000 | head -c ${bytes} | wc -c); j=$((j+1)); [ "$n" = ${bytes} ] || sleep 2; done`,
        'echo "pulled=$n"',
        'echo "neighbour=$(ip neigh show 10.0.1.2 | cut -d" " -f5)"',
      ].join('; '),
    ]);
    const served = await server;
    const out = stripTerminalQueries(client.stdout);
    expect(client.status, shown(client)).toBe(0);
    expect(out, shown(client)).toContain(`pulled=${bytes}\n`);
    expect(out, shown(client)).toContain('neighbour=52:54:00:00:00:0a\n');
    expect(stripTerminalQueries(served.stdout), shown(served)).toContain('server-done');
    expect(existsSync(sock)).toBe(false); // the listener removed its socket on exit
  }, 2 * BOOT_TIMEOUT_MS + 120_000);
});
