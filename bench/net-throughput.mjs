#!/usr/bin/env node
// VM-to-VM TCP throughput over QEMU's stream-socket network: a QEMU `virt` VM (the default
// Debian guest) serves zeros with `nc -l` on a `-netdev stream,server=on` UNIX socket; a client
// VM joins the segment and pulls BYTES with nc, timed inside the guest (/proc/uptime). The
// client is typervisor (`run --net socket:PATH`) or, for reference, a second QEMU
// (`-netdev stream,server=off`), alternately, ROUNDS times each; prints each round, the medians
// and the ratio (ours ÷ QEMU's, time), then the median ping round trip of each client to the
// server and its ratio (latency). Both clients receive from the same kind of QEMU sender,
// so the figure includes QEMU's TCG on the sending side. Not a test: it never fails.
// --backend pair: both VMs of one kind — a typervisor server (`--net socket:listen:PATH`) and
// client against a QEMU server and client — so the sending side is measured too (where the
// device's TCP segmentation offload works; QEMU's stream netdev offers no offloads).
// --backend user: guest → host TCP through passt instead. The guest (typervisor with
// `--net user`, or QEMU with `-netdev stream` to a passt of its own, both configured by the
// default guest's DHCP) sends BYTES of zeros with nc to a sink on the host's loopback, reached
// through the gateway address; timed inside the guest from the first byte until the host has
// them all and closes. Then bench/programs/tcp-rtt.c (built with gcc-riscv64-linux-gnu) times
// 200 one-byte TCP round trips to an echo server on the host's loopback (latency through passt).
// Both guests boot the same kernel and initramfs.
//   node bench/net-throughput.mjs [--rounds N] [--mib M] [--backend socket|pair|user]
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runToEnd } from './lib/run-to-end.mjs';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
};
const rounds = Number(arg('--rounds', '1')) || 1;
const bytes = (Number(arg('--mib', '32')) || 32) * 2 ** 20;
const APPEND = 'console=ttyS0 quiet loglevel=0';
const backend = arg('--backend', 'socket');
if (!['socket', 'pair', 'user'].includes(backend)) throw new Error(`--backend ${backend}: use socket, pair or user`);

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
  // Latency: ten echo requests to the server, one a second; busybox prints min/avg/max.
  'echo "rtt=$(ping -c 10 10.0.0.2 | awk -F/ \'/round-trip/ {print $4}\')"',
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
  const server = backend === 'pair' && client === 'typervisor'
    ? spawn(process.execPath, [path.join(root, 'bin/typervisor.js'), 'run', '--net', `socket:listen:${sock},mac=52:54:00:12:34:99`, '--', 'sh', '-c', SERVER], { stdio: 'ignore' })
    : spawn('qemu-system-riscv64', qemuArgs(serverInitrd, `stream,id=n0,server=on,addr.type=unix,addr.path=${sock}`, '52:54:00:12:34:99'), { stdio: 'ignore' });
  try {
    while (!existsSync(sock)) await new Promise((r) => setTimeout(r, 100));
    const [cmd, args] = client === 'typervisor'
      ? [process.execPath, [path.join(root, 'bin/typervisor.js'), 'run', '--net', `socket:${sock}`, '--', 'sh', '-c', CLIENT]]
      : ['qemu-system-riscv64', qemuArgs(clientInitrd, `stream,id=n0,server=off,addr.type=unix,addr.path=${sock}`, '52:54:00:12:34:56')];
    const { stdout, stderr } = await runToEnd(cmd, args);
    const out = stdout + stderr;
    const m = /pulled=(\d+) t0=([\d.]+) t1=([\d.]+)/.exec(out);
    if (!m || Number(m[1]) !== bytes) throw new Error(`${client}: the pull failed:\n${out.slice(-2000)}`);
    rtts[client].push(Number((/rtt=([\d.]+)/.exec(out) ?? [])[1]));
    return Number(m[3]) - Number(m[2]);
  } finally {
    server.kill('SIGKILL');
  }
}

// --backend user: a sink and an echo server on the host's loopback, reached by the guest through
// passt; the latency probe built for the guest and added to its initramfs as /tcp-rtt.
let pushInitrd;
if (backend === 'user') {
  const { createServer } = await import('node:net');
  /** Listens on 127.0.0.1 (unref'd: it must not keep the bench alive); returns the port. */
  const serveLoopback = async (onConnection) => {
    const server = createServer((socket) => {
      socket.on('error', () => {});
      onConnection(socket);
    });
    await new Promise((r) => server.listen({ port: 0, host: '127.0.0.1' }, r));
    server.unref();
    return server.address().port;
  };
  const sinkPort = await serveLoopback((socket) => {
    let got = 0;
    socket.on('data', (b) => {
      got += b.length;
      if (got >= bytes) socket.end();
    });
  });
  const echoPort = await serveLoopback((socket) => {
    socket.setNoDelay(true);
    socket.on('data', (b) => socket.write(b));
  });
  const rttProgram = path.join(root, 'bench/build/tcp-rtt');
  mkdirSync(path.dirname(rttProgram), { recursive: true });
  const cc = spawnSync('riscv64-linux-gnu-gcc', ['-static', '-O2', '-o', rttProgram, path.join(root, 'bench/programs/tcp-rtt.c')], { encoding: 'utf8' });
  if (cc.status !== 0) throw new Error(`cannot build bench/programs/tcp-rtt.c (apt-get install gcc-riscv64-linux-gnu): ${cc.stderr ?? cc.error}`);
  const PUSH = [
    'gw=$(ip route | awk \'/^default/{print $3}\')',
    't0=$(cut -d" " -f1 /proc/uptime)',
    // dd in 64 KiB blocks: nc then writes big chunks (head -c hands it a few KiB at a time).
    `dd if=/dev/zero bs=65536 count=${Math.ceil(bytes / 65536)} 2>/dev/null | nc $gw ${sinkPort}`,
    't1=$(cut -d" " -f1 /proc/uptime)',
    `echo "pulled=${bytes} t0=$t0 t1=$t1"`,
    `/tcp-rtt $gw ${echoPort} 200`,
  ].join('; ');
  const { writeCpioNewc } = await import(path.join(root, 'dist/core/cpio-newc.js'));
  const tool = writeCpioNewc([{ type: 'file', name: 'tcp-rtt', data: new Uint8Array(readFileSync(rttProgram)), mode: 0o755, mtime: 0 }]);
  pushInitrd = path.join(work, 'push.cpio');
  writeFileSync(pushInitrd, Buffer.concat([readFileSync(guest.initramfsPath), tool, commandInitramfs(['sh', '-c', PUSH])]));
}

/** One round of --backend user: returns the push's guest seconds. */
async function roundUser(client, i) {
  let passt;
  let cmd;
  let args;
  if (client === 'typervisor') {
    [cmd, args] = [process.execPath, [path.join(root, 'bin/typervisor.js'), 'run', '--net', 'user', '--kernel', guest.kernelPath, '--initrd', pushInitrd, '--append', `${APPEND} typervisor.dhcp=eth0`]];
  } else {
    // passt drops root to nobody, who must be able to create the socket: a world-writable
    // folder directly in /tmp (the work folder is private).
    const dir = mkdtempSync(path.join(tmpdir(), 'net-throughput-passt-'));
    chmodSync(dir, 0o777);
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
    const sock = path.join(dir, 'passt.sock');
    passt = spawn('passt', ['-f', '-q', '-1', '-s', sock], { stdio: 'ignore' });
    const deadline = Date.now() + 10_000;
    while (!existsSync(sock)) {
      if (passt.exitCode !== null || Date.now() > deadline) throw new Error(`passt did not create ${sock}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    [cmd, args] = ['qemu-system-riscv64', qemuArgs(pushInitrd, `stream,id=n0,server=off,addr.type=unix,addr.path=${sock}`, '52:54:00:12:34:56').map((a) => (a === APPEND ? `${APPEND} typervisor.dhcp=eth0` : a))];
  }
  try {
    const { stdout, stderr } = await runToEnd(cmd, args);
    const out = stdout + stderr;
    const m = /pulled=(\d+) t0=([\d.]+) t1=([\d.]+)/.exec(out);
    if (!m) throw new Error(`${client}: the push failed:\n${out.slice(-2000)}`);
    const rtt = /tcp-rtt mean_us=([\d.]+) median_us=([\d.]+)/.exec(out);
    if (!rtt) throw new Error(`${client}: the round trips failed:\n${out.slice(-2000)}`);
    rtts[client].push(Number(rtt[2]) / 1000);
    return Number(m[3]) - Number(m[2]);
  } finally {
    passt?.kill('SIGKILL');
  }
}

console.log(backend === 'user'
  ? `${bytes / 2 ** 20} MiB guest → host loopback through passt (--net user / -netdev stream to passt); load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`
  : `${bytes / 2 ** 20} MiB ${backend === 'pair' ? 'server guest → client guest of the same kind' : 'QEMU guest → client guest'} over a stream UNIX socket; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
const ours = [];
const qemu = [];
/** Round trips (ms) per client kind: ping's average to the server (socket, pair), tcp-rtt's median to the host's echo server (user). */
const rtts = { typervisor: [], qemu: [] };
const mibs = (s) => (bytes / 2 ** 20 / s).toFixed(2);
for (let i = 0; i < rounds; i++) {
  const run = backend === 'user' ? roundUser : round;
  ours.push(await run('typervisor', i));
  qemu.push(await run('qemu', i));
  console.log(`round ${i + 1}/${rounds}: typervisor ${ours[i].toFixed(2)} s (${mibs(ours[i])} MiB/s), qemu ${qemu[i].toFixed(2)} s (${mibs(qemu[i])} MiB/s)`);
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`typervisor ${backend === 'user' ? 'sender' : 'client'}: ${median(ours).toFixed(2)} s = ${mibs(median(ours))} MiB/s (median of ${rounds})`);
console.log(`qemu ${backend === 'user' ? 'sender' : 'client'}:       ${median(qemu).toFixed(2)} s = ${mibs(median(qemu))} MiB/s (median of ${rounds})`);
console.log(`ratio typervisor/qemu: ${(median(ours) / median(qemu)).toFixed(2)} (time; lower is better)`);
if (rtts.typervisor.every(Number.isFinite) && rtts.qemu.every(Number.isFinite)) {
  const [o, q] = [median(rtts.typervisor), median(rtts.qemu)];
  const what = backend === 'user' ? 'TCP round trip (1 byte, median of 200) to an echo server on the host\'s loopback' : `ping round trip to the ${backend === 'pair' ? '' : 'QEMU '}server`;
  console.log(`${what}: typervisor ${o.toFixed(3)} ms, qemu ${q.toFixed(3)} ms, ratio ${(o / q).toFixed(2)} (lower is better)`);
}
console.log(`load average at the end: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
