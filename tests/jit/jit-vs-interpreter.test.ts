// The translator must not change what a program does: every test program runs through the
// library twice, with hot code translated to wasm and with every instruction interpreted, and
// the UART output and exit of the two runs must be identical. (The
// differential tests compare the default, translated run against QEMU.)
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
// @ts-ignore -- plain ESM helper without type declarations
import { buildPrograms } from '../programs/build.mjs';
import { Machine } from '../../src/vmm/machine.js';
import { Hart } from '../../src/cpu/hart.js';

const elfs: string[] = await buildPrograms({ names: null });
// Programs whose output depends on timing (interrupt arrival), not only on the instruction stream.
const TIMING = new Set(['interrupts', 'board-timer', 'uart-echo', 'counters']);

async function run(elf: string, jit: boolean) {
  const out: number[] = [];
  let hart: Hart | undefined;
  const m = await Machine.create(
    { bios: 'none', memBytes: 64 << 20, kernel: { name: path.basename(elf), bytes: readFileSync(elf) } },
    { console: (b) => out.push(...b) },
    { createHart: async (o) => (hart = await Hart.create({ ...o, jit, jitThreshold: 64 })) },
  );
  m.start();
  const exit = await m.exited;
  return { text: Buffer.from(out).toString('latin1'), exit, translated: hart?.jit?.stats.translated ?? 0 };
}

describe('JIT vs interpreter', () => {
  let anyTranslated = 0;
  for (const elf of elfs) {
    const name = path.basename(elf, '.elf');
    if (TIMING.has(name)) continue;
    it(name, async () => {
      const interpreted = await run(elf, false);
      const translated = await run(elf, true);
      expect(interpreted.translated).toBe(0);
      anyTranslated += translated.translated;
      expect(translated.text).toBe(interpreted.text);
      expect(translated.exit).toEqual(interpreted.exit);
    }, 120_000);
  }
  it('translated some code at all', () => {
    expect(anyTranslated).toBeGreaterThan(0);
  });
});
