import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RamGuestMemory } from '../../../core/guest-memory.js';
import { DriverRings } from '../queue/driver-rings.js';
import { SplitVirtqueue } from '../queue/split-virtqueue.js';
import { VIRTIO_CONSOLE_F_MULTIPORT } from './virtio-console.js';
import { CONSOLE_DEVICE_ADD, CONSOLE_DEVICE_READY, CONSOLE_PORT_NAME, CONSOLE_PORT_OPEN, CONSOLE_PORT_READY, PIPE_PAUSE_BYTES, VirtioPipe, type PipeSource } from './virtio-pipe.js';

const BASE = 0x8000_0000;
const RAM = 4 << 20;
const WRITE = 2;
const DATA = BASE + 0x100000;
const Q = 16;

class FakeSource implements PipeSource {
  sink: { data(bytes: Uint8Array): void; end(): void } | undefined;
  flow: string[] = [];
  attach(sink: { data(bytes: Uint8Array): void; end(): void }): void {
    this.sink = sink;
  }
  pause(): void {
    this.flow.push('pause');
  }
  resume(): void {
    this.flow.push('resume');
  }
}

/** A pipe device with its four queues (port 0 rx/tx, control rx/tx), driven the way Linux's virtio_console drives them. */
function session() {
  const mem = new RamGuestMemory(new Uint8Array(RAM), BASE);
  const at = (i: number) => BASE + i * 0x4000;
  const queues = [0, 1, 2, 3].map((i) => new SplitVirtqueue(mem, { size: Q, desc: at(i), driver: at(i) + 0x1000, device: at(i) + 0x2000, indirect: true, eventIdx: false }));
  const rings = [0, 1, 2, 3].map((i) => new DriverRings(mem, Q, at(i), at(i) + 0x1000, at(i) + 0x2000));
  const events: string[] = [];
  const source = new FakeSource();
  let wakes = 0;
  const dev = new VirtioPipe(source, { name: 'typervisor.stdin', wake: () => void wakes++ });
  let next = DATA;
  /** Posts a device-writable buffer of `len` bytes on queue `q`; returns its address. */
  const post = (q: number, head: number, len: number, flags = WRITE) => {
    const addr = next;
    next += Math.max(0x100, (len + 0xff) & ~0xff);
    if (next > BASE + RAM - 0x10000) next = DATA; // reuse the area: earlier buffers were taken back
    rings[q]!.setDesc(head, { addr, len, flags });
    rings[q]!.offer(head);
    return addr;
  };
  const addrs = new Map<string, number>();
  const activate = () => {
    dev.activate({
      mem, queues, features: 1n << VIRTIO_CONSOLE_F_MULTIPORT,
      interrupt: {
        usedBuffer: (q) => void events.push(`used ${queues.indexOf(q as SplitVirtqueue)}`),
        configChanged: () => void events.push('config'),
        needsReset: (r) => void events.push(`reset: ${r}`),
      },
    });
  };
  /** The driver sends a control message on queue 3. */
  const sendControl = (head: number, event: number, value: number) => {
    const b = new Uint8Array(8);
    const v = new DataView(b.buffer);
    v.setUint32(0, 0, true);
    v.setUint16(4, event, true);
    v.setUint16(6, value, true);
    const addr = next;
    next += 0x1000;
    mem.write(addr, b);
    rings[3]!.setDesc(head, { addr, len: 8 });
    rings[3]!.offer(head);
    dev.notify(3);
  };
  /** Control messages the device wrote (buffers posted at control rx heads 0…). */
  const controls = () =>
    rings[2]!.takeUsed().map(({ id, len }) => {
      const b = mem.bytes.subarray(addrs.get(`c${id}`)! - BASE, addrs.get(`c${id}`)! - BASE + len);
      const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
      const extra = new TextDecoder().decode(b.subarray(8)).replace(/\0$/, '');
      return `${v.getUint16(4, true)}:${v.getUint16(6, true)}${extra ? `:${extra}` : ''}`;
    });
  const postControls = (n: number) => {
    for (let i = 0; i < n; i++) addrs.set(`c${i}`, post(2, i, 128));
  };
  /** The bytes of the data buffers the device used since the last call, in order. */
  const received = (_heads: number[]) =>
    rings[0]!.takeUsed().flatMap(({ id, len }) => [...mem.bytes.subarray(addrs.get(`d${id}`)! - BASE, addrs.get(`d${id}`)! - BASE + len)]);
  const postData = (heads: number[], len: number) => heads.forEach((h) => addrs.set(`d${h}`, post(0, h, len)));
  /** The handshake Linux does at probe: control buffers, DEVICE_READY, then PORT_READY for port 0; then a process opens the port. */
  const handshake = (open = true) => {
    postControls(8);
    activate();
    sendControl(0, CONSOLE_DEVICE_READY, 1);
    const added = controls();
    sendControl(1, CONSOLE_PORT_READY, 1);
    if (open) sendControl(2, CONSOLE_PORT_OPEN, 1);
    return [...added, ...controls()];
  };
  const postReadable = (head: number, len: number) => post(0, head, len, 0);
  return { dev, source, events, activate, sendControl, controls, postControls, postData, postReadable, received, handshake, wakes: () => wakes };
}

const enc = (s: string) => new TextEncoder().encode(s);

describe('virtio pipe (virtio-console MULTIPORT, one non-console port; virtio 1.2 §5.3.6.2)', () => {
  it('offers MULTIPORT and one port (max_nr_ports 1), four queues', () => {
    const s = session();
    expect(s.dev.features).toBe(1n << VIRTIO_CONSOLE_F_MULTIPORT);
    expect(s.dev.queueSizes).toHaveLength(4);
    expect(s.dev.readConfig(4, 4)).toBe(1);
  });

  it('adds port 0 on DEVICE_READY, names it and opens the host side on PORT_READY', () => {
    const s = session();
    expect(s.handshake()).toEqual([`${CONSOLE_DEVICE_ADD}:1`, `${CONSOLE_PORT_NAME}:1:typervisor.stdin`, `${CONSOLE_PORT_OPEN}:1`]);
  });

  it('delivers the bytes in order, then closes the host side only once every byte is in the guest', () => {
    const s = session();
    s.handshake();
    s.source.sink!.data(enc('hello '));
    s.source.sink!.data(enc('world'));
    s.source.sink!.end();
    expect(s.controls()).toEqual([]); // no buffers yet: the close must wait for the data
    s.postData([0], 4);
    s.postData([1, 2], 4);
    s.dev.notify(0);
    expect(new TextDecoder().decode(Uint8Array.from(s.received([0, 1, 2])))).toBe('hello world');
    expect(s.controls()).toEqual([`${CONSOLE_PORT_OPEN}:0`]);
  });

  it('holds the data until a guest process opens the port (Linux drops data on a port nobody holds open)', () => {
    const s = session();
    s.handshake(false);
    s.source.sink!.data(enc('early'));
    s.source.sink!.end();
    s.postData([0], 64);
    s.dev.notify(0);
    expect(s.received([0])).toEqual([]);
    expect(s.controls()).toEqual([]);
    s.sendControl(3, CONSOLE_PORT_OPEN, 1);
    expect(new TextDecoder().decode(Uint8Array.from(s.received([0])))).toBe('early');
    expect(s.controls()).toEqual([`${CONSOLE_PORT_OPEN}:0`]);
  });

  it('with nothing to read at PORT_READY (empty input), the host side is never opened: reads see EOF at once', () => {
    const s = session();
    s.source.sink!.end();
    expect(s.handshake()).toEqual([`${CONSOLE_DEVICE_ADD}:1`, `${CONSOLE_PORT_NAME}:1:typervisor.stdin`]);
  });

  it('pauses the source when much waits for the guest and resumes it once drained', () => {
    const s = session();
    s.handshake();
    s.source.sink!.data(new Uint8Array(PIPE_PAUSE_BYTES));
    expect(s.source.flow).toEqual(['pause']);
    s.postData([0, 1, 2, 3, 4, 5, 6, 7], 0x3000);
    s.dev.notify(0);
    expect(s.dev.pendingBytes).toBe(PIPE_PAUSE_BYTES - 8 * 0x3000); // 160 KiB: still above the resume mark
    expect(s.source.flow).toEqual(['pause']);
    s.received([]);
    s.postData([8, 9, 10, 11, 12, 13, 14, 15], 0x3000);
    s.dev.notify(0);
    expect(s.dev.pendingBytes).toBe(PIPE_PAUSE_BYTES - 16 * 0x3000); // 64 KiB
    expect(s.source.flow).toEqual(['pause', 'resume']);
  });

  it('a device-readable receive buffer sets DEVICE_NEEDS_RESET instead of throwing', () => {
    const s = session();
    s.handshake();
    s.postReadable(0, 16);
    s.source.sink!.data(enc('x'));
    expect(s.events.filter((e) => e.startsWith('reset'))).toEqual(['reset: virtio pipe: a receive buffer is device-readable or empty']);
    s.source.sink!.data(enc('y')); // the device stays quiet until the driver resets it
    expect(s.events.filter((e) => e.startsWith('reset'))).toHaveLength(1);
  });

  it('any chunking of any bytes arrives whole and in order through any buffer sizes (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { maxLength: 12 }), fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 16, maxLength: 16 }), (chunks, sizes) => {
        const s = session();
        s.handshake();
        for (const c of chunks) s.source.sink!.data(c);
        s.source.sink!.end();
        const got: number[] = [];
        let closed = false;
        // Post 16 buffers of the given sizes, take them back, repeat until the close arrives.
        for (let round = 0; round < 200 && !closed; round++) {
          const heads = sizes.map((_, i) => i);
          heads.forEach((h, i) => s.postData([h], sizes[i]!));
          s.dev.notify(0);
          got.push(...s.received(heads));
          closed = s.controls().includes(`${CONSOLE_PORT_OPEN}:0`);
        }
        expect(closed).toBe(true);
        expect(Uint8Array.from(got)).toEqual(Uint8Array.from(chunks.flatMap((c) => [...c])));
      }),
      { numRuns: 50 },
    );
  });
});
