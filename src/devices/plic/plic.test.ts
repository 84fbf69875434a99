import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TypervisorError } from '../../core/errors.js';
import { Irq } from '../../cpu/hart-api.js';
import { PLIC_MAX_HARTS, PLIC_SOURCES, Plic, type PlicHart, type PlicState } from './plic.js';

class FakeHart implements PlicHart {
  mip = 0;
  calls = 0;
  setInterruptLevel(bits: number, level: boolean): void {
    this.calls++;
    this.mip = level ? this.mip | bits : this.mip & ~bits;
  }
}

const PRIORITY = (src: number) => 4 * src;
const PENDING = (word: number) => 0x1000 + 4 * word;
const ENABLE = (ctx: number, word = 0) => 0x2000 + 0x80 * ctx + 4 * word;
const THRESHOLD = (ctx: number) => 0x200000 + 0x1000 * ctx;
const CLAIM = (ctx: number) => 0x200004 + 0x1000 * ctx;

const setup = (harts = 1) => {
  const hs = Array.from({ length: harts }, () => new FakeHart());
  const plic = new Plic(hs);
  const r = (o: number) => plic.read(o, 4);
  const w = (o: number, v: number | bigint) => plic.write(o, 4, v);
  const line = (src: number) => plic.irqLine(src);
  /** Priority `prio` for `src`, enabled in context `ctx`. */
  const arm = (src: number, prio: number, ctx = 0) => {
    w(PRIORITY(src), prio);
    const word = src >>> 5;
    w(ENABLE(ctx, word), r(ENABLE(ctx, word)) | (1 << (src & 31)));
  };
  return { plic, harts: hs, r, w, line, arm };
};

describe('Plic register map (QEMU 7.2 virt)', () => {
  it('decodes 4-byte accesses only, across the whole window', () => {
    const { plic } = setup();
    expect(plic.size).toBe(0x600000);
    expect([1, 2, 4, 8].map((w) => plic.accepts(0, w as 1))).toEqual([false, false, true, false]);
    expect([1, 2, 4, 8].map((w) => plic.accepts(0x5ffffc, w as 1))).toEqual([false, false, true, false]);
  });

  it('holds priorities of sources 1..95 at 4·source, masked to 3 bits', () => {
    const { r, w } = setup();
    w(PRIORITY(1), 0xffff_ffff);
    w(PRIORITY(2), 0x7fff_ffff);
    w(PRIORITY(3), 0xc);
    w(PRIORITY(95), 3);
    expect([1, 2, 3, 95].map((s) => r(PRIORITY(s)))).toEqual([7, 7, 4, 3]);
    w(PRIORITY(0), 5); // source 0 does not exist
    w(PRIORITY(96), 5); // neither does 96
    w(0xffc, 5);
    expect([r(PRIORITY(0)), r(PRIORITY(96)), r(0xffc)]).toEqual([0, 0, 0]);
  });

  it('has three pending words, read-only', () => {
    const { r, w, line } = setup();
    line(1).set(true);
    line(40).set(true);
    line(95).set(true);
    w(PENDING(0), 0);
    expect([0, 1, 2, 3].map((i) => r(PENDING(i)))).toEqual([2, 1 << 8, 1 << 31 >>> 0, 0]);
    expect(r(0x1ffc)).toBe(0);
  });

  it('has three enable words per context, the bit of source 0 hardwired to 0', () => {
    const { r, w } = setup(2);
    w(ENABLE(0, 0), 0xffff_ffff);
    w(ENABLE(1, 2), 0x1234_5678);
    w(ENABLE(3, 1), 0x8000_0001);
    w(ENABLE(0, 3), 0xffff_ffff); // word 3 would be sources 96..127
    w(ENABLE(4, 0), 0xffff_ffff); // context 4 needs a third hart
    expect(r(ENABLE(0, 0))).toBe(0xffff_fffe);
    expect(r(ENABLE(1, 2))).toBe(0x1234_5678);
    expect(r(ENABLE(3, 1))).toBe(0x8000_0001);
    expect([r(ENABLE(0, 3)), r(ENABLE(4, 0)), r(ENABLE(0, 31))]).toEqual([0, 0, 0]);
  });

  it('has a threshold per context, masked to 3 bits, and nothing else in a context block', () => {
    const { r, w } = setup(2);
    w(THRESHOLD(0), 9);
    w(THRESHOLD(3), 0xffff_ffff);
    w(THRESHOLD(4), 5); // no such context
    w(THRESHOLD(0) + 8, 5); // reserved
    expect([0, 1, 2, 3, 4].map((c) => r(THRESHOLD(c)))).toEqual([1, 0, 0, 7, 0]);
    expect([r(THRESHOLD(0) + 8), r(THRESHOLD(0) + 0xffc), r(0x5ff000), r(0x5ff004)]).toEqual([0, 0, 0, 0]);
  });

  it('accepts wide values and bigints without throwing, using the low 32 bits', () => {
    const { r, plic } = setup();
    plic.write(PRIORITY(5), 8, 0xffff_ffff_0000_0003n);
    expect(r(PRIORITY(5))).toBe(3);
    plic.write(PRIORITY(5), 4, -1);
    expect(r(PRIORITY(5))).toBe(7);
  });
});

describe('Plic claim and complete', () => {
  it('notifies M-mode, claims the source, and re-notifies only through the gateway', () => {
    const { harts, r, w, line, arm } = setup();
    arm(10, 1);
    line(10).set(true);
    expect(harts[0]!.mip).toBe(Irq.MEIP);
    expect(r(PENDING(0))).toBe(1 << 10);
    expect(r(CLAIM(0))).toBe(10);
    expect(harts[0]!.mip).toBe(0);
    expect(r(PENDING(0))).toBe(0);
    expect(r(CLAIM(0))).toBe(0); // claimed: nothing else to give
    line(10).set(false);
    w(CLAIM(0), 10);
    expect(harts[0]!.mip).toBe(0); // the line fell before completion: no new request
    expect(r(CLAIM(0))).toBe(0);
  });

  it('forwards a new request at completion while the line stays high', () => {
    const { harts, r, w, line, arm } = setup();
    arm(7, 2);
    line(7).set(true);
    expect(r(CLAIM(0))).toBe(7);
    line(7).set(true); // repeating the level changes nothing
    expect(r(PENDING(0))).toBe(0);
    expect(harts[0]!.mip).toBe(0);
    w(CLAIM(0), 7);
    expect(r(PENDING(0))).toBe(1 << 7);
    expect(harts[0]!.mip).toBe(Irq.MEIP);
    expect(r(CLAIM(0))).toBe(7);
  });

  it('keeps a request pending when the line falls before the claim (spec §1.2)', () => {
    const { harts, r, line, arm } = setup();
    arm(3, 1);
    line(3).set(true);
    line(3).set(false);
    expect(harts[0]!.mip).toBe(Irq.MEIP);
    expect(r(CLAIM(0))).toBe(3);
  });

  it('ignores completions of sources not enabled for the context, not claimed, or out of range', () => {
    const { r, w, line, arm } = setup();
    arm(4, 1);
    line(4).set(true);
    expect(r(CLAIM(0))).toBe(4);
    w(ENABLE(0), 0);
    w(CLAIM(0), 4); // not enabled here: ignored
    w(ENABLE(0), 1 << 4);
    expect(r(CLAIM(0))).toBe(0); // still claimed
    for (const v of [0, 5, 96, 0xffff_ffff]) w(CLAIM(0), v);
    expect(r(CLAIM(0))).toBe(0);
    w(CLAIM(0), 4);
    expect(r(CLAIM(0))).toBe(4);
  });

  it('lets another context complete a source it has enabled; claims are global', () => {
    const { harts, r, w, line, arm } = setup();
    arm(9, 1, 0);
    arm(9, 1, 1);
    line(9).set(true);
    expect(harts[0]!.mip).toBe(Irq.MEIP | Irq.SEIP);
    expect(r(CLAIM(0))).toBe(9);
    expect(harts[0]!.mip).toBe(0);
    expect(r(CLAIM(1))).toBe(0);
    w(CLAIM(1), 9);
    expect(harts[0]!.mip).toBe(Irq.MEIP | Irq.SEIP);
    expect(r(CLAIM(1))).toBe(9);
  });

  it('picks the highest priority, ties going to the lowest id', () => {
    const { r, w, line, arm } = setup();
    arm(50, 3);
    arm(20, 3);
    arm(2, 1);
    arm(90, 5);
    for (const s of [50, 20, 2, 90]) line(s).set(true);
    expect([r(CLAIM(0)), r(CLAIM(0)), r(CLAIM(0)), r(CLAIM(0)), r(CLAIM(0))]).toEqual([90, 20, 50, 2, 0]);
    w(PRIORITY(2), 0);
    for (const s of [90, 20, 50, 2]) w(CLAIM(0), s);
    expect(r(CLAIM(0))).toBe(90);
  });

  it('never delivers priority 0 and masks priorities at or below the threshold, claims included', () => {
    const { harts, r, w, line, arm } = setup();
    arm(5, 0);
    line(5).set(true);
    expect(harts[0]!.mip).toBe(0);
    expect(r(CLAIM(0))).toBe(0);
    w(PRIORITY(5), 3);
    expect(harts[0]!.mip).toBe(Irq.MEIP);
    w(THRESHOLD(0), 3);
    expect(harts[0]!.mip).toBe(0);
    expect(r(CLAIM(0))).toBe(0); // QEMU 7.2 applies the threshold to claims
    w(THRESHOLD(0), 2);
    expect(harts[0]!.mip).toBe(Irq.MEIP);
    expect(r(CLAIM(0))).toBe(5);
  });

  it('re-evaluates the notification when enables change', () => {
    const { harts, w, line } = setup();
    w(PRIORITY(33), 1);
    line(33).set(true);
    expect(harts[0]!.mip).toBe(0);
    w(ENABLE(0, 1), 2);
    expect(harts[0]!.mip).toBe(Irq.MEIP);
    w(ENABLE(0, 1), 0);
    expect(harts[0]!.mip).toBe(0);
  });

  it('routes context 2·h to hart h M-mode and 2·h + 1 to its S-mode', () => {
    const { harts, r, line, arm } = setup(2);
    arm(1, 1, 3);
    line(1).set(true);
    expect(harts.map((h) => h.mip)).toEqual([0, Irq.SEIP]);
    arm(1, 1, 2);
    expect(harts.map((h) => h.mip)).toEqual([0, Irq.SEIP | Irq.MEIP]);
    expect(r(CLAIM(2))).toBe(1);
    expect(harts.map((h) => h.mip)).toEqual([0, 0]);
  });

  it('drives each hart output only when its level changes', () => {
    const { harts, line, arm } = setup();
    arm(8, 1);
    const before = harts[0]!.calls;
    line(8).set(true);
    for (let i = 0; i < 100; i++) line(8).set(true);
    line(9).set(false);
    expect(harts[0]!.calls - before).toBe(1);
  });
});

describe('Plic lines, construction and reset', () => {
  it('gives one line per source 1..95', () => {
    const { plic } = setup();
    expect(plic.irqLine(10)).toBe(plic.irqLine(10));
    for (const bad of [0, PLIC_SOURCES, -1, 1.5, NaN]) expect(() => plic.irqLine(bad)).toThrow(TypervisorError);
  });

  it('serves 1 to 512 harts', () => {
    expect(() => new Plic([])).toThrow(TypervisorError);
    expect(() => new Plic(Array.from({ length: PLIC_MAX_HARTS + 1 }, () => new FakeHart()))).toThrow(TypervisorError);
    const plic = new Plic(Array.from({ length: PLIC_MAX_HARTS }, () => new FakeHart()));
    plic.write(THRESHOLD(1023), 4, 7);
    expect(plic.read(THRESHOLD(1023), 4)).toBe(7);
  });

  it('resets registers and outputs; a line still high is requested again', () => {
    const { plic, harts, r, w, line, arm } = setup();
    arm(6, 2);
    arm(7, 2);
    w(THRESHOLD(1), 4);
    line(6).set(true);
    line(7).set(true);
    expect(r(CLAIM(0))).toBe(6);
    line(7).set(false);
    plic.reset();
    expect(harts[0]!.mip).toBe(0);
    expect([r(PRIORITY(6)), r(ENABLE(0)), r(THRESHOLD(1))]).toEqual([0, 0, 0]);
    expect(r(PENDING(0))).toBe(1 << 6);
    arm(6, 1);
    expect(r(CLAIM(0))).toBe(6);
  });
});

describe('Plic with hostile input', () => {
  const op = fc.record({
    kind: fc.constantFrom('read', 'write', 'line'),
    // Bias towards the interesting registers, but reach anywhere in the window.
    offset: fc.oneof(
      fc.nat({ max: 0x17f }).map((o) => o & ~3),
      fc.nat({ max: 0xff }).map((o) => 0x2000 + (o & ~3)),
      fc.constantFrom(0x200000, 0x200004, 0x201000, 0x201004, 0x1000, 0x1004, 0x1008),
      fc.nat({ max: 0x5ffffc }).map((o) => o & ~3),
    ),
    value: fc.oneof(fc.nat({ max: 100 }), fc.integer({ min: 0, max: 0xffff_ffff }), fc.constantFrom(-1, 2 ** 40, 1.5)),
    source: fc.integer({ min: 1, max: PLIC_SOURCES - 1 }),
    level: fc.boolean(),
  });

  /** MEIP/SEIP must equal "some enabled pending source above threshold", recomputed from registers. */
  const expectConsistent = (plic: Plic, hart: FakeHart) => {
    for (const [ctx, bit] of [[0, Irq.MEIP], [1, Irq.SEIP]] as const) {
      const th = plic.read(THRESHOLD(ctx), 4) as number;
      let any = false;
      for (let s = 1; s < PLIC_SOURCES; s++) {
        const pend = ((plic.read(PENDING(s >>> 5), 4) as number) >>> (s & 31)) & 1;
        const en = ((plic.read(ENABLE(ctx, s >>> 5), 4) as number) >>> (s & 31)) & 1;
        const p = plic.read(PRIORITY(s), 4) as number;
        expect(p).toBeLessThanOrEqual(7);
        if (pend && en && p > th) any = true;
      }
      expect((hart.mip & bit) !== 0).toBe(any);
    }
  };

  it('never throws, keeps registers in range and outputs consistent', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const { plic, harts } = setup();
        for (const o of ops) {
          if (o.kind === 'read') plic.read(o.offset, 4);
          else if (o.kind === 'write') plic.write(o.offset, 4, o.value);
          else plic.irqLine(o.source).set(o.level);
        }
        expectConsistent(plic, harts[0]!);
        // Whatever the guest did, the state saves and restores into a fresh PLIC unchanged.
        const saved = JSON.parse(JSON.stringify(plic.save())) as PlicState;
        const other = setup();
        other.plic.restore(saved);
        expect(other.plic.save()).toEqual(plic.save());
        expect(other.harts[0]!.mip).toBe(harts[0]!.mip);
      }),
      { numRuns: 300 },
    );
  });
});

describe('Plic saved state', () => {
  const busy = () => {
    const s = setup(2);
    s.arm(10, 3, 0);
    s.arm(11, 2, 3);
    s.arm(40, 1, 1);
    s.w(THRESHOLD(2), 6);
    s.line(10).set(true);
    s.line(11).set(true);
    s.line(40).set(true);
    s.line(40).set(false);
    expect(s.r(CLAIM(0))).toBe(10);
    return s;
  };

  it('round-trips, including claimed sources and line levels, and re-drives outputs', () => {
    const a = busy();
    const saved = a.plic.save();
    expect(saved.version).toBe(1);
    expect(saved.claimed).toEqual([1 << 10, 0, 0]);
    expect(saved.level).toEqual([1 << 10 | 1 << 11, 0, 0]);
    expect(saved.pending).toEqual([1 << 11, 1 << 8, 0]);
    expect(saved.threshold).toEqual([0, 0, 6, 0]);
    const b = setup(2);
    b.plic.restore(JSON.parse(JSON.stringify(saved)) as PlicState);
    expect(b.plic.save()).toEqual(saved);
    expect(b.harts.map((h) => h.mip)).toEqual([Irq.SEIP, Irq.SEIP]);
    // The restored gateway behaves as the original: completing 10 with its line high re-requests it.
    b.w(CLAIM(0), 10);
    expect(b.r(CLAIM(0))).toBe(10);
    expect(b.r(CLAIM(1))).toBe(40);
    saved.priority[10] = 0; // the saved object is the caller's: mutating it changes nothing
    expect(a.r(PRIORITY(10))).toBe(3);
  });

  it('rejects malformed state and stays unchanged', () => {
    const { plic, harts } = busy();
    const good = plic.save();
    const mip = harts.map((h) => h.mip);
    const bad: unknown[] = [
      null,
      [],
      { ...good, version: 2 },
      { ...good, extra: 1 },
      (({ level: _level, ...rest }) => rest)(good),
      { ...good, priority: good.priority.slice(1) },
      { ...good, priority: good.priority.map((p, i) => (i === 5 ? 8 : p)) },
      { ...good, priority: good.priority.map((p, i) => (i === 0 ? 1 : p)) },
      { ...good, pending: [1, 0, 0] },
      { ...good, pending: [2 ** 32, 0, 0] },
      { ...good, pending: [0.5, 0, 0] },
      { ...good, pending: ['0', 0, 0] },
      { ...good, pending: [1 << 10, 0, 0] }, // both pending and claimed
      { ...good, level: [1 << 10 | 1 << 11 | 1 << 12, 0, 0] }, // line 12 high with nothing in flight
      { ...good, enable: good.enable.slice(0, 6) },
      { ...good, enable: good.enable.map((e, i) => (i === 3 ? e | 1 : e)) },
      { ...good, threshold: [0, 0, 8, 0] },
      { ...good, threshold: [0, 0, 0] },
      { ...good, claimed: null },
    ];
    for (const s of bad) expect(() => plic.restore(s as PlicState)).toThrow(TypervisorError);
    expect(plic.save()).toEqual(good);
    expect(harts.map((h) => h.mip)).toEqual(mip);
  });

  it('survives random mutations of a saved state', () => {
    const { plic } = busy();
    const good = plic.save();
    const keys = Object.keys(good) as (keyof PlicState)[];
    fc.assert(
      fc.property(fc.constantFrom(...keys), fc.nat({ max: 200 }), fc.anything(), (key, at, value) => {
        const state = JSON.parse(JSON.stringify(good)) as Record<string, unknown>;
        const field = state[key];
        if (Array.isArray(field)) field[at % (field.length + 1)] = value;
        else state[key] = value;
        const target = setup(2).plic;
        try {
          target.restore(state as unknown as PlicState);
        } catch (e) {
          if (!(e instanceof TypervisorError)) throw e;
        }
      }),
      { numRuns: 500 },
    );
  });
});
