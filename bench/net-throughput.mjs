#!/usr/bin/env node
// VM-to-VM TCP throughput over QEMU's stream-socket network: a QEMU `virt` VM (the default
// Debian guest) serves zeros with `nc -l` on a `-netdev stream,server=on` UNIX socket; a client
// VM joins the segment and pulls BYTES with nc, timed inside the guest (/proc/uptime). The
// client is typervisor (`run --net socket:PATH`) or, for reference, a second QEMU
// (`-netdev stream,server=off`), alternately, ROUNDS times each; prints each round, the medians
// and the ratio (ours ÷ QEMU's, time). Both clients receive from the same kind of QEMU sender,
// so the figure includes QEMU's TCG on the sending side. Not a test: it never fails.
//   node bench/net-throughput.mjs [--rounds N] [--mib M]
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
};
const rounds = Number(arg('--rounds', '1')) || 1;
const bytes = (Number(arg('--mib', '32')) || 32) * 2 ** 20;
const APPEND = 'console=ttyS0 quiet loglevel=0';

const { ensureDefaultGuest, commandInitramfs } = await import(path.join(root, 'dist/host/guest-image/index.js'));
const guest = await ensureDefaultGuest({ progress: (m) => process.stderr.write(`fetching the default guest: ${m}\n`) });
const work = mkdtempSync(path.join(tmpdir(), 'net-throughput-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

const SERVER = 'ip addr add 10.0.0.2/24 dev eth0 && ip link set eth0 up; while true; do nc -l -p 5000 < /dev/zero; done';
const CLIENT = [
  'ip addr add 10.0.0.1/24 dev eth0 && ip link set eth0 up',
  'i=0; until ping -c 1 -W 2 10.0.0.2 >/dev/null 2>&1; do i=$((i+1)); [ $i -ge 150 ] && break; done',
  't0=$(cut -d" " -f1 /proc/uptime)',
  `n=$(nc 10.0.0.2 5000 | head -c ${bytes} | wc -c)`,
  't1=$(cut -d" " -f1 /proc/uptime)',
  'echo "pulled=$n t0=$t0 t1=$t1"',
].join('; ');
const initrd = (name, script) => {
  const p = path.join(work, name);
  writeFileSync(p, Buffer.concat([readFileSync(guest.initramfsPath), commandInitramfs(['sh', '-c', script])]));
  return p;
};
const serverInitrd = initrd('server.cpio', SERVER);
const clientInitrd = initrd('client.cpio', CLIENT);
const qemuArgs = (initrdPath, netdev, mac) => ['-machine', 'virt', '-m', '512M', '-nographic', '-monitor', 'none', '-serial', 'stdio', '-bios', 'default',
  '-kernel', guest.kernelPath, '-initrd', initrdPath, '-append', APPEND, '-netdev', netdev, '-device', `virtio-net-device,netdev=n0,mac=${mac}`];

/** One round: starts the QEMU server, runs the client to its end, returns the pull's guest seconds. */
async function round(client, i) {
  const sock = path.join(work, `seg-${client}-${i}.sock`);
  const server = spawn('qemu-system-riscv64', qemuArgs(serverInitrd, `stream,id=n0,server=on,addr.type=unix,addr.path=${sock}`, '52:54:00:12:34:99'), { stdio: 'ignore' });
  try {
    while (!existsSync(sock)) await new Promise((r) => setTimeout(r, 100));
    const [cmd, args] = client === 'typervisor'
      ? [process.execPath, [path.join(root, 'bin/typervisor.js'), 'run', '--net', `socket:${sock}`, '--', 'sh', '-c', CLIENT]]
      : ['qemu-system-riscv64', qemuArgs(clientInitrd, `stream,id=n0,server=off,addr.type=unix,addr.path=${sock}`, '52:54:00:12:34:56')];
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b) => (out += b.toString('latin1')));
    child.stderr.on('data', (b) => (out += b.toString('latin1')));
    const timer = setTimeout(() => child.kill('SIGKILL'), 900_000);
    await new Promise((r) => child.on('close', r));
    clearTimeout(timer);
    const m = /pulled=(\d+) t0=([\d.]+) t1=([\d.]+)/.exec(out);
    if (!m || Number(m[1]) !== bytes) throw new Error(`${client}: the pull failed:\n${out.slice(-2000)}`);
    return Number(m[3]) - Number(m[2]);
  } finally {
    server.kill('SIGKILL');
  }
}

console.log(`${bytes / 2 ** 20} MiB QEMU guest → client guest over a -netdev stream UNIX socket; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
const ours = [];
const qemu = [];
const mibs = (s) => (bytes / 2 ** 20 / s).toFixed(2);
for (let i = 0; i < rounds; i++) {
  ours.push(await round('typervisor', i));
  qemu.push(await round('qemu', i));
  console.log(`round ${i + 1}/${rounds}: typervisor ${ours[i].toFixed(2)} s (${mibs(ours[i])} MiB/s), qemu ${qemu[i].toFixed(2)} s (${mibs(qemu[i])} MiB/s)`);
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`typervisor client: ${median(ours).toFixed(2)} s = ${mibs(median(ours))} MiB/s (median of ${rounds})`);
console.log(`qemu client:       ${median(qemu).toFixed(2)} s = ${mibs(median(qemu))} MiB/s (median of ${rounds})`);
console.log(`ratio typervisor/qemu: ${(median(ours) / median(qemu)).toFixed(2)} (time; lower is better)`);
console.log(`load average at the end: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
