import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Hart } from '../../src/cpu/hart.js';
import type { PhysicalBus } from '../../src/cpu/hart-api.js';
import type { HartState } from '../../src/cpu/hart-state.js';
// @ts-ignore -- plain ESM helper without type declarations
import { buildPrograms } from '../programs/build.mjs';

const [elfPath] = (await buildPrograms({ names: ['rv64m'] })) as string[];
const elf = readFileSync(elfPath!);

/** A bus with a UART transmit register and the test finisher: enough for the test programs. */
function board() {
  const out: number[] = [];
  const state = { done: false, hart: undefined as Hart | undefined };
  const bus: PhysicalBus = {
    read: (pa) => (pa >= 0x1000_0000 && pa < 0x1000_0008 ? ((pa & 7) === 5 ? 0x60 : 0) : undefined),
    write: (pa, _w, v) => {
      if (pa === 0x1000_0000) { out.push(Number(v) & 0xff); return true; }
      if (pa >= 0x1000_0001 && pa < 0x1000_0008) return true;
      if (pa === 0x10_0000) { state.done = true; state.hart?.requestStop(); return true; }
      return false;
    },
  };
  return { bus, out, state };
}

function load(h: Hart): void {
  const dv = new DataView(elf.buffer, elf.byteOffset);
  const phoff = Number(dv.getBigUint64(32, true));
  for (let i = 0; i < dv.getUint16(56, true); i++) {
    const p = phoff + i * 56;
    const pa = Number(dv.getBigUint64(p + 24, true));
    if (dv.getUint32(p, true) !== 1 || pa < h.ramBase) continue;
    const off = Number(dv.getBigUint64(p + 8, true));
    h.ram.set(elf.subarray(off, off + Number(dv.getBigUint64(p + 32, true))), pa - h.ramBase);
  }
  h.pc = dv.getBigUint64(24, true);
}

async function hart(b: ReturnType<typeof board>): Promise<Hart> {
  const h = await Hart.create({ ramBytes: 32 << 20, bus: b.bus, clock: () => 0 });
  b.state.hart = h;
  return h;
}

function finish(h: Hart, b: ReturnType<typeof board>): void {
  for (let i = 0; i < 10_000 && !b.state.done; i++) h.run(100_000);
  expect(b.state.done).toBe(true);
}

describe('hart state', () => {
  it('restores exactly: a run split by save/restore into a new hart prints the same', async () => {
    const ref = board();
    const a = await hart(ref);
    load(a);
    finish(a, ref);

    const first = board();
    const b = await hart(first);
    load(b);
    b.run(20_000);
    const saved = JSON.parse(JSON.stringify(b.save())) as HartState; // plain data survives JSON
    const ram = b.ram.slice();

    const second = board();
    const c = await hart(second);
    c.ram.set(ram);
    c.restore(saved);
    expect(c.save()).toEqual(saved);
    finish(c, second);
    expect(Buffer.from([...first.out, ...second.out]).toString('latin1')).toBe(Buffer.from(ref.out).toString('latin1'));
    expect(ref.out.length).toBeGreaterThan(100);
  });

  it('refuses malformed state with a TypeError and changes nothing', async () => {
    const h = await hart(board());
    load(h);
    h.run(1000);
    const before = h.save();
    const valid = JSON.parse(JSON.stringify(before)) as Record<string, unknown>;
    fc.assert(
      fc.property(
        fc.oneof(
          fc.anything(),
          fc.record({ field: fc.constantFrom(...Object.keys(valid)), value: fc.anything() })
            .map(({ field, value }) => ({ ...valid, [field]: value })),
        ),
        (junk) => {
          try {
            h.restore(junk as HartState);
          } catch (e) {
            expect(e).toBeInstanceOf(TypeError);
            expect(h.save()).toEqual(before);
            return;
          }
          // Accepted only if it is a valid state; then put the original back.
          h.restore(before);
        },
      ),
      { numRuns: 300 },
    );
  });
});
