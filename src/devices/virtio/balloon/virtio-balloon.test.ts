import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { TypervisorError } from '../../../core/errors.js';
import { RamGuestMemory } from '../../../core/guest-memory.js';
import { DriverRings } from '../queue/driver-rings.js';
import { SplitVirtqueue } from '../queue/split-virtqueue.js';
import { BALLOON_MAX_STATS, VIRTIO_BALLOON_F_DEFLATE_ON_OOM, VIRTIO_BALLOON_F_STATS_VQ, VirtioBalloon, type VirtioBalloonOptions } from './virtio-balloon.js';

const BASE = 0x8000_0000;
const RAM = 1 << 20; // 256 pages
const PAGE = 4096;
const WRITE = 2;
/** The rings take pages 0–8; PFN lists and stats buffers live in page 9; pages 16… are the guest's to give up. */
const LIST = BASE + 9 * PAGE;
const FIRST_FREE_PFN = BASE / PAGE + 16;
const STATS_FEATURE = 1n << VIRTIO_BALLOON_F_STATS_VQ;

/** A balloon with its three queues in a 1 MiB guest whose free pages hold 0xAA. */
function session(options: VirtioBalloonOptions & { features?: bigint; activate?: boolean } = {}) {
  const mem = new RamGuestMemory(new Uint8Array(RAM), BASE);
  mem.bytes.fill(0xaa, 16 * PAGE);
  const queue = (page: number) => new SplitVirtqueue(mem, { size: 8, desc: BASE + page * PAGE, driver: BASE + (page + 1) * PAGE, device: BASE + (page + 2) * PAGE, indirect: true, eventIdx: false });
  const rings = [0, 3, 6].map((page) => new DriverRings(mem, 8, BASE + page * PAGE, BASE + (page + 1) * PAGE, BASE + (page + 2) * PAGE));
  const events: string[] = [];
  let wakes = 0;
  const balloon = new VirtioBalloon({ ...options, wake: () => wakes++ });
  const names = ['inflate', 'deflate', 'stats'];
  const queues = [queue(0), queue(3), queue(6)];
  const activation = {
    mem,
    queues,
    features: options.features ?? STATS_FEATURE,
    interrupt: {
      usedBuffer: (q: SplitVirtqueue) => events.push(`used ${names[queues.indexOf(q)]}`),
      configChanged: () => events.push('config'),
      needsReset: (r: string) => events.push(`reset: ${r}`),
    },
  };
  const activate = () => balloon.activate(activation);
  if (options.activate !== false) activate();
  let next = 0;
  /** Writes a PFN list at LIST + 1 KiB·n and offers it on queue q (0 inflate, 1 deflate). */
  const offerPfns = (q: 0 | 1, pfns: readonly number[], extraBytes = 0) => {
    const at = LIST + 1024 * (next++ % 4);
    pfns.forEach((p, i) => mem.writeU32(at + 4 * i, p >>> 0));
    const r = rings[q]!;
    r.setDesc(0, { addr: at, len: 4 * pfns.length + extraBytes });
    r.offer(0);
  };
  /** Writes stats (tag, value) at LIST and offers the buffer on statsq with descriptor `head`. */
  const offerStats = (stats: readonly [number, bigint][], head = 0, extraBytes = 0) => {
    const at = LIST + 512 * head;
    stats.forEach(([tag, val], i) => {
      mem.writeU16(at + 10 * i, tag);
      mem.writeU64(at + 10 * i + 2, val);
    });
    rings[2]!.setDesc(head, { addr: at, len: 10 * stats.length + extraBytes });
    rings[2]!.offer(head);
  };
  const page = (pfn: number) => mem.bytes.subarray(pfn * PAGE - BASE, pfn * PAGE - BASE + PAGE);
  return { mem, rings, balloon, events, wakes: () => wakes, activate, offerPfns, offerStats, page };
}

describe('virtio-balloon (virtio 1.2 §5.5)', () => {
  it('is device 5 with inflateq, deflateq and statsq, offering STATS_VQ (DEFLATE_ON_OOM only when asked)', () => {
    const b = new VirtioBalloon();
    expect([b.type, b.queueSizes.length, b.configSize, b.features]).toEqual([5, 3, 8, STATS_FEATURE]);
    expect(new VirtioBalloon({ deflateOnOom: true }).features).toBe(STATS_FEATURE | (1n << VIRTIO_BALLOON_F_DEFLATE_ON_OOM));
  });

  it('puts the target in num_pages (4 KiB pages, rounded down) and signals a configuration change once active', () => {
    const b = new VirtioBalloon({ targetBytes: 10 * PAGE + 100 });
    expect(b.readConfig(0, 4)).toBe(10);
    b.setTarget(PAGE * 3); // not active: no interrupt possible, just the value
    expect([b.readConfig(0, 4), b.targetBytes]).toEqual([3, 3 * PAGE]);
    const s = session();
    s.balloon.setTarget(64 * PAGE);
    expect([s.balloon.readConfig(0, 4), s.balloon.readConfig(0, 2), s.balloon.readConfig(1, 1)]).toEqual([64, 64, 0]);
    expect([s.events, s.wakes()]).toEqual([['config'], 1]);
    s.balloon.setTarget(64 * PAGE + 5); // same page count: nothing to tell
    expect(s.events).toEqual(['config']);
    expect(() => s.balloon.setTarget(-1)).toThrow(TypervisorError);
    expect(() => s.balloon.setTarget(0.5)).toThrow(TypervisorError);
    expect(() => s.balloon.setTarget(2 ** 46)).toThrow(/num_pages/);
  });

  it('lets the driver write actual (any width) but not num_pages', () => {
    const s = session({ targetBytes: 5 * PAGE });
    s.balloon.writeConfig(4, 4, 300);
    expect(s.balloon.actualBytes).toBe(300 * PAGE);
    s.balloon.writeConfig(6, 2, 1); // upper half
    expect(s.balloon.readConfig(4, 4)).toBe(300 + 65536);
    s.balloon.writeConfig(4, 1, 7);
    expect(s.balloon.readConfig(4, 4)).toBe((300 & ~0xff) + 7 + 65536);
    s.balloon.writeConfig(0, 4, 99);
    expect(s.balloon.readConfig(0, 4)).toBe(5);
  });

  it('zero-fills inflated pages and counts them once; deflate takes them back; PFNs outside RAM are ignored', () => {
    const s = session();
    const a = FIRST_FREE_PFN + 3;
    const b = FIRST_FREE_PFN + 100;
    s.offerPfns(0, [a, b, a, 0, 0xffff_ffff, BASE / PAGE + 256]);
    s.balloon.notify(0);
    expect(s.rings[0]!.takeUsed()).toEqual([{ id: 0, len: 0 }]);
    expect(s.events).toEqual(['used inflate']);
    expect(s.page(a).every((x) => x === 0)).toBe(true);
    expect(s.page(b).every((x) => x === 0)).toBe(true);
    expect(s.page(a + 1).every((x) => x === 0xaa)).toBe(true); // neighbours untouched
    expect(s.page(a - 1).every((x) => x === 0xaa)).toBe(true);
    expect([s.balloon.releasedBytes, s.balloon.ignoredPfns]).toEqual([2 * PAGE, 3]);
    s.offerPfns(1, [a, FIRST_FREE_PFN + 7]); // one given back, one never given
    s.balloon.notify(1);
    expect(s.rings[1]!.takeUsed()).toEqual([{ id: 0, len: 0 }]);
    expect(s.balloon.releasedBytes).toBe(PAGE);
  });

  it('ignores a trailing partial PFN', () => {
    const s = session();
    s.offerPfns(0, [FIRST_FREE_PFN], 3);
    s.balloon.notify(0);
    expect(s.balloon.releasedBytes).toBe(PAGE);
  });

  it('sets DEVICE_NEEDS_RESET for a device-writable PFN list or stats buffer', () => {
    const s = session();
    s.rings[0]!.setDesc(0, { addr: LIST, len: 8, flags: WRITE });
    s.rings[0]!.offer(0);
    s.balloon.notify(0);
    expect(s.events).toEqual([expect.stringMatching(/^reset: .*inflate buffer is device-writable/)]);
    const t = session();
    t.rings[2]!.setDesc(0, { addr: LIST, len: 20, flags: WRITE });
    t.rings[2]!.offer(0);
    t.balloon.notify(2);
    expect(t.events).toEqual([expect.stringMatching(/^reset: .*stats buffer is device-writable/)]);
  });

  it('reads the statistics posted before DRIVER_OK, holds the buffer, and returns it when fresh ones are wanted (§5.5.6.3)', async () => {
    const s = session({ activate: false });
    s.offerStats([[0, 0n], [1, 0n], [2, 17n], [3, 4242n], [4, 300n << 20n], [5, 400n << 20n], [6, 350n << 20n], [7, 12n << 20n], [99, 5n]]);
    s.activate();
    expect(s.balloon.stats()).toEqual({
      swapIn: 0,
      swapOut: 0,
      majorFaults: 17,
      minorFaults: 4242,
      freeMemory: 300 * 2 ** 20,
      totalMemory: 400 * 2 ** 20,
      availableMemory: 350 * 2 ** 20,
      diskCaches: 12 * 2 ** 20,
    });
    expect(s.rings[2]!.takeUsed()).toEqual([]); // held
    const fresh = s.balloon.refreshStats();
    expect(s.rings[2]!.takeUsed()).toEqual([{ id: 0, len: 0 }]);
    expect(s.events).toEqual(['used stats']);
    expect(s.wakes()).toBe(1);
    s.offerStats([[4, 100n], [5, 200n]], 1);
    s.balloon.notify(2);
    expect(await fresh).toEqual({ freeMemory: 100, totalMemory: 200 });
    expect(s.balloon.stats()).toEqual({ freeMemory: 100, totalMemory: 200 });
    // A second buffer while one is held: the older goes back at once.
    s.offerStats([[4, 1n]], 2);
    s.balloon.notify(2);
    expect(s.rings[2]!.takeUsed()).toEqual([{ id: 1, len: 0 }]);
  });

  it(`reads at most ${BALLOON_MAX_STATS} statistics from one buffer and ignores a partial one`, () => {
    const s = session();
    s.offerStats(Array.from({ length: 70 }, (_, i) => [i < 64 ? 3 : 4, BigInt(i)] as [number, bigint]), 0, 7);
    s.balloon.notify(2);
    expect(s.balloon.stats()).toEqual({ minorFaults: 63 });
  });

  it('forgets the balloon on reset (a new driver starts empty) and does nothing until activated again', () => {
    const s = session();
    s.offerPfns(0, [FIRST_FREE_PFN]);
    s.balloon.notify(0);
    s.balloon.writeConfig(4, 4, 1);
    s.balloon.reset();
    expect([s.balloon.releasedBytes, s.balloon.actualBytes]).toEqual([0, 0]);
    s.offerPfns(0, [FIRST_FREE_PFN + 1]);
    s.balloon.notify(0);
    expect(s.balloon.releasedBytes).toBe(0);
    s.balloon.setTarget(PAGE);
    expect(s.events).toEqual(['used inflate']);
  });
});

describe('virtio-balloon on garbage PFN lists (fast-check)', () => {
  it('releases exactly the PFNs inside RAM, zeroes only those pages, and never throws', () => {
    const pfn = fc.oneof(fc.integer({ min: FIRST_FREE_PFN, max: BASE / PAGE + 255 }), fc.nat({ max: 0xffff_ffff }));
    fc.assert(
      fc.property(fc.array(fc.array(pfn, { maxLength: 200 }), { maxLength: 4 }), fc.array(pfn, { maxLength: 50 }), fc.nat(3), (inflates, deflate, extra) => {
        const s = session();
        for (const list of inflates) {
          s.offerPfns(0, list, extra);
          s.balloon.notify(0);
        }
        s.offerPfns(1, deflate);
        s.balloon.notify(1);
        const inRam = (p: number) => p >= FIRST_FREE_PFN - 16 && p < BASE / PAGE + 256;
        const given = new Set(inflates.flat().filter(inRam));
        const kept = new Set([...given].filter((p) => !deflate.includes(p)));
        expect(s.balloon.releasedBytes).toBe(kept.size * PAGE);
        expect(s.balloon.ignoredPfns).toBe(inflates.flat().filter((p) => !inRam(p)).length + deflate.filter((p) => !inRam(p)).length);
        const wrong: number[] = [];
        for (let p = FIRST_FREE_PFN; p < BASE / PAGE + 256; p++) {
          const want = given.has(p) ? 0 : 0xaa;
          if (!s.page(p).every((x) => x === want)) wrong.push(p);
        }
        expect(wrong).toEqual([]);
        expect(s.events.filter((e) => e.startsWith('reset'))).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });

  it('turns any descriptor garbage into DEVICE_NEEDS_RESET or a guest error, never a host exception', () => {
    const desc = fc.record({
      addr: fc.oneof(fc.integer({ min: BASE, max: BASE + RAM - 1 }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })),
      len: fc.oneof(fc.nat(1000), fc.nat()),
      flags: fc.nat(7),
      next: fc.nat(10),
    });
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(2), fc.array(desc, { minLength: 8, maxLength: 8 }), fc.array(fc.nat(9), { maxLength: 4 })), { maxLength: 3 }), (queues) => {
        const s = session({ activate: false });
        for (const [q, descs, heads] of queues) {
          descs.forEach((d, i) => s.rings[q]!.setDesc(i, d));
          heads.forEach((h) => s.rings[q]!.offer(h));
        }
        s.activate(); // takes what is already there: must not throw
        for (const q of [0, 1, 2, 3]) {
          try {
            s.balloon.notify(q);
          } catch (e) {
            if (!(e instanceof TypervisorError)) throw e; // the transport turns these into DEVICE_NEEDS_RESET
          }
        }
        void s.balloon.refreshStats();
        s.balloon.setTarget(PAGE);
      }),
      { numRuns: 300 },
    );
  });
});

describe('virtio-balloon state', () => {
  it('saves target, actual, released pages and the held stats buffer; a restored device hands that buffer back', async () => {
    const a = session({ targetBytes: 3 * PAGE, activate: false });
    a.offerStats([[5, 1000n]]);
    a.activate();
    a.offerPfns(0, [FIRST_FREE_PFN + 2, FIRST_FREE_PFN, 0x10]);
    a.balloon.notify(0);
    a.balloon.writeConfig(4, 4, 2);
    const saved = a.balloon.save();
    expect(saved).toEqual({ version: 1, numPages: 3, actual: 2, released: [FIRST_FREE_PFN, FIRST_FREE_PFN + 2], statsHead: 0, ignored: 1 });
    const b = session();
    b.balloon.restore(JSON.parse(JSON.stringify(saved)));
    expect([b.balloon.targetBytes, b.balloon.actualBytes, b.balloon.releasedBytes, b.balloon.ignoredPfns]).toEqual([3 * PAGE, 2 * PAGE, 2 * PAGE, 1]);
    void b.balloon.refreshStats();
    expect(b.rings[2]!.takeUsed()).toEqual([{ id: 0, len: 0 }]);
  });

  it('refuses a damaged state and stays as it was', () => {
    const s = session({ targetBytes: PAGE });
    const good = { version: 1, numPages: 1, actual: 0, released: [], statsHead: -1, ignored: 0 };
    for (const bad of [
      { ...good, version: 0 },
      { ...good, numPages: 2 ** 32 },
      { ...good, released: [1, 1] },
      { ...good, released: [-1] },
      { ...good, statsHead: 40000 },
      { ...good, extra: true },
      { ...good, actual: undefined },
    ]) {
      expect(() => s.balloon.restore(bad as never)).toThrow(TypervisorError);
    }
    expect(s.balloon.save()).toEqual(good);
  });
});
