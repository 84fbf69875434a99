// Differential fuzzing: random instruction sequences (fuzz-gen.mjs) run on QEMU and on
// typervisor; the final integer/FP registers, fcsr and scratch-memory checksums must match.
//
//   npx vitest run tests/differential/fuzz.test.ts
//   FUZZ_SEEDS=200 FUZZ_SEED_BASE=1000 npx vitest run tests/differential/fuzz.test.ts
//   FUZZ_LENGTH=500 ...   (fixed body length; default: 200..500 per seed)
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-ignore -- plain ESM helper without type declarations
import { BUILD_DIR, buildSource } from '../programs/build.mjs';
// @ts-ignore -- plain ESM helper without type declarations
import { describeKey, generateProgram, writersOf } from './fuzz-gen.mjs';
// @ts-ignore -- plain ESM helper without type declarations
import { runOnQemu, runOnTypervisor } from './qemu.mjs';

const SEEDS = Number(process.env.FUZZ_SEEDS || 40);
const BASE = Number(process.env.FUZZ_SEED_BASE || 1);
const LENGTH = process.env.FUZZ_LENGTH ? Number(process.env.FUZZ_LENGTH) : null;
const FUZZ_DIR = path.join(BUILD_DIR, 'fuzz');

/** "key = value" lines of a dump, in order. */
function parseDump(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf(' = ');
    if (i > 0) m.set(line.slice(0, i), line.slice(i + 3));
  }
  return m;
}

describe('differential fuzz: random instruction sequences vs QEMU', () => {
  for (let s = BASE; s < BASE + SEEDS; s++) {
    it(`seed ${s}`, async () => {
      const { source, listing } = generateProgram(s, { length: LENGTH });
      await fs.mkdir(FUZZ_DIR, { recursive: true });
      const src = path.join(FUZZ_DIR, `seed-${s}${LENGTH ? `-${LENGTH}` : ''}.S`);
      const elf = src.replace(/\.S$/, '.elf');
      let old = '';
      try {
        old = await fs.readFile(src, 'utf8');
      } catch {}
      if (old !== source) await fs.writeFile(src, source);
      await buildSource(src, elf);

      const q = await runOnQemu(elf, { timeoutMs: 30000 });
      const qs = q.stdout.toString('latin1');
      expect(q.code, `QEMU exit status, seed ${s}: ${q.stderr}`).toBe(0);
      expect(qs, `QEMU output for seed ${s}`).toContain('fuzz done');

      const t = await runOnTypervisor(elf, { timeoutMs: Number(process.env.FUZZ_TIMEOUT_MS || 30000) });
      const ts = t.stdout.toString('latin1');
      if (qs === ts && t.code === 0) return;

      const qd = parseDump(qs);
      const td = parseDump(ts);
      let msg = `seed ${s}: typervisor differs from QEMU (exit ${t.code}${t.timedOut ? ', timed out' : ''})\n`;
      msg += `  program: ${src}\n`;
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
        msg += `  outputs differ outside the dump; typervisor stdout tail:\n${ts.slice(-1500)}\n`;
      }
      if (t.stderr) msg += `  typervisor stderr: ${t.stderr.slice(0, 1500)}\n`;
      throw new Error(msg);
    }, 120000);
  }
});
