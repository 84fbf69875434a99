// Differential fuzzing: random instruction sequences (fuzz-gen.mjs) run on QEMU and on
// typervisor; the final integer/FP registers, fcsr and scratch-memory checksums must match.
// Three kinds of program (see fuzz-gen.mjs): `straight` (runs once: interpreter only), `loop`
// (the sequence is a loop body run 100..300 times: its blocks get hot and are translated by the
// JIT) and `smc` (a loop that rewrites its own code between iterations: translations must be
// dropped). A last test checks, in-process, that loop programs really run translated code.
// A mismatch report names the seed and mode, the first differing register and the code that
// last wrote it; for loop/smc seeds it also says whether the interpreter alone (JIT off)
// matches QEMU, and both outputs are saved next to the program in build/fuzz/.
//
//   npx vitest run tests/differential/fuzz.test.ts
//   FUZZ_SEEDS=200 FUZZ_LOOP_SEEDS=300 FUZZ_SMC_SEEDS=100 FUZZ_SEED_BASE=1000 npx vitest run tests/differential/fuzz.test.ts
//   FUZZ_SEEDS      straight seeds (default 40)
//   FUZZ_LOOP_SEEDS loop seeds (default 30)
//   FUZZ_SMC_SEEDS  self-modifying seeds (default 10)
//   FUZZ_SEED_BASE  first seed of every mode (default 1)
//   FUZZ_LENGTH     fixed number of random steps (default: 200..500 straight, 80..300 looped)
//   FUZZ_JOBS       seeds in progress at the same time (default 4)
//   FUZZ_TIMEOUT_MS typervisor's time limit per seed (default 30000)
//   FUZZ_RUNNER     `inproc` (default): typervisor runs in worker threads of the test process
//                   through dist/ (the library bin/typervisor.js uses; saves starting Node for
//                   every seed), `cli`: spawns bin/typervisor.js like the other differential tests
//   FUZZ_WORKERS    worker threads for `inproc` (default 2)
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-ignore -- plain ESM helper without type declarations
import { BUILD_DIR, CC, buildSource } from '../programs/build.mjs';
// @ts-ignore -- plain ESM helper without type declarations
import { describeKey, generateProgram, writersOf } from './fuzz-gen.mjs';
// @ts-ignore -- plain ESM helper without type declarations
import { WorkerPool, runInProcess } from './inproc.mjs';
// @ts-ignore -- plain ESM helper without type declarations
import { runOnQemu, runOnTypervisor } from './qemu.mjs';

type Mode = 'straight' | 'loop' | 'smc';

const count = (name: string, dflt: number) => (process.env[name] ? Number(process.env[name]) : dflt);
const SEEDS: Record<Mode, number> = {
  straight: count('FUZZ_SEEDS', 40),
  loop: count('FUZZ_LOOP_SEEDS', 30),
  smc: count('FUZZ_SMC_SEEDS', 10),
};
const BASE = count('FUZZ_SEED_BASE', 1);
const LENGTH = process.env.FUZZ_LENGTH ? Number(process.env.FUZZ_LENGTH) : null;
const JOBS = Math.max(1, count('FUZZ_JOBS', 4));
const TIMEOUT_MS = count('FUZZ_TIMEOUT_MS', 30000);
const RUNNER = process.env.FUZZ_RUNNER || 'inproc';
if (RUNNER !== 'inproc' && RUNNER !== 'cli') throw new Error(`FUZZ_RUNNER must be inproc or cli, not ${RUNNER}`);
const FUZZ_DIR = path.join(BUILD_DIR, 'fuzz');
const pool = new WorkerPool(count('FUZZ_WORKERS', 2));
afterAll(() => pool.close());

interface TypervisorRun { stdout: Buffer; code: number | null; timedOut: boolean; stderr: string }

/** Runs the ELF on typervisor (JIT on unless `jit` is false). */
async function runTypervisor(elf: string, jit = true): Promise<TypervisorRun> {
  if (RUNNER === 'cli' && jit) return runOnTypervisor(elf, { timeoutMs: TIMEOUT_MS });
  const r = await pool.run(elf, { jit, timeoutMs: TIMEOUT_MS });
  return { stdout: r.stdout, code: r.code, timedOut: r.timedOut, stderr: r.error ?? '' };
}

/** At most JOBS seeds at a time (each runs gcc, QEMU and typervisor). */
let running = 0;
const waiting: (() => void)[] = [];
async function withSlot<T>(fn: () => Promise<T>): Promise<T> {
  if (running < JOBS) running++;
  else await new Promise<void>((resolve) => waiting.push(resolve)); // a finishing seed hands its slot over
  try {
    return await fn();
  } finally {
    const next = waiting.shift();
    if (next) next();
    else running--;
  }
}

/** "key = value" lines of a dump, in order. */
function parseDump(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf(' = ');
    if (i > 0) m.set(line.slice(0, i), line.slice(i + 3));
  }
  return m;
}

/** Generates and builds the program of `seed` in `mode`; returns its paths and listing. */
async function buildSeed(mode: Mode, seed: number, length: number | null = LENGTH) {
  const prog = generateProgram(seed, { length, mode });
  await fs.mkdir(FUZZ_DIR, { recursive: true });
  const src = path.join(FUZZ_DIR, `${mode}-${seed}${length ? `-${length}` : ''}.S`);
  const elf = src.replace(/\.S$/, '.elf');
  let old = '';
  try {
    old = await fs.readFile(src, 'utf8');
  } catch {}
  if (old !== prog.source) await fs.writeFile(src, prog.source);
  await buildSource(src, elf);
  return { src, elf, listing: prog.listing as string[], iterations: prog.iterations as number };
}

/** Addresses of the random body (labels fz_body / fz_body_end) in a built program. */
async function bodyRange(elf: string): Promise<[bigint, bigint]> {
  const nm = String(CC).replace(/gcc$/, 'nm');
  const { stdout } = await promisify(execFile)(nm, [elf]);
  const sym = (name: string) => {
    const m = new RegExp(`^([0-9a-f]+) \\w ${name}$`, 'm').exec(stdout);
    if (!m) throw new Error(`${name} not found in ${elf}`);
    return BigInt(`0x${m[1]}`);
  };
  return [sym('fz_body'), sym('fz_body_end')];
}

async function checkSeed(mode: Mode, s: number) {
  const { src, elf, listing, iterations } = await buildSeed(mode, s);
  const [q0, t] = await Promise.all([runOnQemu(elf, { timeoutMs: 30000 }), runTypervisor(elf)]);
  let q = q0;
  // The reference itself is not under test: an incomplete QEMU run (seen, rarely, on a busy
  // host) is repeated once.
  if (q.code !== 0 || !q.stdout.toString('latin1').endsWith('fuzz done\n')) q = await runOnQemu(elf, { timeoutMs: 30000 });
  const qs: string = q.stdout.toString('latin1');
  expect(q.code, `QEMU exit status, ${mode} seed ${s}: ${q.stderr}`).toBe(0);
  expect(qs, `QEMU output for ${mode} seed ${s}`).toContain('fuzz done');
  const ts: string = t.stdout.toString('latin1');
  if (qs === ts && t.code === 0) return;

  const qd = parseDump(qs);
  const td = parseDump(ts);
  let msg = `${mode} seed ${s}: typervisor differs from QEMU (exit ${t.code}${t.timedOut ? ', timed out' : ''})\n`;
  msg += `  program: ${src}${mode === 'straight' ? '' : ` (loop of ${iterations} iterations)`}\n`;
  if (mode !== 'straight') {
    // Is it the JIT? Run the same program with the interpreter alone.
    const i = await runTypervisor(elf, false);
    const same = i.stdout.toString('latin1') === qs && i.code === 0;
    msg += `  with the JIT off: ${same ? 'matches QEMU, so the JIT is at fault' : `differs from QEMU too${i.stderr ? ` (${i.stderr.split('\n')[0]})` : ''}`}\n`;
  }
  const firstKey = [...qd.keys()].find((k) => qd.get(k) !== td.get(k));
  if (firstKey) {
    msg += `  first differing: ${describeKey(firstKey)}: qemu ${qd.get(firstKey)}, typervisor ${td.get(firstKey) ?? '(missing)'}\n`;
    const diffs = [...qd.keys()].filter((k) => qd.get(k) !== td.get(k));
    msg += `  all differing: ${diffs.join(' ')}\n`;
    const w = writersOf(listing, firstKey);
    if (w.length) {
      msg += `  last instructions writing ${firstKey}:\n`;
      for (const { index, ins } of w.slice(-8)) msg += `    #${index}: ${ins}\n`;
    }
    const last = w.length ? w[w.length - 1].index : listing.length - 1;
    msg += `  instructions before and at #${last}:\n`;
    for (let i = Math.max(0, last - 15); i <= last; i++) msg += `    #${i}: ${listing[i]}\n`;
  } else {
    const ql = qs.split('\n');
    const tl = ts.split('\n');
    const at = ql.findIndex((l, i) => l !== tl[i]);
    const line = at < 0 ? tl.length : at;
    msg += `  outputs differ outside the dump, first at line ${line + 1}: qemu ${JSON.stringify(ql[line])}, typervisor ${JSON.stringify(tl[line])}\n`;
  }
  await fs.writeFile(src.replace(/\.S$/, '.qemu.txt'), qs);
  await fs.writeFile(src.replace(/\.S$/, '.typervisor.txt'), ts);
  msg += `  outputs saved next to the program (.qemu.txt, .typervisor.txt)\n`;
  if (t.stderr) msg += `  typervisor stderr: ${t.stderr.slice(0, 1500)}\n`;
  throw new Error(msg);
}

for (const mode of ['straight', 'loop', 'smc'] as const) {
  if (SEEDS[mode] <= 0) continue;
  describe.concurrent(`differential fuzz vs QEMU: ${mode} programs`, () => {
    for (let s = BASE; s < BASE + SEEDS[mode]; s++) {
      it(`${mode} seed ${s}`, () => withSlot(() => checkSeed(mode, s)), 120000);
    }
  });
}

describe('fuzz programs exercise the JIT', () => {
  // Fixed seeds: these checks are about the generator and the JIT, not about coverage.
  it('loop mode: blocks of the random body are translated, and the result does not depend on the JIT', async () => {
    const { elf } = await buildSeed('loop', 1, null);
    const [lo, hi] = await bodyRange(elf);
    const on = await runInProcess(elf, { jit: true });
    const off = await runInProcess(elf, { jit: false });
    expect(on.jit, 'the hart has a JIT').toBeDefined();
    const inBody = (on.translatedPcs as bigint[]).filter((pc) => pc >= lo && pc < hi);
    expect(inBody.length, `blocks translated in the loop body [${lo.toString(16)}, ${hi.toString(16)})`).toBeGreaterThan(0);
    expect(off.jit).toBeUndefined();
    expect(on.stdout.toString('latin1')).toContain('fuzz done');
    expect(on.stdout.toString('latin1')).toBe(off.stdout.toString('latin1'));
  });

  it('smc mode: rewritten code is translated again', async () => {
    const { elf } = await buildSeed('smc', 1, null);
    const [lo, hi] = await bodyRange(elf);
    // Regions compiled as soon as they are hot: the program rewrites its body faster than a
    // default batch waits, and what is tested here is that rewritten code is translated again.
    const on = await runInProcess(elf, { jit: true, jitBatching: { regions: 1, instructions: 1 } });
    const off = await runInProcess(elf, { jit: false });
    const seen = new Map<bigint, number>();
    for (const pc of on.translatedPcs as bigint[]) if (pc >= lo && pc < hi) seen.set(pc, (seen.get(pc) ?? 0) + 1);
    const again = [...seen.values()].filter((n) => n > 1).length;
    expect(seen.size, 'blocks translated in the loop body').toBeGreaterThan(0);
    expect(again, 'body blocks translated more than once (dropped after a code write)').toBeGreaterThan(0);
    expect(on.stdout.toString('latin1')).toContain('fuzz done');
    expect(on.stdout.toString('latin1')).toBe(off.stdout.toString('latin1'));
  });
});
