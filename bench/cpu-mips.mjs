#!/usr/bin/env node
// CPU benchmark: runs bench/programs/cpu-bound.c on typervisor and on QEMU's TCG
// (qemu-system-riscv64 -machine virt -bios none), alternately, ROUNDS times each, and prints
// millions of instructions per second for both and the ratio (ours ÷ QEMU's) of the medians.
//
// The program times its own kernels with rdtime (mtime, 10 MHz on both boards), so process
// start-up is excluded. The instruction count comes from typervisor's minstret (QEMU's counts
// host ticks, not instructions); both engines run the same ELF, and the checksum proves they
// computed the same thing. Not a test: it never fails on a slow machine.
//   node bench/cpu-mips.mjs [--rounds N]
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { buildSource } from '../tests/programs/build.mjs';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const rounds = Number(process.argv[process.argv.indexOf('--rounds') + 1]) || 3;
const elf = path.join(root, 'bench/build/cpu-bound.elf');
await buildSource(path.join(root, 'bench/programs/cpu-bound.c'), elf);

function runOnce(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'latin1', stdio: ['ignore', 'pipe', 'inherit'], timeout: 600_000 });
  const out = r.stdout ?? '';
  const field = (k) => (out.match(new RegExp(`${k}=([0-9a-f]+)`)) ?? [])[1];
  if (r.status !== 0 || !field('ticks')) throw new Error(`${cmd} failed (status ${r.status}):\n${out}`);
  return { checksum: field('checksum'), instret: Number(field('instret')), seconds: Number(field('ticks')) / 1e7 };
}

const ours = [];
const qemu = [];
for (let i = 0; i < rounds; i++) {
  ours.push(runOnce(process.execPath, [path.join(root, 'bin/typervisor.js'), 'run', '--bios', 'none', '--kernel', elf]));
  qemu.push(runOnce('qemu-system-riscv64', ['-machine', 'virt', '-bios', 'none', '-nographic', '-monitor', 'none', '-serial', 'stdio', '-kernel', elf]));
  process.stderr.write(`round ${i + 1}/${rounds}: typervisor ${ours[i].seconds.toFixed(3)} s, qemu ${qemu[i].seconds.toFixed(3)} s\n`);
}
if (ours.some((o) => o.checksum !== qemu[0].checksum) || qemu.some((q) => q.checksum !== qemu[0].checksum)) {
  throw new Error('checksums differ between runs: the engines disagree');
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const instructions = ours[0].instret;
const mipsOurs = instructions / median(ours.map((o) => o.seconds)) / 1e6;
const mipsQemu = instructions / median(qemu.map((q) => q.seconds)) / 1e6;
console.log(`instructions per run: ${instructions}`);
console.log(`typervisor: ${mipsOurs.toFixed(0)} MIPS (median of ${rounds})`);
console.log(`qemu tcg:   ${mipsQemu.toFixed(0)} MIPS (median of ${rounds})`);
console.log(`ratio typervisor/qemu: ${(mipsOurs / mipsQemu).toFixed(3)}`);
