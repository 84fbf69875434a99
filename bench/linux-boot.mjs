#!/usr/bin/env node
// Linux boot benchmark: boots the default Debian guest (trixie's riscv64 kernel and the busybox
// initramfs typervisor builds, from the user's cache) to power-off on typervisor and on QEMU's
// TCG (qemu-system-riscv64 -machine virt -m 512M), alternately, ROUNDS times each, and prints
// each round's wall time, both medians, the ratio (ours ÷ QEMU's) and typervisor's peak memory.
//
// The guest is the same on both: the kernel Image, the cached initramfs with the command
// archive for `true` appended (its /init runs the command and powers off through the test
// finisher), and `console=ttyS0 quiet loglevel=0`. Times are process start to exit, so they
// include Node's and QEMU's start-up. Peak memory is the max RSS of the typervisor process
// (process.resourceUsage() in a child that runs the CLI's main()).
//
// Firmware: by default typervisor serves SBI itself (`--bios builtin`) and QEMU boots its bundled
// OpenSBI (`-bios default`), i.e. each as it is normally used. `--firmware opensbi` runs both
// with Debian's OpenSBI fw_dynamic.bin (package opensbi), for a like-for-like comparison.
// Not a test: it never fails on a slow machine.
//   node bench/linux-boot.mjs [--rounds N] [--firmware builtin|opensbi]
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { runToEnd } from './lib/run-to-end.mjs';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const self = fileURLToPath(import.meta.url);
const APPEND = 'console=ttyS0 quiet loglevel=0';
const OPENSBI = '/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin';

// Child mode: run the CLI in this process and report its peak memory on stderr.
if (process.argv[2] === '--child') {
  const { main } = await import('../dist/cli/main.js');
  const status = await main(process.argv.slice(3));
  process.stderr.write(`\nlinux-boot: maxrss_kib=${process.resourceUsage().maxRSS}\n`);
  process.exit(status);
}

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
};
const rounds = Number(arg('--rounds', '3')) || 3;
const firmware = arg('--firmware', 'builtin');
if (!['builtin', 'opensbi'].includes(firmware)) throw new Error(`--firmware must be builtin or opensbi, not ${firmware}`);

const { ensureDefaultGuest, commandInitramfs } = await import('../dist/host/guest-image/index.js');
const guest = await ensureDefaultGuest({ progress: (m) => process.stderr.write(`fetching the default guest: ${m}\n`) });
const work = mkdtempSync(path.join(tmpdir(), 'linux-boot-bench-'));
const initrd = path.join(work, 'initramfs-true.cpio');
writeFileSync(initrd, Buffer.concat([readFileSync(guest.initramfsPath), commandInitramfs(['true'])]));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

/** Runs a command to its end; resolves with wall seconds and stderr, throws unless it exits 0. */
async function runOnce(cmd, args) {
  const { status, signal, stdout, stderr, seconds } = await runToEnd(cmd, args);
  if (status !== 0) throw new Error(`${cmd} failed (status ${status}, signal ${signal}):\n${stdout.slice(-2000)}\n${stderr.slice(-2000)}`);
  return { seconds, stderr };
}

const oursArgs = [self, '--child', 'run', '--bios', firmware === 'opensbi' ? OPENSBI : 'builtin', '--mem', '512M',
  '--kernel', guest.kernelPath, '--initrd', initrd, '--append', APPEND];
const qemuArgs = ['-machine', 'virt', '-m', '512M', '-nographic', '-monitor', 'none', '-serial', 'stdio',
  '-bios', firmware === 'opensbi' ? OPENSBI : 'default', '-kernel', guest.kernelPath, '-initrd', initrd, '-append', APPEND];

console.log(`kernel ${guest.kernelVersion}, firmware: typervisor ${firmware === 'opensbi' ? 'OpenSBI fw_dynamic.bin' : 'built-in SBI'}, ` +
  `qemu ${firmware === 'opensbi' ? 'OpenSBI fw_dynamic.bin' : '-bios default'}; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
const ours = [];
const qemu = [];
const rss = [];
for (let i = 0; i < rounds; i++) {
  const o = await runOnce(process.execPath, oursArgs);
  const kib = Number((o.stderr.match(/linux-boot: maxrss_kib=(\d+)/) ?? [])[1]);
  ours.push(o.seconds);
  rss.push(kib);
  const q = await runOnce('qemu-system-riscv64', qemuArgs);
  qemu.push(q.seconds);
  console.log(`round ${i + 1}/${rounds}: typervisor ${o.seconds.toFixed(2)} s (max RSS ${(kib / 1024).toFixed(0)} MiB), qemu ${q.seconds.toFixed(2)} s`);
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`typervisor: ${median(ours).toFixed(2)} s boot to power-off (median of ${rounds})`);
console.log(`qemu tcg:   ${median(qemu).toFixed(2)} s boot to power-off (median of ${rounds})`);
console.log(`ratio typervisor/qemu: ${(median(ours) / median(qemu)).toFixed(2)} (time; lower is better)`);
console.log(`typervisor peak memory (max RSS): ${(Math.max(...rss) / 1024).toFixed(0)} MiB`);
console.log(`load average at the end: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
