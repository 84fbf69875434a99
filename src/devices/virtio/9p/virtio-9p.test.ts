import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RamGuestMemory } from '../../../core/guest-memory.js';
import { DriverRings } from '../queue/driver-rings.js';
import { SplitVirtqueue } from '../queue/split-virtqueue.js';
import { MemorySharedFileSystem } from './memory-shared-file-system.js';
import { P9Reader, P9Writer } from './p9-message.js';
import { Errno, P9, P9_NOFID } from './p9-protocol.js';
import { P9_QUEUE_SIZE, VIRTIO_9P_MOUNT_TAG, Virtio9p } from './virtio-9p.js';

const BASE = 0x8000_0000;
const NEXT = 1;
const WRITE = 2;
const OUT = BASE + 0x10000; // T-messages
const IN = BASE + 0x100000; // R-messages

function session(fs = new MemorySharedFileSystem()) {
  const mem = new RamGuestMemory(new Uint8Array(4 << 20), BASE);
  const q = new SplitVirtqueue(mem, { size: P9_QUEUE_SIZE, desc: BASE, driver: BASE + 0x1000, device: BASE + 0x2000, indirect: true, eventIdx: false });
  const d = new DriverRings(mem, P9_QUEUE_SIZE, BASE, BASE + 0x1000, BASE + 0x2000);
  const events: string[] = [];
  let wakes = 0;
  const dev = new Virtio9p(fs, { tag: 'share0', wake: () => wakes++ });
  dev.activate({
    mem,
    queues: [q],
    features: 1n << VIRTIO_9P_MOUNT_TAG,
    interrupt: { usedBuffer: () => events.push('used'), configChanged: () => events.push('config'), needsReset: (r) => events.push(`reset: ${r}`) },
  });
  /** Sends one request: the T-message split over `split` readable buffers, `room` writable bytes in two buffers. */
  const send = async (msg: Uint8Array, room = 8192, split = 2): Promise<Uint8Array | undefined> => {
    mem.write(OUT, msg);
    const cut = Math.min(msg.length, Math.max(1, Math.floor(msg.length / split)));
    d.setDesc(0, { addr: OUT, len: cut, flags: NEXT, next: 1 });
    d.setDesc(1, { addr: OUT + cut, len: msg.length - cut, flags: NEXT, next: 2 });
    d.setDesc(2, { addr: IN, len: Math.min(7, room), flags: WRITE | NEXT, next: 3 });
    d.setDesc(3, { addr: IN + 7, len: Math.max(0, room - 7), flags: WRITE });
    d.offer(0);
    dev.notify(0);
    await dev.idle();
    const used = d.takeUsed();
    if (used.length === 0) return undefined;
    expect(used).toHaveLength(1);
    const out = new Uint8Array(used[0]!.len);
    mem.read(IN, out);
    return out;
  };
  /** Makes a request available and notifies, without waiting for the answer (a 100-byte request buffer, 100 bytes of room). */
  const post = (msg: Uint8Array) => {
    mem.write(OUT, msg);
    d.setDesc(0, { addr: OUT, len: 100, flags: NEXT, next: 2 });
    d.setDesc(2, { addr: IN, len: 100, flags: WRITE });
    d.offer(0);
    dev.notify(0);
  };
  return { mem, q, d, dev, events, send, post, wakes: () => wakes };
}

const tversion = new P9Writer(P9.Tversion, 0xffff).u32(65536).string('9P2000.L').finish();

describe('virtio-9p device', () => {
  it('offers VIRTIO_9P_MOUNT_TAG and the tag in its configuration space', () => {
    const dev = new Virtio9p(new MemorySharedFileSystem(), { tag: 'data.1' });
    expect(dev.type).toBe(9);
    expect(dev.features).toBe(1n);
    expect(dev.configSize).toBe(8);
    expect(dev.readConfig(0, 2)).toBe(6);
    expect(String.fromCharCode(...[2, 3, 4, 5, 6, 7].map((i) => dev.readConfig(i, 1)))).toBe('data.1');
    expect(dev.readConfig(2, 4)).toBe(0x61746164); // 'data' little-endian
    for (const bad of ['', 'a b', 'x'.repeat(32), 'a/b']) expect(() => new Virtio9p(new MemorySharedFileSystem(), { tag: bad })).toThrow(/mount tag/);
  });

  it('answers a T-message spread over several buffers, asynchronously, and wakes the board', async () => {
    const fs = new MemorySharedFileSystem();
    fs.put('f', 'abc');
    const s = session(fs);
    const reply = (await s.send(tversion, 8192, 3))!;
    const r = new P9Reader(reply);
    expect([r.u32(), r.u8(), r.u16(), r.u32(), r.string()]).toEqual([reply.length, P9.Tversion + 1, 0xffff, 65536, '9P2000.L']);
    expect(s.events).toEqual(['used']);
    expect(s.wakes()).toBe(1);
    await s.send(new P9Writer(P9.Tattach, 1).u32(0).u32(P9_NOFID).string('').string('').u32(0).finish());
    await s.send(new P9Writer(P9.Twalk, 2).u32(0).u32(1).u16(1).string('f').finish());
    await s.send(new P9Writer(P9.Tlopen, 3).u32(1).u32(0).finish());
    const rd = new P9Reader((await s.send(new P9Writer(P9.Tread, 4).u32(1).u64(0).u32(100).finish(), 12))!);
    rd.data(7);
    expect(new TextDecoder().decode(rd.data(rd.u32()))).toBe('abc'.slice(0, 1)); // room for 1 byte of data only
  });

  it('answers a size field that disagrees with the chain with Rlerror EPROTO, keeping the tag', async () => {
    const s = session();
    const msg = tversion.slice();
    new DataView(msg.buffer).setUint32(0, 5000, true);
    const r = new P9Reader((await s.send(msg))!);
    expect([r.u32(), r.u8(), r.u16(), r.u32()]).toEqual([11, P9.Rlerror, 0xffff, Errno.EPROTO]);
  });

  it('needs a reset for a chain without a header or without room for Rlerror', async () => {
    const s = session();
    expect(await s.send(tversion, 10)).toBeUndefined();
    expect(s.events).toEqual([expect.stringMatching(/^reset: virtio-9p/)]);
    const t = session();
    expect(await t.send(Uint8Array.of(1, 2, 3), 100, 1)).toBeUndefined();
    expect(t.events[0]).toMatch(/^reset/);
  });

  it('starts a request on the file system inside the notification when none is ahead of it', async () => {
    const fs = new MemorySharedFileSystem();
    const calls: string[] = [];
    const stat = fs.stat.bind(fs);
    fs.stat = (path) => {
      calls.push(`stat /${path.join('/')}`);
      return stat(path);
    };
    const s = session(fs);
    await s.send(tversion);
    s.post(new P9Writer(P9.Tattach, 1).u32(0).u32(P9_NOFID).string('').string('').u32(0).finish());
    // No turn of the event loop yet: the host call overlaps the guest's work after its notify.
    expect(calls).toEqual(['stat /']);
    await s.dev.idle();
    expect(s.d.takeUsed()).toHaveLength(1);
  });

  it('after a reset, answers the new session only once the old session\'s files are closed', async () => {
    const fs = new MemorySharedFileSystem();
    fs.put('f', 'abc');
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const open = fs.open.bind(fs);
    fs.open = async (path, mode) => {
      const file = await open(path, mode);
      const close = file.close.bind(file);
      return Object.assign(file, { close: () => gate.then(close) }); // a slow close on the host
    };
    const s = session(fs);
    await s.send(tversion);
    await s.send(new P9Writer(P9.Tattach, 1).u32(0).u32(P9_NOFID).string('').string('').u32(0).finish());
    await s.send(new P9Writer(P9.Twalk, 2).u32(0).u32(1).u16(1).string('f').finish());
    await s.send(new P9Writer(P9.Tlopen, 3).u32(1).u32(0).finish());
    s.dev.reset();
    s.dev.activate({ mem: s.mem, queues: [s.q], features: 1n << VIRTIO_9P_MOUNT_TAG, interrupt: { usedBuffer: () => undefined, configChanged: () => undefined, needsReset: () => undefined } });
    s.mem.write(OUT, tversion);
    s.d.setDesc(0, { addr: OUT, len: tversion.length, flags: NEXT, next: 2 });
    s.d.setDesc(2, { addr: IN, len: 100, flags: WRITE });
    s.d.offer(0);
    s.dev.notify(0);
    await new Promise((r) => setTimeout(r, 0));
    expect([s.d.takeUsed(), fs.openCount]).toEqual([[], 1]); // waits behind the old session's close
    release();
    await s.dev.idle();
    expect([s.d.takeUsed().length, fs.openCount]).toEqual([1, 0]);
  });

  it('drops a request in flight at reset and closes the session', async () => {
    const s = session();
    await s.send(tversion);
    s.post(new P9Writer(P9.Tattach, 1).u32(0).u32(P9_NOFID).string('').string('').u32(0).finish());
    s.dev.reset();
    await s.dev.idle();
    expect(s.d.takeUsed()).toEqual([]);
  });

  it('closes the files a session opened on reset and on close()', async () => {
    const fs = new MemorySharedFileSystem();
    fs.put('f', 'abc');
    const s = session(fs);
    const open = async (fid: number) => {
      await s.send(new P9Writer(P9.Twalk, 2).u32(0).u32(fid).u16(1).string('f').finish());
      await s.send(new P9Writer(P9.Tlopen, 3).u32(fid).u32(0).finish());
    };
    await s.send(tversion);
    await s.send(new P9Writer(P9.Tattach, 1).u32(0).u32(P9_NOFID).string('').string('').u32(0).finish());
    await open(1);
    await open(2);
    expect(fs.openCount).toBe(2);
    await s.dev.close();
    expect(fs.openCount).toBe(0);
  });

  it('survives any chain contents: only replies or DEVICE_NEEDS_RESET, never a throw or a hang (fast-check)', async () => {
    const types = Object.values(P9);
    const message = fc.oneof(
      fc.uint8Array({ maxLength: 64 }),
      fc.tuple(fc.constantFrom(...types), fc.integer({ min: 0, max: 0xffff }), fc.uint8Array({ maxLength: 64 })).map(([t, tag, b]) => new P9Writer(t, tag).data(b).finish()),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(message, fc.integer({ min: 0, max: 300 }), fc.integer({ min: 1, max: 4 })), { minLength: 1, maxLength: 8 }), async (requests) => {
        const s = session();
        await s.send(tversion);
        for (const [m, room, split] of requests) {
          if (s.events.some((e) => e.startsWith('reset'))) break;
          const reply = await s.send(m, room, split);
          if (reply === undefined) {
            expect(s.events.at(-1)).toMatch(/^reset: /);
            continue;
          }
          const r = new P9Reader(reply);
          expect(r.u32()).toBe(reply.length);
          expect(reply.length).toBeLessThanOrEqual(room);
          const type = r.u8();
          expect(type === P9.Rlerror || (type & 1) === 1).toBe(true);
        }
      }),
      { numRuns: 200 },
    );
  });
});
