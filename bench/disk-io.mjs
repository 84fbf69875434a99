#!/usr/bin/env node
// Disk benchmark: sequential and random read/write throughput inside the default Debian guest,
// on a raw and a qcow2 disk, on typervisor (virtio-blk) and on QEMU's TCG (virtio-blk-device on
// virtio-mmio, the same board), alternately, ROUNDS times each; prints the medians and the
// ratio ours ÷ QEMU's (throughput: higher is better).
//
// Both sides boot the same kernel and initramfs with two more archives appended: the static
// program bench/programs/disk-io.c at /disk-io, and the command archive that runs it on
// /dev/vda (the guest's /init runs it and powers off). Every round gets a fresh copy of the
// same empty image (qcow2 made by qemu-img, 64 KiB clusters), so allocating writes are measured
// the same way on both. The program uses O_DIRECT and fsync and times itself inside the guest,
// so boot time is excluded; QEMU runs with its default cache mode (writeback, flush = fdatasync).
// Not a test: it never fails on a slow machine.
//   node bench/disk-io.mjs [--rounds N] [--format raw|qcow2|both] [--mib N] [--ops N]
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { runToEnd } from './lib/run-to-end.mjs';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const APPEND = 'console=ttyS0 quiet loglevel=0';
const TESTS = ['seq-write', 'seq-read', 'rand-write', 'rand-read'];

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
};
const rounds = Number(arg('--rounds', '3')) || 3;
const formats = arg('--format', 'both') === 'both' ? ['raw', 'qcow2'] : [arg('--format')];
const mib = Number(arg('--mib', '64')) || 64;
const ops = Number(arg('--ops', '2000')) || 2000;
for (const f of formats) if (!['raw', 'qcow2'].includes(f)) throw new Error(`--format must be raw, qcow2 or both, not ${f}`);

// The guest program: built with Debian's cross compiler (gcc-riscv64-linux-gnu).
const program = path.join(root, 'bench/build/disk-io');
mkdirSync(path.dirname(program), { recursive: true });
const cc = spawnSync('riscv64-linux-gnu-gcc', ['-static', '-O2', '-o', program, path.join(root, 'bench/programs/disk-io.c')], { encoding: 'utf8' });
if (cc.status !== 0) throw new Error(`cannot build bench/programs/disk-io.c (apt-get install gcc-riscv64-linux-gnu): ${cc.stderr ?? cc.error}`);

const { ensureDefaultGuest, commandInitramfs } = await import('../dist/host/guest-image/index.js');
const { writeCpioNewc } = await import('../dist/core/cpio-newc.js');
const guest = await ensureDefaultGuest({ progress: (m) => process.stderr.write(`fetching the default guest: ${m}\n`) });
const work = mkdtempSync(path.join(tmpdir(), 'disk-io-bench-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
const initrd = path.join(work, 'initramfs-disk-io.cpio');
const tool = writeCpioNewc([{ type: 'file', name: 'disk-io', data: new Uint8Array(readFileSync(program)), mode: 0o755, mtime: 0 }]);
writeFileSync(initrd, Buffer.concat([readFileSync(guest.initramfsPath), tool, commandInitramfs(['/disk-io', '/dev/vda', String(mib), String(ops)])]));

// One empty image per format, copied fresh for every run.
const diskBytes = (mib + 16) * 1024 * 1024;
const templates = {};
for (const f of formats) {
  templates[f] = path.join(work, `template.${f}`);
  const r = spawnSync('qemu-img', ['create', '-q', '-f', f, templates[f], String(diskBytes)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`qemu-img create failed (apt-get install qemu-utils): ${r.stderr ?? r.error}`);
}

/** Runs one machine to its end; resolves with the program's figures, throws unless it exits 0. */
async function runOnce(cmd, args) {
  const { status, signal, stdout: out, stderr: err } = await runToEnd(cmd, args);
  const figures = {};
  for (const m of out.matchAll(/disk-io (\S+) bytes=(\d+) ns=(\d+) ops=(\d+)/g)) {
    figures[m[1]] = { mbps: Number(m[2]) / 2 ** 20 / (Number(m[3]) / 1e9), iops: Number(m[4]) / (Number(m[3]) / 1e9) };
  }
  const checksum = (out.match(/disk-io checksum=([0-9a-f]+)/) ?? [])[1];
  if (status !== 0 || checksum === undefined) throw new Error(`${cmd} failed (status ${status}, signal ${signal}):\n${out.slice(-2000)}\n${err.slice(-2000)}`);
  return { figures, checksum };
}

function oursArgs(disk, format) {
  return [path.join(root, 'bin/typervisor.js'), 'run', '--mem', '512M', '--kernel', guest.kernelPath, '--initrd', initrd, '--append', APPEND,
    '--disk', `${disk},format=${format}`];
}
function qemuArgs(disk, format) {
  return ['-machine', 'virt', '-m', '512M', '-nographic', '-monitor', 'none', '-serial', 'stdio', '-bios', 'default',
    '-kernel', guest.kernelPath, '-initrd', initrd, '-append', APPEND,
    '-drive', `file=${disk},format=${format},if=none,id=d0`, '-device', 'virtio-blk-device,drive=d0'];
}

console.log(`kernel ${guest.kernelVersion}; ${mib} MiB sequential in 1 MiB requests, ${ops} random 4 KiB requests, O_DIRECT; ` +
  `load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const format of formats) {
  const ours = [];
  const qemu = [];
  for (let i = 0; i < rounds; i++) {
    const disk = path.join(work, `disk.${format}`);
    copyFileSync(templates[format], disk);
    ours.push(await runOnce(process.execPath, oursArgs(disk, format)));
    copyFileSync(templates[format], disk);
    qemu.push(await runOnce('qemu-system-riscv64', qemuArgs(disk, format)));
    if (ours[i].checksum !== qemu[i].checksum) throw new Error(`${format}: the guests read back different data (checksum ${ours[i].checksum} vs ${qemu[i].checksum})`);
    const line = (r) => TESTS.map((t) => `${t} ${r.figures[t].mbps.toFixed(1)}`).join(', ');
    console.log(`${format} round ${i + 1}/${rounds} (MiB/s): typervisor ${line(ours[i])} | qemu ${line(qemu[i])}`);
  }
  console.log(`\n${format}: median of ${rounds}        typervisor        qemu tcg     ratio`);
  for (const t of TESTS) {
    const o = median(ours.map((r) => r.figures[t].mbps));
    const q = median(qemu.map((r) => r.figures[t].mbps));
    const unit = t.startsWith('rand') ? ` (${median(ours.map((r) => r.figures[t].iops)).toFixed(0)} vs ${median(qemu.map((r) => r.figures[t].iops)).toFixed(0)} IOPS)` : '';
    console.log(`  ${t.padEnd(11)} ${o.toFixed(1).padStart(10)} MiB/s ${q.toFixed(1).padStart(10)} MiB/s ${(o / q).toFixed(2).padStart(8)}${unit}`);
  }
  console.log('');
}
console.log(`ratio = typervisor ÷ qemu (throughput; higher is better). Load average at the end: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
