// Builds and runs the decode-fuzz programs (decode-fuzz-gen.mjs) on QEMU and typervisor and
// compares them; also the CLI for large bug-hunting batches.
//
//   checkDecodeSeed(seed, { count, runner, jit })
//     -> { seed, src, elf, words, qemu, ours, cmp }   (cmp from compareDecode)
//   describeDiffs(diffs) -> text, one line per differing word, with its disassembly
//
// CLI (prints every unexplained difference, grouped):
//   node tests/differential/decode-fuzz-run.mjs [--seeds 50] [--base 1] [--count 3000] [--jobs 2]
//                                               [--runner inproc|cli] [--no-jit]
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { BUILD_DIR, CC, buildSource } from '../programs/build.mjs';
import { compareDecode, generateDecodeProgram, wordHex } from './decode-fuzz-gen.mjs';
import { runInProcess } from './inproc.mjs';
import { runOnQemu, runOnTypervisor } from './qemu.mjs';

const run = promisify(execFile);
export const DECODE_DIR = path.join(BUILD_DIR, 'decode-fuzz');

/** Generates and builds the program of `seed`; returns its paths and word list. */
export async function buildDecodeSeed(seed, count) {
  const { source, words } = generateDecodeProgram(seed, { count });
  await fs.mkdir(DECODE_DIR, { recursive: true });
  const src = path.join(DECODE_DIR, `seed-${seed}-${count}.c`);
  let old = '';
  try {
    old = await fs.readFile(src, 'utf8');
  } catch {}
  if (old !== source) await fs.writeFile(src, source);
  const elf = src.replace(/\.c$/, '.elf');
  await buildSource(src, elf, { extraDeps: [fileURLToPath(new URL('./decode-fuzz-gen.mjs', import.meta.url))] });
  return { src, elf, words };
}

/** Runs `elf` on typervisor: in this process through dist/ (default) or through the CLI. */
export async function runTypervisor(elf, { runner = 'inproc', jit = true, timeoutMs = 60000 } = {}) {
  if (runner === 'cli') return runOnTypervisor(elf, { timeoutMs });
  try {
    return { ...(await runInProcess(elf, { jit, timeoutMs })), stderr: '' };
  } catch (e) {
    return { stdout: Buffer.alloc(0), code: null, timedOut: false, stderr: e instanceof Error ? (e.stack ?? e.message) : String(e) };
  }
}

export async function checkDecodeSeed(seed, { count = 3000, runner = 'inproc', jit = true, timeoutMs = 60000 } = {}) {
  const { src, elf, words } = await buildDecodeSeed(seed, count);
  const [qemu, ours] = await Promise.all([
    runOnQemu(elf, { timeoutMs: 30000 }),
    runTypervisor(elf, { runner, jit, timeoutMs }),
  ]);
  const cmp = compareDecode(words, qemu.stdout.toString('latin1'), ours.stdout.toString('latin1'));
  return { seed, src, elf, words, qemu, ours, cmp };
}

/** Instruction length in bytes from the low bits (16, 32, 48, 64 or >= 80 bits). */
function encodedLength(w) {
  if ((w & 3) !== 3) return 2;
  if ((w & 0x1f) !== 0x1f) return 4;
  if ((w & 0x3f) === 0x1f) return 6;
  if ((w & 0x7f) === 0x3f) return 8;
  return 10;
}

const DIS_MARCH = 'rv64gc_zba_zbb_zbc_zbs_zicbom_zicboz_zbkb_zbkc_zbkx_zknd_zkne_zknh_zksed_zksh_zfh_zawrs_svinval_h';
const disCache = new Map();

/** Disassembly of each word ("len:hex" keys), through binutils (assembled with .insn into an object
 *  file that records a wide -march, so extensions are named). Words binutils does not know print
 *  as .2byte/.4byte; Zicond (unknown to binutils 2.40) is named here. */
export async function disassemble(words) {
  const todo = [...new Set(words.map((e) => `${e.len}:${wordHex(e.word, e.len)}`))].filter((k) => !disCache.has(k));
  const asm = todo.filter((k) => {
    const w = parseInt(k.slice(2), 16);
    return encodedLength(w) === Number(k[0]);
  });
  for (const k of todo) if (!asm.includes(k)) disCache.set(k, `(a ${encodedLength(parseInt(k.slice(2), 16)) * 8}-bit length prefix)`);
  if (asm.length) {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'decode-dis-'));
    try {
      const s = path.join(dir, 'w.s');
      const o = path.join(dir, 'w.o');
      await fs.writeFile(s, `.text\n${asm.map((k) => `.insn 0x${k.slice(2)}`).join('\n')}\n`);
      const as = String(CC).replace(/gcc$/, 'as');
      const objdump = String(CC).replace(/gcc$/, 'objdump');
      await run(as, [`-march=${DIS_MARCH}`, '-o', o, s]);
      const { stdout } = await run(objdump, ['-d', o], { maxBuffer: 64 * 1024 * 1024 });
      const lines = stdout.split('\n').filter((l) => /^\s+[0-9a-f]+:\t/.test(l));
      lines.forEach((l, i) => {
        const parts = l.split('\t');
        if (i < asm.length) disCache.set(asm[i], parts.slice(2).join(' ').trim());
      });
    } catch (e) {
      for (const k of asm) if (!disCache.has(k)) disCache.set(k, '(objdump failed)');
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  }
  const out = new Map();
  for (const e of words) {
    const k = `${e.len}:${wordHex(e.word, e.len)}`;
    let d = disCache.get(k) ?? '?';
    if (e.len === 4 && (e.word & 0xfe00507f) === 0x0e005033) d = ((e.word >>> 12) & 7) === 5 ? 'czero.eqz' : 'czero.nez';
    out.set(k, d);
  }
  return out;
}

/** One line per differing word: index, word, disassembly, QEMU's and typervisor's result. */
export async function describeDiffs(diffs) {
  const dis = await disassemble(diffs);
  return diffs
    .map((d) => `  #${d.index} ${wordHex(d.word, d.len)}${d.fsOff ? ' (FS=Off)' : ''}${d.frm ? ` (frm=${d.frm})` : ''}${d.hot ? ' (hot)' : ''} ${dis.get(`${d.len}:${wordHex(d.word, d.len)}`)}: ` +
      `qemu "${d.qemu}", typervisor "${d.ours}"`)
    .join('\n');
}

/** A coarse class of a difference, for grouping a batch's findings. */
function diffClass(d) {
  const w = d.word;
  let key;
  if (d.len === 2) key = `C.Q${w & 3} funct3=${w >>> 13}`;
  else {
    const opc = w & 0x7f;
    key = `opcode=0x${opc.toString(16)} funct3=${(w >>> 12) & 7}`;
    if ([0x33, 0x3b, 0x53, 0x13, 0x1b].includes(opc)) key += ` funct7=0x${(w >>> 25).toString(16)}`;
    if (opc === 0x2f) key += ` funct5=0x${(w >>> 27).toString(16)}`;
  }
  const norm = (r) => r.replace(/tval=[0-9a-f]+/, 'tval=…').replace(/ epc=\S+/, ' epc=…');
  return `${key}${d.fsOff ? ' FS=Off' : ''}${d.frm ? ` frm=${d.frm}` : ''}: qemu "${norm(d.qemu)}" vs typervisor "${norm(d.ours)}"`;
}

async function cli(argv) {
  const opt = (name, dflt) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : dflt;
  };
  const seeds = Number(opt('seeds', 50));
  const base = Number(opt('base', 1));
  const count = Number(opt('count', 3000));
  const jobs = Number(opt('jobs', 2));
  const runner = opt('runner', 'inproc');
  const jit = !argv.includes('--no-jit');
  const all = [];
  const bad = [];
  let next = base;
  let words = 0;
  const t0 = Date.now();
  await Promise.all(Array.from({ length: jobs }, async () => {
    while (next < base + seeds) {
      const seed = next++;
      const r = await checkDecodeSeed(seed, { count, runner, jit });
      words += r.words.length;
      for (const d of r.cmp.diffs) all.push({ ...d, seed });
      if (r.cmp.problems.length) {
        const status = (x) => `exit ${x.code}${x.signal ? ` (signal ${x.signal})` : ''}${x.timedOut ? ' (timed out)' : ''}, ` +
          `${x.stdout.length} bytes of output, stderr: ${String(x.stderr).slice(0, 1500)}`;
        bad.push(`seed ${seed}: ${r.cmp.problems.join('; ')}\n    QEMU ${status(r.qemu)}\n    typervisor ${status(r.ours)}`);
      }
      process.stderr.write(`seed ${seed}: ${r.cmp.diffs.length} differences${r.cmp.problems.length ? ', problems' : ''}\n`);
    }
  }));
  console.log(`${seeds} seeds (${base}..${base + seeds - 1}), ${words} words, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  for (const b of bad) console.log(`PROBLEM ${b}`);
  const groups = new Map();
  for (const d of all) {
    const k = diffClass(d);
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k).push(d);
  }
  const dis = await disassemble(all);
  console.log(`${all.length} unexplained differences in ${groups.size} classes`);
  for (const [k, ds] of [...groups].sort((a, b) => b[1].length - a[1].length)) {
    const uniq = [...new Map(ds.map((d) => [`${d.len}:${d.word}`, d])).values()];
    console.log(`\n${k}  (${ds.length}×, ${uniq.length} distinct words)`);
    for (const d of uniq.slice(0, 6)) {
      console.log(`    ${wordHex(d.word, d.len)} ${dis.get(`${d.len}:${wordHex(d.word, d.len)}`)}  [seed ${d.seed} #${d.index}] qemu "${d.qemu}" typervisor "${d.ours}"`);
    }
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  cli(process.argv.slice(2)).catch((e) => {
    console.error(e);
    process.exit(1);
  });
}

