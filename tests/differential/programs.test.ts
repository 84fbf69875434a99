// Differential test: every program in tests/programs runs on QEMU (the reference) and on
// typervisor; the UART output and the exit status must be identical.
//
//   npx vitest run tests/differential/programs.test.ts
//   PROGRAMS=hello,rv64m npx vitest run tests/differential   # only some programs
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-ignore -- plain ESM helper without type declarations
import { buildPrograms, listSources } from '../programs/build.mjs';
// @ts-ignore -- plain ESM helper without type declarations
import { runOnQemu, runOnTypervisor } from './qemu.mjs';
// @ts-ignore -- plain ESM helper without type declarations
import { compareWithDeviations } from './qemu-deviations.mjs';

const only = (process.env.PROGRAMS || '').split(',').map((s) => s.trim()).filter(Boolean);
const elfs: string[] = await buildPrograms({ names: only.length ? only : null });
const sources: string[] = await listSources();

/** A program may declare its expected status with a comment "expect-exit: N" (default 0). */
function expectedExit(elf: string): number {
  const base = path.basename(elf, '.elf');
  const src = sources.find((s) => path.basename(s).replace(/\.(c|S)$/, '') === base);
  if (!src) return 0;
  const m = /expect-exit:\s*(\d+)/.exec(readFileSync(src, 'utf8'));
  return m ? Number(m[1]) : 0;
}

describe('differential: test programs vs QEMU', () => {
  it('has programs to run', () => {
    expect(elfs.length).toBeGreaterThan(0);
  });

  for (const elf of elfs) {
    const name = path.basename(elf, '.elf');
    it(name, async () => {
      const want = expectedExit(elf);
      const q = await runOnQemu(elf, { timeoutMs: 30000 });
      // Sanity checks on the reference itself, so a broken harness cannot pass.
      expect(q.timedOut, `QEMU timed out on ${name}`).toBe(false);
      expect(q.code, `QEMU exit status for ${name}; stderr: ${q.stderr}`).toBe(want);
      expect(q.stdout.length, `QEMU printed nothing for ${name}`).toBeGreaterThan(0);
      expect(q.stdout.toString('latin1')).not.toContain('*** unexpected');

      const t = await runOnTypervisor(elf, { timeoutMs: Number(process.env.TYPERVISOR_TIMEOUT_MS || 120000) });
      const qs = q.stdout.toString('latin1');
      const ts = t.stdout.toString('latin1');
      // Equal line by line, except the deviations listed (with reasons) in qemu-deviations.mjs.
      const cmp = compareWithDeviations(name, qs, ts);
      if (!cmp.ok) {
        throw new Error(
          `${name}: output differs from QEMU (typervisor exit ${t.code}${t.timedOut ? ', timed out' : ''})\n` +
            cmp.message +
            (t.stderr ? `\n  typervisor stderr: ${t.stderr.slice(0, 2000)}` : ''),
        );
      }
      expect(t.timedOut, `typervisor timed out on ${name}`).toBe(false);
      expect(t.code, `typervisor exit status for ${name}`).toBe(q.code);
    }, 200000);
  }
});
