import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { TypervisorError } from '../../../core/errors.js';
import { RamGuestMemory } from '../../../core/guest-memory.js';
import { DriverRings } from '../queue/driver-rings.js';
import { SplitVirtqueue } from '../queue/split-virtqueue.js';
import { CONSOLE_INPUT_LIMIT, VIRTIO_CONSOLE_F_EMERG_WRITE, VIRTIO_CONSOLE_F_MULTIPORT, VIRTIO_CONSOLE_F_SIZE, VirtioConsole } from './virtio-console.js';

const BASE = 0x8000_0000;
const RAM = 1 << 20;
const WRITE = 2;
const NEXT = 1;
/** Guest buffers live from here on (the rings are below). */
const DATA = BASE + 0x10000;
const SIZE_FEATURE = 1n << VIRTIO_CONSOLE_F_SIZE;

/** A console with its two queues set up in a 1 MiB guest, as a driver would after DRIVER_OK. */
function session(options: { features?: bigint; size?: { columns: number; rows: number }; activate?: boolean } = {}) {
  const mem = new RamGuestMemory(new Uint8Array(RAM), BASE);
  const queue = (at: number) => new SplitVirtqueue(mem, { size: 8, desc: at, driver: at + 0x1000, device: at + 0x2000, indirect: true, eventIdx: false });
  const rx = new DriverRings(mem, 8, BASE, BASE + 0x1000, BASE + 0x2000);
  const tx = new DriverRings(mem, 8, BASE + 0x4000, BASE + 0x5000, BASE + 0x6000);
  const events: string[] = [];
  const output: number[] = [];
  let wakes = 0;
  const con = new VirtioConsole({ output: (b) => output.push(...b), wake: () => wakes++, ...(options.size ? { size: options.size } : {}) });
  const activation = {
    mem,
    queues: [queue(BASE), queue(BASE + 0x4000)],
    features: options.features ?? SIZE_FEATURE,
    interrupt: {
      usedBuffer: (q: SplitVirtqueue) => events.push(`used ${q.layout.desc === BASE ? 'rx' : 'tx'}`),
      configChanged: () => events.push('config'),
      needsReset: (r: string) => events.push(`reset: ${r}`),
    },
  };
  const activate = () => con.activate(activation);
  if (options.activate !== false) activate();
  const text = (at: number, n: number) => new TextDecoder().decode(mem.bytes.subarray(at - BASE, at - BASE + n));
  return { mem, rx, tx, con, events, output, wakes: () => wakes, activate, text, outputText: () => new TextDecoder().decode(new Uint8Array(output)) };
}

const bytes = (s: string) => new TextEncoder().encode(s);

describe('virtio-console (virtio 1.2 §5.3)', () => {
  it('is device 3 with receiveq and transmitq, F_SIZE and F_EMERG_WRITE, no MULTIPORT', () => {
    const con = new VirtioConsole({ output: () => {}, size: { columns: 132, rows: 43 } });
    expect([con.type, con.queueSizes.length, con.configSize]).toEqual([3, 2, 12]);
    expect((con.features >> VIRTIO_CONSOLE_F_SIZE) & 1n).toBe(1n);
    expect((con.features >> VIRTIO_CONSOLE_F_EMERG_WRITE) & 1n).toBe(1n);
    expect((con.features >> VIRTIO_CONSOLE_F_MULTIPORT) & 1n).toBe(0n);
    // §5.3.4: le16 cols, le16 rows, le32 max_nr_ports, le32 emerg_wr.
    expect([con.readConfig(0, 2), con.readConfig(2, 2), con.readConfig(4, 4), con.readConfig(8, 4)]).toEqual([132, 43, 1, 0]);
    expect(con.readConfig(0, 4)).toBe(132 | (43 << 16));
    expect(con.readConfig(1, 1)).toBe(0);
  });

  it('sends what the driver transmits to the host, across segments, and returns the buffers with 0 bytes written', () => {
    const s = session();
    s.mem.write(DATA, bytes('hel'));
    s.mem.write(DATA + 0x100, bytes('lo '));
    s.mem.write(DATA + 0x200, bytes('you!'));
    s.tx.setDesc(0, { addr: DATA, len: 3, flags: NEXT, next: 1 });
    s.tx.setDesc(1, { addr: DATA + 0x100, len: 3 });
    s.tx.setDesc(2, { addr: DATA + 0x200, len: 4 });
    s.tx.offer(0);
    s.tx.offer(2);
    s.con.notify(1);
    expect(s.outputText()).toBe('hello you!');
    expect(s.tx.takeUsed()).toEqual([{ id: 0, len: 0 }, { id: 2, len: 0 }]);
    expect(s.events).toEqual(['used tx']);
  });

  it('keeps host input until the driver posts receive buffers, then fills them in order', () => {
    const { rx, con, events, text, wakes } = session();
    con.receive(bytes('abc'));
    con.receive(bytes('defgh'));
    expect(con.pendingInput).toBe(8);
    expect(events).toEqual([]);
    rx.setDesc(0, { addr: DATA, len: 5, flags: WRITE });
    rx.setDesc(1, { addr: DATA + 0x100, len: 64, flags: WRITE });
    rx.offer(0);
    rx.offer(1);
    con.notify(0);
    expect(rx.takeUsed()).toEqual([{ id: 0, len: 5 }, { id: 1, len: 3 }]);
    expect([text(DATA, 5), text(DATA + 0x100, 3)]).toEqual(['abcde', 'fgh']);
    expect(con.pendingInput).toBe(0);
    expect(events).toEqual(['used rx']);
    expect(wakes()).toBe(1);
    // A buffer stays posted while there is nothing to give: new input goes straight into it.
    rx.setDesc(2, { addr: DATA + 0x200, len: 64, flags: WRITE });
    rx.offer(2);
    con.notify(0);
    expect(rx.takeUsed()).toEqual([]);
    con.receive(bytes('x'));
    expect(rx.takeUsed()).toEqual([{ id: 2, len: 1 }]);
    expect(text(DATA + 0x200, 1)).toBe('x');
  });

  it(`drops host input beyond ${CONSOLE_INPUT_LIMIT} pending bytes`, () => {
    const { con } = session({ activate: false });
    con.receive(new Uint8Array(CONSOLE_INPUT_LIMIT - 10));
    con.receive(new Uint8Array(100));
    expect(con.pendingInput).toBe(CONSOLE_INPUT_LIMIT);
    con.receive(new Uint8Array(1));
    expect(con.pendingInput).toBe(CONSOLE_INPUT_LIMIT);
  });

  it('takes buffers made available before DRIVER_OK (input and output) at activation', () => {
    const s = session({ activate: false });
    s.con.receive(bytes('early'));
    s.rx.setDesc(0, { addr: DATA, len: 16, flags: WRITE });
    s.rx.offer(0);
    s.mem.write(DATA + 0x100, bytes('boot'));
    s.tx.setDesc(0, { addr: DATA + 0x100, len: 4 });
    s.tx.offer(0);
    s.con.notify(0); // not active yet: ignored
    s.activate();
    expect(s.outputText()).toBe('boot');
    expect(s.rx.takeUsed()).toEqual([{ id: 0, len: 5 }]);
    expect(s.text(DATA, 5)).toBe('early');
  });

  it('sets DEVICE_NEEDS_RESET for a device-writable transmit buffer or a device-readable receive buffer, without throwing', () => {
    const a = session();
    a.tx.setDesc(0, { addr: DATA, len: 4, flags: WRITE });
    a.tx.offer(0);
    a.con.notify(1);
    expect(a.events).toEqual([expect.stringMatching(/^reset: .*transmit buffer is device-writable/)]);
    const b = session();
    b.rx.setDesc(0, { addr: DATA, len: 4 });
    b.rx.offer(0);
    b.con.receive(bytes('hi'));
    expect(b.events).toEqual([expect.stringMatching(/^reset: .*receive buffer is device-readable/)]);
    // A ring that is garbage when host input arrives: reported, not thrown.
    const c = session();
    c.rx.setAvailIdx(100);
    expect(() => c.con.receive(bytes('hi'))).not.toThrow();
    expect(c.events).toEqual([expect.stringMatching(/^reset: virtqueue: available idx 100/)]);
  });

  it('tells the driver about a resize with a configuration change when F_SIZE was negotiated (§5.3.6.2)', () => {
    const s = session();
    s.con.resize(100, 30);
    expect([s.con.readConfig(0, 2), s.con.readConfig(2, 2)]).toEqual([100, 30]);
    expect(s.events).toEqual(['config']);
    s.con.resize(100, 30); // no change, no interrupt
    expect(s.events).toEqual(['config']);
    const plain = session({ features: 0n });
    plain.con.resize(80, 24);
    expect(plain.events).toEqual([]);
    expect(plain.con.readConfig(0, 2)).toBe(80);
    // A size known before the driver starts is announced at activation.
    const early = session({ size: { columns: 120, rows: 40 } });
    expect(early.events).toEqual(['config']);
    // Sizes outside le16 are clamped, nonsense is 0.
    s.con.resize(1e6, -3);
    expect([s.con.readConfig(0, 2), s.con.readConfig(2, 2)]).toEqual([0xffff, 0]);
  });

  it('prints a byte written to emerg_wr (§5.3.4) and ignores writes to the read-only fields', () => {
    const s = session();
    s.con.writeConfig(8, 4, 0x141);
    s.con.writeConfig(0, 2, 5);
    expect(s.outputText()).toBe('A');
    expect(s.con.readConfig(0, 2)).toBe(0);
  });

  it('does nothing after reset, and keeps pending input for the next driver', () => {
    const s = session();
    s.con.reset();
    s.con.receive(bytes('later'));
    s.rx.setDesc(0, { addr: DATA, len: 16, flags: WRITE });
    s.rx.offer(0);
    s.con.notify(0);
    s.con.notify(1);
    expect([s.rx.takeUsed(), s.events]).toEqual([[], []]);
    s.activate();
    expect(s.rx.takeUsed()).toEqual([{ id: 0, len: 5 }]);
  });
});

describe('virtio-console on garbage rings (fast-check)', () => {
  it('host input never throws; a notification throws nothing but guest errors (the transport resets on those)', () => {
    const desc = fc.record({
      addr: fc.oneof(fc.integer({ min: DATA, max: BASE + RAM - 1 }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })),
      len: fc.oneof(fc.nat(300), fc.nat()),
      flags: fc.nat(7),
      next: fc.nat(10),
    });
    fc.assert(
      fc.property(
        fc.array(desc, { minLength: 8, maxLength: 8 }),
        fc.array(desc, { minLength: 8, maxLength: 8 }),
        fc.array(fc.nat(9), { maxLength: 6 }),
        fc.array(fc.nat(9), { maxLength: 6 }),
        fc.uint8Array({ maxLength: 2000 }),
        fc.bigInt({ min: 0n, max: 7n }),
        (rxDescs, txDescs, rxHeads, txHeads, input, features) => {
          const s = session({ features, activate: false });
          rxDescs.forEach((d, i) => s.rx.setDesc(i, d));
          txDescs.forEach((d, i) => s.tx.setDesc(i, d));
          rxHeads.forEach((h) => s.rx.offer(h));
          txHeads.forEach((h) => s.tx.offer(h));
          s.activate(); // takes what is already available: must not throw either
          s.con.receive(input);
          s.con.resize(90, 20);
          for (const q of [0, 1, 2]) {
            try {
              s.con.notify(q);
            } catch (e) {
              if (!(e instanceof TypervisorError)) throw e;
            }
          }
          // Every used entry names a chain the driver offered, with no more bytes than given.
          for (const u of s.rx.takeUsed()) {
            expect(rxHeads).toContain(u.id);
            expect(u.len).toBeLessThanOrEqual(input.length);
          }
          for (const u of s.tx.takeUsed()) expect([u.id, u.len]).toEqual([u.id, 0]);
        },
      ),
      { numRuns: 400 },
    );
  });
});

describe('virtio-console state', () => {
  it('saves the size and pending input and restores them into a fresh device, which delivers the input', () => {
    const a = session({ activate: false, size: { columns: 90, rows: 33 } });
    a.con.receive(bytes('abc'));
    a.con.receive(bytes('def'));
    const saved = a.con.save();
    expect(saved).toEqual({ version: 1, columns: 90, rows: 33, input: [...bytes('abcdef')] });
    const b = session();
    b.rx.setDesc(0, { addr: DATA, len: 16, flags: WRITE });
    b.rx.offer(0);
    b.con.notify(0);
    b.con.restore(JSON.parse(JSON.stringify(saved)));
    expect([b.con.readConfig(0, 2), b.con.readConfig(2, 2)]).toEqual([90, 33]);
    expect(b.rx.takeUsed()).toEqual([{ id: 0, len: 6 }]);
    expect(b.text(DATA, 6)).toBe('abcdef');
  });

  it('refuses a damaged state and stays as it was', () => {
    const s = session({ size: { columns: 80, rows: 24 } });
    for (const bad of [null, { version: 2, columns: 1, rows: 1, input: [] }, { version: 1, columns: 70000, rows: 1, input: [] }, { version: 1, columns: 1, rows: 1, input: [256] }, { version: 1, columns: 1, rows: 1, input: [], x: 1 }]) {
      expect(() => s.con.restore(bad as never)).toThrow(TypervisorError);
    }
    expect(s.con.save()).toEqual({ version: 1, columns: 80, rows: 24, input: [] });
  });
});
