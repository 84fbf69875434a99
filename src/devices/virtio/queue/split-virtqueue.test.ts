import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TypervisorError } from '../../../core/errors.js';
import { RamGuestMemory } from '../../../core/guest-memory.js';
import { DriverRings } from './driver-rings.js';
import { MAX_INDIRECT_DESCRIPTORS, SplitVirtqueue, type SplitVirtqueueLayout } from './split-virtqueue.js';
import { VirtqueueError } from './virtqueue-error.js';

const BASE = 0x8000_0000;
const RAM = 64 * 1024;
const NEXT = 1;
const WRITE = 2;
const INDIRECT = 4;
// Queue areas and data buffers inside a 64 KiB RAM.
const DESC = BASE + 0x1000;
const DRIVER = BASE + 0x2000;
const DEVICE = BASE + 0x3000;
const DATA = BASE + 0x8000;

function setup(o: Partial<SplitVirtqueueLayout> = {}) {
  const mem = new RamGuestMemory(new Uint8Array(RAM), BASE);
  const layout: SplitVirtqueueLayout = { size: 8, desc: DESC, driver: DRIVER, device: DEVICE, indirect: true, eventIdx: false, ...o };
  const q = new SplitVirtqueue(mem, layout);
  const d = new DriverRings(mem, layout.size, layout.desc, layout.driver, layout.device);
  return { mem, q, d };
}

const refused = (f: () => unknown, what: RegExp) => expect(f).toThrow(what);

describe('SplitVirtqueue (virtio 1.2 §2.7)', () => {
  it('checks the layout: power-of-2 size, alignment, areas in RAM', () => {
    const mem = new RamGuestMemory(new Uint8Array(RAM), BASE);
    const ok: SplitVirtqueueLayout = { size: 8, desc: DESC, driver: DRIVER, device: DEVICE, indirect: false, eventIdx: false };
    expect(() => new SplitVirtqueue(mem, ok)).not.toThrow();
    for (const size of [0, 3, 65536, 1.5]) refused(() => new SplitVirtqueue(mem, { ...ok, size }), /power of 2/);
    refused(() => new SplitVirtqueue(mem, { ...ok, desc: DESC + 8 }), /descriptor table .* 16-byte aligned/);
    refused(() => new SplitVirtqueue(mem, { ...ok, driver: DRIVER + 1 }), /available ring .* 2-byte aligned/);
    refused(() => new SplitVirtqueue(mem, { ...ok, device: DEVICE + 2 }), /used ring .* 4-byte aligned/);
    refused(() => new SplitVirtqueue(mem, { ...ok, desc: 0x1000 }), /not in RAM/);
    refused(() => new SplitVirtqueue(mem, { ...ok, device: BASE + RAM - 16 }), /used ring .* not in RAM/);
  });

  it('pops a chain of readable then writable buffers, and pushes it back to the used ring', () => {
    const { mem, q, d } = setup();
    mem.write(DATA, new TextEncoder().encode('hello'));
    d.setDesc(3, { addr: DATA, len: 5, flags: NEXT, next: 5 });
    d.setDesc(5, { addr: DATA + 0x100, len: 16, flags: WRITE });
    d.offer(3);
    const chain = q.pop()!;
    expect(chain.head).toBe(3);
    expect(chain.readable).toEqual([{ addr: DATA, len: 5 }]);
    expect(chain.writable).toEqual([{ addr: DATA + 0x100, len: 16 }]);
    const got = new Uint8Array(5);
    expect(chain.read(mem, 0, got)).toBe(5);
    expect(new TextDecoder().decode(got)).toBe('hello');
    expect(chain.write(mem, 2, Uint8Array.of(1, 2, 3))).toBe(3);
    expect(mem.readU8(DATA + 0x102)).toBe(1);
    expect(q.pop()).toBeNull();
    q.push(chain.head, 5);
    expect(d.takeUsed()).toEqual([{ id: 3, len: 5 }]);
  });

  it('wraps its 16-bit indices around the ring', () => {
    const { q, d } = setup({ size: 2 });
    d.setDesc(0, { addr: DATA, len: 1, flags: WRITE });
    for (let i = 0; i < 70_000; i++) {
      d.offer(0);
      const c = q.pop()!;
      q.push(c.head, 1);
      expect(d.takeUsed()).toEqual([{ id: 0, len: 1 }]);
    }
    expect(q.cursor()).toEqual({ lastAvail: 70_000 & 0xffff, usedIdx: 70_000 & 0xffff, signalledUsed: 0 });
  });

  it('resolves an indirect table (§2.7.5.3)', () => {
    const { q, d } = setup();
    const table = DATA + 0x1000;
    d.setDesc(0, { addr: DATA, len: 4, flags: NEXT, next: 1 }, table);
    d.setDesc(1, { addr: DATA + 0x10, len: 8, flags: WRITE | NEXT, next: 2 }, table);
    d.setDesc(2, { addr: DATA + 0x20, len: 8, flags: WRITE }, table);
    d.setDesc(4, { addr: table, len: 48, flags: INDIRECT | WRITE }); // WRITE here is ignored (§2.7.5.3.2)
    d.offer(4);
    const c = q.pop()!;
    expect(c.head).toBe(4);
    expect(c.readableBytes).toBe(4);
    expect(c.writableBytes).toBe(16);
  });

  it('refuses what a driver must not do', () => {
    const cases: [string, (d: DriverRings) => void, RegExp, Partial<SplitVirtqueueLayout>?][] = [
      ['head past the table', (d) => d.offer(8), /head descriptor 8/],
      ['next past the table', (d) => (d.setDesc(0, { addr: DATA, len: 1, flags: NEXT, next: 9 }), d.offer(0)), /next descriptor 9/],
      ['a loop', (d) => (d.setDesc(0, { addr: DATA, len: 1, flags: NEXT, next: 1 }), d.setDesc(1, { addr: DATA, len: 1, flags: NEXT, next: 0 }), d.offer(0)), /a loop/],
      ['a self loop', (d) => (d.setDesc(2, { addr: DATA, len: 1, flags: NEXT, next: 2 }), d.offer(2)), /a loop/],
      ['a buffer outside RAM', (d) => (d.setDesc(0, { addr: BASE + RAM - 4, len: 8 }), d.offer(0)), /not in RAM/],
      ['a buffer below RAM', (d) => (d.setDesc(0, { addr: 0x1000, len: 8 }), d.offer(0)), /not in RAM/],
      ['a 64-bit address', (d) => (d.setDesc(0, { addr: 0xffff_ffff_ffff_f000n, len: 8 }), d.offer(0)), /outside RAM/],
      ['readable after writable', (d) => (d.setDesc(0, { addr: DATA, len: 1, flags: WRITE | NEXT, next: 1 }), d.setDesc(1, { addr: DATA, len: 1 }), d.offer(0)), /readable buffer after a device-writable/],
      ['indirect not negotiated', (d) => (d.setDesc(0, { addr: DATA, len: 16, flags: INDIRECT }), d.offer(0)), /without VIRTIO_F_INDIRECT_DESC/, { indirect: false }],
      ['indirect with NEXT', (d) => (d.setDesc(0, { addr: DATA, len: 16, flags: INDIRECT | NEXT, next: 1 }), d.offer(0)), /VIRTQ_DESC_F_NEXT/],
      ['indirect of 20 bytes', (d) => (d.setDesc(0, { addr: DATA, len: 20, flags: INDIRECT }), d.offer(0)), /whole number/],
      ['empty indirect table', (d) => (d.setDesc(0, { addr: DATA, len: 0, flags: INDIRECT }), d.offer(0)), /whole number/],
      ['huge indirect table', (d) => (d.setDesc(0, { addr: DATA, len: 16 * (MAX_INDIRECT_DESCRIPTORS + 1), flags: INDIRECT }), d.offer(0)), /at most/],
      ['indirect table outside RAM', (d) => (d.setDesc(0, { addr: BASE + RAM - 16, len: 32, flags: INDIRECT }), d.offer(0)), /indirect table .* not in RAM/],
      ['nested indirect', (d) => (d.setDesc(0, { addr: DATA, len: 16, flags: INDIRECT }), d.setDesc(0, { addr: DATA, len: 16, flags: INDIRECT }, DATA), d.offer(0)), /inside an indirect table/],
      ['a loop inside an indirect table', (d) => (d.setDesc(0, { addr: DATA, len: 32, flags: INDIRECT }), d.setDesc(0, { addr: DATA, len: 1, flags: NEXT, next: 1 }, DATA), d.setDesc(1, { addr: DATA, len: 1, flags: NEXT, next: 0 }, DATA), d.offer(0)), /a loop/],
      ['next past an indirect table', (d) => (d.setDesc(0, { addr: DATA, len: 32, flags: INDIRECT }), d.setDesc(0, { addr: DATA, len: 1, flags: NEXT, next: 2 }, DATA), d.offer(0)), /next descriptor 2 is past the table \(2 entries\)/],
      ['avail idx too far ahead', (d) => d.setAvailIdx(9), /9 entries ahead/],
    ];
    for (const [what, drive, error, layout] of cases) {
      const { q, d } = setup(layout);
      drive(d);
      expect(() => q.pop(), what).toThrow(VirtqueueError);
      expect(() => setupAndPop(drive, layout), what).toThrow(error);
    }
    function setupAndPop(drive: (d: DriverRings) => void, layout?: Partial<SplitVirtqueueLayout>) {
      const { q, d } = setup(layout);
      drive(d);
      q.pop();
    }
  });

  it('without EVENT_IDX, interrupts unless the driver set VIRTQ_AVAIL_F_NO_INTERRUPT (§2.7.7)', () => {
    const { q, d } = setup();
    q.push(0, 0);
    expect(q.needsNotification()).toBe(true);
    d.setAvailFlags(1);
    q.push(0, 0);
    expect(q.needsNotification()).toBe(false);
  });

  it('with EVENT_IDX, interrupts only when used idx passes used_event, and publishes avail_event (§2.7.7.2, §2.7.10)', () => {
    const { q, d } = setup({ eventIdx: true });
    d.setDesc(0, { addr: DATA, len: 1, flags: WRITE });
    d.setUsedEvent(2); // "interrupt me when entry 2 is used", i.e. when used idx becomes 3
    const step = () => {
      d.offer(0);
      q.push(q.pop()!.head, 1);
      return q.needsNotification();
    };
    expect(d.availEvent()).toBe(0);
    expect([step(), step(), step(), step()]).toEqual([false, false, true, false]);
    expect(d.availEvent()).toBe(4); // the next entry the device will look at
    // Several used at once: one interrupt if used_event was crossed anywhere in between.
    d.setUsedEvent(5);
    d.offer(0);
    d.offer(0);
    d.offer(0);
    for (let c = q.pop(); c; c = q.pop()) q.push(c.head, 1);
    expect(q.needsNotification()).toBe(true);
    expect(q.needsNotification()).toBe(false); // nothing new since
  });

  it('never throws anything but a TypervisorError, nor writes outside the used ring, on garbage rings (property)', () => {
    // Random descriptor tables, available rings, indices and indirect tables; each pop either
    // returns a chain whose segments lie in RAM or throws a VirtqueueError/TypervisorError.
    const desc = fc.record({
      addr: fc.oneof(fc.constant(DATA), fc.integer({ min: BASE, max: BASE + RAM }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })),
      len: fc.oneof(fc.integer({ min: 0, max: 64 }), fc.constantFrom(16, 32, 48, 0xffff_ffff), fc.nat()),
      flags: fc.integer({ min: 0, max: 0xffff }),
      next: fc.oneof(fc.integer({ min: 0, max: 9 }), fc.integer({ min: 0, max: 0xffff })),
    });
    fc.assert(
      fc.property(
        fc.constantFrom(1, 2, 4, 8),
        fc.array(desc, { minLength: 8, maxLength: 8 }),
        fc.array(desc, { minLength: 8, maxLength: 8 }), // an indirect table at DATA
        fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.boolean(),
        fc.boolean(),
        (size, table, indirectTable, ring, availIdx, indirect, eventIdx) => {
          const { mem, q, d } = setup({ size, indirect, eventIdx });
          table.slice(0, size).forEach((t, i) => d.setDesc(i, t));
          indirectTable.forEach((t, i) => d.setDesc(i, t, DATA));
          ring.slice(0, size).forEach((head, i) => mem.writeU16(DRIVER + 4 + 2 * i, head));
          d.setAvailIdx(availIdx);
          const before = mem.bytes.slice();
          let pops = 0;
          try {
            for (let c = q.pop(); c; c = q.pop()) {
              expect(++pops).toBeLessThanOrEqual(size);
              for (const s of [...c.readable, ...c.writable]) expect(mem.contains(s.addr, s.len)).toBe(true);
              q.push(c.head, c.writableBytes);
            }
          } catch (e) {
            expect(e).toBeInstanceOf(TypervisorError);
          }
          // The device wrote only its used ring (and avail_event inside it).
          for (let i = 0; i < RAM; i++) {
            const gpa = BASE + i;
            if (gpa >= DEVICE && gpa < DEVICE + 6 + 8 * size) continue;
            if (mem.bytes[i] !== before[i]) expect.fail(`byte at ${gpa.toString(16)} changed`);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
