import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LearningSwitch } from './learning-switch.js';

const mac = (n: number) => Uint8Array.of(0x52, 0x54, 0, 0, (n >> 8) & 0xff, n & 0xff);
const BCAST = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
const frame = (dst: Uint8Array, src: Uint8Array) => {
  const f = new Uint8Array(60);
  f.set(dst, 0);
  f.set(src, 6);
  return f;
};

describe('LearningSwitch', () => {
  it('floods unknown and broadcast frames, then sends learned unicast to one port', () => {
    let t = 0;
    const sw = new LearningSwitch<string>({ now: () => t });
    for (const p of ['a', 'b', 'c']) sw.addPort(p);
    expect(sw.forward('a', frame(BCAST, mac(1))).sort()).toEqual(['b', 'c']);
    expect(sw.forward('b', frame(mac(1), mac(2)))).toEqual(['a']);
    expect(sw.forward('a', frame(mac(2), mac(1)))).toEqual(['b']);
    expect(sw.forward('c', frame(mac(9), mac(3))).sort()).toEqual(['a', 'b']); // unknown unicast
    expect(sw.forward('a', frame(Uint8Array.of(0x01, 0, 0x5e, 0, 0, 1), mac(1))).sort()).toEqual(['b', 'c']); // multicast
    // A destination on the sender's own port is filtered, not echoed.
    expect(sw.forward('a', frame(mac(1), mac(1)))).toEqual([]);
    // Ageing: after the ageing time the entry is gone and frames flood again.
    t = 300_001;
    expect(sw.forward('a', frame(mac(2), mac(1))).sort()).toEqual(['b', 'c']);
    // A port that leaves takes its addresses with it.
    sw.forward('b', frame(mac(1), mac(2)));
    sw.removePort('b');
    expect(sw.forward('a', frame(mac(2), mac(1)))).toEqual(['c']);
    expect(sw.forward('b', frame(mac(1), mac(2)))).toEqual([]); // not a port any more
  });

  it('never learns a multicast source (a guest cannot steal the broadcast address)', () => {
    const sw = new LearningSwitch<string>({ now: () => 0 });
    sw.addPort('a');
    sw.addPort('b');
    sw.forward('a', frame(mac(1), BCAST));
    expect(sw.tableSize).toBe(0);
    expect(sw.forward('b', frame(BCAST, mac(2)))).toEqual(['a']);
  });

  it('keeps at most maxEntries addresses, evicting the one seen longest ago', () => {
    let t = 0;
    const sw = new LearningSwitch<number>({ now: () => t, maxEntries: 100 });
    sw.addPort(1);
    sw.addPort(2);
    sw.forward(2, frame(BCAST, mac(50000))); // the victim, learned first
    for (let i = 0; i < 10_000; i++) {
      t++;
      sw.forward(1, frame(BCAST, mac(i)));
      expect(sw.tableSize).toBeLessThanOrEqual(100);
    }
    expect(sw.stats.evicted).toBe(10_001 - 100);
    expect(sw.forward(1, frame(mac(50000), mac(1))).length).toBe(1); // flooded (only port 2 besides)
    expect(sw.stats.flooded).toBeGreaterThan(10_000);
    // The most recent sources are still known.
    expect(sw.forward(2, frame(mac(9999), mac(50000)))).toEqual([1]);
  });

  it('property: a frame goes only to other ports of its own switch; learned unicast to exactly one', () => {
    const op = fc.record({
      sw: fc.integer({ min: 0, max: 1 }),
      port: fc.integer({ min: 0, max: 4 }),
      src: fc.integer({ min: 0, max: 7 }),
      dst: fc.oneof(fc.integer({ min: 0, max: 7 }), fc.constant(-1)),
      dt: fc.integer({ min: 0, max: 200_000 }),
    });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), fc.integer({ min: 1, max: 6 }), (ops, maxEntries) => {
        let t = 0;
        // Two switches with disjoint port names ("s0p1" vs "s1p1"); MACs may repeat across them.
        const switches = [0, 1].map(() => new LearningSwitch<string>({ now: () => t, maxEntries }));
        switches.forEach((s, i) => [0, 1, 2, 3, 4].forEach((p) => s.addPort(`s${i}p${p}`)));
        // The model: where each switch last saw each source MAC, and when.
        const model = [new Map<number, { port: string; at: number }>(), new Map<number, { port: string; at: number }>()];
        for (const o of ops) {
          t += o.dt;
          const from = `s${o.sw}p${o.port}`;
          const out = switches[o.sw]!.forward(from, frame(o.dst < 0 ? BCAST : mac(o.dst), mac(o.src)));
          expect(out).not.toContain(from);
          expect(new Set(out).size).toBe(out.length);
          for (const p of out) expect(p.startsWith(`s${o.sw}p`)).toBe(true);
          expect(switches[o.sw]!.tableSize).toBeLessThanOrEqual(maxEntries);
          const m = model[o.sw]!;
          m.delete(o.src);
          m.set(o.src, { port: from, at: t });
          while (m.size > maxEntries) m.delete(m.keys().next().value!);
          const known = o.dst >= 0 ? m.get(o.dst) : undefined;
          if (known && t - known.at <= 300_000) expect(out).toEqual(known.port === from ? [] : [known.port]);
          else {
            if (known) m.delete(o.dst); // the switch forgets an aged entry when it looks it up
            expect(out.length).toBe(4);
          }
        }
      }),
      { numRuns: 500 },
    );
  });
});
