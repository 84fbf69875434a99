// Differential fuzz of instruction decoding: random instruction words (decode-fuzz-gen.mjs) run
// one by one in M-mode on QEMU 7.2 and on typervisor; for every word both must agree on
// "runs without a trap" vs "raises cause N with mtval X". Differences are accepted only when a
// rule of DECODE_DEVIATIONS (in decode-fuzz-gen.mjs) explains them, and every rule must be
// exercised by every seed (the directed words at the start of each program see to that).
//
//   npx vitest run tests/differential/decode-fuzz.test.ts
//   DECODE_FUZZ_SEEDS=50 DECODE_FUZZ_SEED_BASE=1000 npx vitest run tests/differential/decode-fuzz.test.ts
//   DECODE_FUZZ_SEEDS      seeds (default 6)
//   DECODE_FUZZ_SEED_BASE  first seed (default 1)
//   DECODE_FUZZ_COUNT      words per program, directed words included (default 3000)
//   DECODE_FUZZ_JOBS       seeds run at the same time (default 2)
//   DECODE_FUZZ_RUNNER     `cli` (default): spawns bin/typervisor.js; `inproc`: runs dist/ inside
//                          the test process (slower here: the runs then share one thread)
//   DECODE_FUZZ_TIMEOUT_MS typervisor's time limit per seed (default 60000)
// For a bug-hunting batch with grouped findings: node tests/differential/decode-fuzz-run.mjs --seeds 50
import { describe, expect, it } from 'vitest';
// @ts-ignore -- plain ESM helper without type declarations
import { DECODE_DEVIATIONS, HOT_REPEAT, generateDecodeProgram } from './decode-fuzz-gen.mjs';
// @ts-ignore -- plain ESM helper without type declarations
import { checkDecodeSeed, describeDiffs } from './decode-fuzz-run.mjs';
// @ts-ignore -- plain ESM helper without type declarations
import { runInProcess } from './inproc.mjs';

const num = (name: string, dflt: number) => (process.env[name] ? Number(process.env[name]) : dflt);
const SEEDS = num('DECODE_FUZZ_SEEDS', 6);
const BASE = num('DECODE_FUZZ_SEED_BASE', 1);
const COUNT = num('DECODE_FUZZ_COUNT', 3000);
const JOBS = Math.max(1, num('DECODE_FUZZ_JOBS', 2));
const TIMEOUT_MS = num('DECODE_FUZZ_TIMEOUT_MS', 60000);
const RUNNER = process.env.DECODE_FUZZ_RUNNER || 'cli';
if (RUNNER !== 'inproc' && RUNNER !== 'cli') throw new Error(`DECODE_FUZZ_RUNNER must be cli or inproc, not ${RUNNER}`);

/** At most JOBS seeds at a time (each runs gcc, QEMU and typervisor). */
let running = 0;
const waiting: (() => void)[] = [];
async function withSlot<T>(fn: () => Promise<T>): Promise<T> {
  if (running >= JOBS) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await fn();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

interface Word { word: number; len: number; fsOff: boolean; frm: number; hot: boolean }
interface Rule { name: string; why: string }
interface Diff { index: number; word: number; len: number; hot: boolean; qemu: string; ours: string }

async function checkSeed(seed: number) {
  const r = await checkDecodeSeed(seed, { count: COUNT, runner: RUNNER, timeoutMs: TIMEOUT_MS });
  const qs: string = r.qemu.stdout.toString('latin1');
  // The reference itself must have run every word.
  expect(r.qemu.timedOut, `QEMU timed out on seed ${seed}`).toBe(false);
  expect(r.qemu.code, `QEMU exit status, seed ${seed}: ${r.qemu.stderr}`).toBe(0);
  expect(qs, `QEMU output for seed ${seed}`).toContain(`decode-fuzz done ${r.words.length}`);
  expect(qs).not.toContain('*** unexpected');

  const { diffs, problems, used } = r.cmp as { diffs: Diff[]; problems: string[]; used: Set<Rule> };
  if (diffs.length || problems.length) {
    let msg = `seed ${seed}: typervisor differs from QEMU (exit ${r.ours.code}${r.ours.timedOut ? ', timed out' : ''})\n`;
    msg += `  program: ${r.src}\n`;
    if (problems.length) msg += `  ${problems.join('\n  ')}\n`;
    if (diffs.length) {
      msg += `  ${diffs.length} word(s) with unexplained results:\n${await describeDiffs(diffs.slice(0, 40))}\n`;
      if (diffs.some((d) => d.hot)) msg += `  (words marked hot ran ${HOT_REPEAT} times in a row: the last runs are translated by the JIT)\n`;
    }
    // Is it the JIT? Run the same program with the interpreter alone.
    try {
      const off = await runInProcess(r.elf, { jit: false, timeoutMs: TIMEOUT_MS });
      const same = off.stdout.toString('latin1') === r.ours.stdout.toString('latin1');
      msg += `  with the JIT off (in-process) typervisor's output is ${same ? 'the same' : 'different: the JIT is involved'}\n`;
    } catch (e) {
      msg += `  with the JIT off (in-process): failed: ${e instanceof Error ? e.message : String(e)}\n`;
    }
    if (r.ours.stderr) msg += `  typervisor stderr: ${String(r.ours.stderr).slice(0, 1500)}\n`;
    throw new Error(msg);
  }
  const unused = (DECODE_DEVIATIONS as Rule[]).filter((d) => !used.has(d));
  expect(unused.map((d) => d.name), `deviation rules not exercised by seed ${seed} (stale?)`).toEqual([]);
  expect(r.ours.timedOut, `typervisor timed out on seed ${seed}`).toBe(false);
  expect(r.ours.code, `typervisor exit status, seed ${seed}`).toBe(0);
}

describe('decode fuzz: generator', () => {
  it('covers every major opcode and every compressed quadrant/funct3, deterministically', () => {
    const a = generateDecodeProgram(BASE, { count: COUNT });
    const b = generateDecodeProgram(BASE, { count: COUNT });
    expect(a.source).toBe(b.source);
    const words = a.words as Word[];
    expect(words.length).toBe(COUNT);
    const major = new Set(words.filter((e) => e.len === 4).map((e) => (e.word >>> 2) & 31));
    const rvc = new Set(words.filter((e) => e.len === 2).map((e) => `${e.word & 3}/${e.word >>> 13}`));
    expect(major.size, 'major opcodes (bits 6:2) generated').toBe(32);
    expect(rvc.size, 'compressed quadrant/funct3 pairs generated').toBe(24);
    expect(words.some((e) => e.fsOff) && words.some((e) => e.frm) && words.some((e) => e.hot)).toBe(true);
    expect(words.some((e) => e.len === 4 && e.word === 0x10200073), 'sret is never generated').toBe(false);
  });

  it('gives every deviation rule a reason', () => {
    for (const d of DECODE_DEVIATIONS as Rule[]) expect(d.why.length).toBeGreaterThan(20);
  });
});

describe.concurrent('decode fuzz: legal vs illegal instruction words vs QEMU', () => {
  for (let s = BASE; s < BASE + SEEDS; s++) {
    it(`seed ${s}`, () => withSlot(() => checkSeed(s)), 180000);
  }
});
