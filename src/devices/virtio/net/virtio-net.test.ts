import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TypervisorError } from '../../../core/errors.js';
import { RamGuestMemory } from '../../../core/guest-memory.js';
import { DriverRings } from '../queue/driver-rings.js';
import { SplitVirtqueue } from '../queue/split-virtqueue.js';
import { VIRTIO_F_VERSION_1 } from '../virtio-device.js';
import {
  NET_HDR_BYTES,
  NET_RX_PAUSE_FRAMES,
  NET_RX_PENDING_FRAMES,
  NET_RX_RESUME_FRAMES,
  VIRTIO_NET_F_CSUM,
  VIRTIO_NET_F_GUEST_CSUM,
  VIRTIO_NET_F_HOST_ECN,
  VIRTIO_NET_F_HOST_TSO4,
  VIRTIO_NET_F_HOST_TSO6,
  VIRTIO_NET_F_MAC,
  VIRTIO_NET_F_MRG_RXBUF,
  VIRTIO_NET_F_STATUS,
  VIRTIO_NET_S_LINK_UP,
  VirtioNet,
  type NetPort,
} from './virtio-net.js';
import { completeChecksum } from './internet-checksum.js';
import { buildPacket, l4ChecksumOk } from '../../../../tests/helpers/ip-packets.js';

const BASE = 0x8000_0000;
const RAM = 1 << 20;
const NEXT = 1;
const WRITE = 2;
const SIZE = 16;
// Queue areas: rx at 0x1000…, tx at 0x4000…; buffers from 0x10000.
const RX = { desc: BASE + 0x1000, driver: BASE + 0x2000, device: BASE + 0x3000 };
const TX = { desc: BASE + 0x4000, driver: BASE + 0x5000, device: BASE + 0x6000 };
const BUF = BASE + 0x10000;
const MAC = Uint8Array.of(0x52, 0x54, 0x00, 0x12, 0x34, 0x56);

class FakePort implements NetPort {
  readonly sent: Uint8Array[] = [];
  readonly flow: string[] = [];
  pause(): void {
    this.flow.push('pause');
  }
  resume(): void {
    this.flow.push('resume');
  }
  sink: { receive(frame: Uint8Array): void; resumeTx?(): void } | undefined;
  /** Frames the port takes before canSend() says no (a rate limiter's tokens). */
  budget = Infinity;
  canSend(): boolean {
    return this.sent.length < this.budget;
  }
  send(frame: Uint8Array): void {
    this.sent.push(frame);
  }
  attach(sink: { receive(frame: Uint8Array): void; resumeTx?(): void }): void {
    this.sink = sink;
  }
}

function frameOf(length: number, seed = 1): Uint8Array {
  const f = new Uint8Array(length);
  for (let i = 0; i < length; i++) f[i] = (i * 7 + seed) & 0xff;
  return f;
}

function session(options: { mergeable?: boolean; csum?: boolean; extra?: bigint } = {}) {
  const mem = new RamGuestMemory(new Uint8Array(RAM), BASE);
  const port = new FakePort();
  let wakes = 0;
  const dev = new VirtioNet(port, { mac: MAC, wake: () => void wakes++ });
  const layout = (a: typeof RX) => ({ size: SIZE, ...a, indirect: true, eventIdx: false });
  const rxq = new SplitVirtqueue(mem, layout(RX));
  const txq = new SplitVirtqueue(mem, layout(TX));
  const rx = new DriverRings(mem, SIZE, RX.desc, RX.driver, RX.device);
  const tx = new DriverRings(mem, SIZE, TX.desc, TX.driver, TX.device);
  const log: string[] = [];
  const features = (1n << VIRTIO_F_VERSION_1) | (1n << VIRTIO_NET_F_MAC) | (1n << VIRTIO_NET_F_STATUS) | (options.mergeable === false ? 0n : 1n << VIRTIO_NET_F_MRG_RXBUF) | (options.csum ? 1n << VIRTIO_NET_F_CSUM : 0n) | (options.extra ?? 0n);
  dev.activate({
    mem,
    queues: [rxq, txq],
    features,
    interrupt: {
      usedBuffer: (q) => void log.push(q === rxq ? 'rx' : 'tx'),
      configChanged: () => void log.push('config'),
      needsReset: (reason) => void log.push(`reset: ${reason}`),
    },
  });
  /** Posts receive buffers of these sizes (one descriptor each, heads 0, 1, …) at BUF + 0x2000·i. */
  const postRx = (sizes: number[], first = 0) => {
    sizes.forEach((len, k) => {
      const i = first + k;
      rx.setDesc(i, { addr: BUF + 0x2000 * i, len, flags: WRITE });
      rx.offer(i);
    });
  };
  /** Puts header + frame for transmission, split into descriptors of `split` bytes. */
  const postTx = (head: number, bytes: Uint8Array, split: number[], at = BUF + 0x40000) => {
    mem.write(at, bytes);
    let off = 0;
    split.forEach((len, k) => {
      const last = k === split.length - 1;
      tx.setDesc(head + k, { addr: at + off, len, flags: last ? 0 : NEXT, next: head + k + 1 });
      off += len;
    });
    tx.offer(head);
  };
  return { mem, port, dev, rx, tx, log, postRx, postTx, wakes: () => wakes };
}

const withHeader = (frame: Uint8Array, hdr: Partial<{ flags: number; gso: number; gsoSize: number; csumStart: number; csumOffset: number }> = {}) => {
  const b = new Uint8Array(NET_HDR_BYTES + frame.length);
  b[0] = hdr.flags ?? 0;
  b[1] = hdr.gso ?? 0;
  new DataView(b.buffer).setUint16(4, hdr.gsoSize ?? 0, true);
  new DataView(b.buffer).setUint16(6, hdr.csumStart ?? 0, true);
  new DataView(b.buffer).setUint16(8, hdr.csumOffset ?? 0, true);
  b.set(frame, NET_HDR_BYTES);
  return b;
};

describe('virtio-net (virtio 1.2 §5.1)', () => {
  it('offers CSUM, GUEST_CSUM, MAC, HOST_TSO4/6, HOST_ECN, MRG_RXBUF and STATUS, and shows the MAC and link up in its config (§5.1.4)', () => {
    const { dev } = session();
    expect(dev.type).toBe(1);
    expect(dev.features).toBe([0n, 1n, 5n, 11n, 12n, 13n, 15n, 16n].reduce((all, bit) => all | (1n << bit), 0n));
    expect(Array.from({ length: 6 }, (_, i) => dev.readConfig(i, 1))).toEqual([...MAC]);
    expect(dev.readConfig(6, 2)).toBe(VIRTIO_NET_S_LINK_UP);
    expect(dev.readConfig(0, 4)).toBe(0x12005452);
  });

  it('refuses a multicast or short MAC', () => {
    const port = new FakePort();
    expect(() => new VirtioNet(port, { mac: Uint8Array.of(1, 0, 0x5e, 0, 0, 1) })).toThrow(/multicast/);
    expect(() => new VirtioNet(port, { mac: Uint8Array.of(0x52, 0x54) })).toThrow(/6 bytes/);
  });

  it('transmits a frame spread over chained descriptors, header skipped (§5.1.6.2)', () => {
    const s = session();
    const frame = frameOf(1514);
    s.postTx(0, withHeader(frame), [NET_HDR_BYTES, 100, 1, 1413]);
    s.dev.notify(1);
    expect(s.port.sent).toHaveLength(1);
    expect(s.port.sent[0]).toEqual(frame);
    expect(s.tx.takeUsed()).toEqual([{ id: 0, len: 0 }]);
    expect(s.log).toEqual(['tx']);
    expect(s.dev.stats).toMatchObject({ txFrames: 1, txDropped: 0, malformed: 0 });
  });

  it('stops taking transmit buffers while the port cannot send, and takes them on resumeTx (rate limit back-pressure)', () => {
    const s = session();
    s.port.budget = 1;
    const frames = [frameOf(60, 1), frameOf(61, 2), frameOf(62, 3)];
    frames.forEach((f, i) => s.postTx(i * 2, withHeader(f), [NET_HDR_BYTES, f.length], BUF + 0x40000 + i * 0x1000));
    s.dev.notify(1);
    expect(s.port.sent).toEqual([frames[0]]); // the others stay in the ring, not dropped
    expect(s.tx.takeUsed()).toEqual([{ id: 0, len: 0 }]);
    s.dev.notify(1); // a notification while blocked takes nothing
    expect(s.port.sent).toHaveLength(1);
    const wakes = s.wakes();
    s.port.budget = Infinity;
    s.port.sink!.resumeTx!();
    expect(s.port.sent).toEqual(frames);
    expect(s.tx.takeUsed()).toEqual([{ id: 2, len: 0 }, { id: 4, len: 0 }]);
    expect(s.wakes()).toBe(wakes + 1);
    expect(s.dev.stats).toMatchObject({ txFrames: 3, txDropped: 0 });
  });

  it('drops and counts transmit frames that are too short, too long, carry offload flags or writable buffers', () => {
    const s = session();
    s.postTx(0, withHeader(frameOf(13)), [NET_HDR_BYTES + 13], BUF + 0x40000); // shorter than an Ethernet header
    s.postTx(1, withHeader(frameOf(65551)), [NET_HDR_BYTES + 65551], BUF + 0x50000); // too long
    s.postTx(2, withHeader(frameOf(60), { flags: 1 }), [NET_HDR_BYTES + 60], BUF + 0x70000); // NEEDS_CSUM, never negotiated
    s.postTx(3, withHeader(frameOf(60), { gso: 1 }), [NET_HDR_BYTES + 60], BUF + 0x71000); // TSO4, never negotiated
    s.postTx(4, new Uint8Array(5), [5], BUF + 0x72000); // not even a header
    s.tx.setDesc(5, { addr: BUF + 0x73000, len: NET_HDR_BYTES + 60, flags: NEXT, next: 6 });
    s.tx.setDesc(6, { addr: BUF + 0x74000, len: 16, flags: WRITE });
    s.tx.offer(5);
    s.postTx(7, withHeader(frameOf(60, 9)), [NET_HDR_BYTES + 60], BUF + 0x75000); // a good one after them
    s.dev.notify(1);
    expect(s.port.sent).toEqual([frameOf(60, 9)]);
    expect(s.tx.takeUsed().map((u) => u.id)).toEqual([0, 1, 2, 3, 4, 5, 7]);
    expect(s.dev.stats).toEqual({ txFrames: 1, txTsoPackets: 0, rxFrames: 0, rxChecksumValid: 0, txDropped: 6, rxDropped: 0, malformed: 6 });
  });

  it('completes a partial checksum (NEEDS_CSUM) as RFC 1071 computes it (§5.1.6.2)', () => {
    // RFC 1071 §3's example: the words 0001 f203 f4f5 f6f7 sum to ddf2, the checksum is 220d.
    const frame = new Uint8Array(14 + 10);
    frame.set([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7, 0, 0], 14);
    expect(completeChecksum(frame, 14, 8)).toBe(true);
    expect([frame[22], frame[23]]).toEqual([0x22, 0x0d]);
    // Through the device, with CSUM negotiated; without it the same header is malformed.
    const s = session({ csum: true });
    frame.fill(0, 22);
    s.postTx(0, withHeader(frame, { flags: 1, csumStart: 14, csumOffset: 8 }), [NET_HDR_BYTES + frame.length]);
    s.postTx(1, withHeader(frame, { flags: 1, csumStart: 14, csumOffset: 9 }), [NET_HDR_BYTES + frame.length], BUF + 0x50000); // field past the end
    s.postTx(2, withHeader(frame, { flags: 1, csumStart: 24, csumOffset: 0 }), [NET_HDR_BYTES + frame.length], BUF + 0x60000); // start past the end
    s.dev.notify(1);
    expect(s.port.sent).toHaveLength(1);
    expect([s.port.sent[0]![22], s.port.sent[0]![23]]).toEqual([0x22, 0x0d]);
    expect(s.dev.stats).toMatchObject({ txFrames: 1, malformed: 2 });
  });

  it('a completed checksum makes the range plus the driver\'s partial sum add up to ffff (property)', () => {
    const onesSum = (bytes: Uint8Array, from: number) => {
      let sum = 0;
      for (let i = from; i < bytes.length; i += 2) sum += (bytes[i]! << 8) | (bytes[i + 1] ?? 0);
      while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
      return sum;
    };
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 2000 }), fc.nat(), fc.nat(), (bytes, a, b) => {
        const start = a % (bytes.length - 2);
        if (start + 2 * Math.floor((bytes.length - start) / 2) < start + 2) return;
        // Checksum fields sit an even number of bytes after csum_start (TCP 16, UDP 6).
        const offset = 2 * (b % Math.floor((bytes.length - start) / 2));
        const partial = (bytes[start + offset]! << 8) | bytes[start + offset + 1]!;
        const frame = bytes.slice();
        expect(completeChecksum(frame, start, offset)).toBe(true);
        for (let i = 0; i < frame.length; i++) if (i !== start + offset && i !== start + offset + 1) expect(frame[i]).toBe(bytes[i]);
        let total = onesSum(frame, start) + partial;
        while (total > 0xffff) total = (total & 0xffff) + (total >>> 16);
        expect(total).toBe(0xffff);
      }),
      { numRuns: 500 },
    );
  });

  it('cuts a TSO packet into MSS-sized segments for the port when HOST_TSO4/6 are negotiated, and only then (§5.1.6.2)', () => {
    const tso = (1n << VIRTIO_NET_F_HOST_TSO4) | (1n << VIRTIO_NET_F_HOST_TSO6) | (1n << VIRTIO_NET_F_HOST_ECN);
    const s = session({ csum: true, extra: tso });
    const v4 = buildPacket({ payload: frameOf(5000), tcpFlags: 0x80 | 0x19 });
    const v6 = buildPacket({ payload: frameOf(3000), ipv6: true });
    s.postTx(0, withHeader(v4.frame, { flags: 1, gso: 1 | 0x80, gsoSize: 1448, csumStart: v4.l4, csumOffset: 16 }), [NET_HDR_BYTES, v4.frame.length], BUF + 0x40000);
    s.postTx(2, withHeader(v6.frame, { flags: 1, gso: 4, gsoSize: 1428, csumStart: v6.l4, csumOffset: 16 }), [NET_HDR_BYTES + v6.frame.length], BUF + 0x50000);
    s.postTx(3, withHeader(v6.frame, { flags: 1, gso: 1, gsoSize: 1428, csumStart: v6.l4, csumOffset: 16 }), [NET_HDR_BYTES + v6.frame.length], BUF + 0x60000); // IPv6 under TCPV4
    s.dev.notify(1);
    expect(s.port.sent.map((f, i) => f.length - (i < 4 ? v4.payloadAt : v6.payloadAt))).toEqual([1448, 1448, 1448, 656, 1428, 1428, 144]);
    for (const f of s.port.sent.slice(0, 4)) expect(l4ChecksumOk(f, v4.ip, v4.l4, f.length, false, 6)).toBe(true);
    for (const f of s.port.sent.slice(4)) expect(l4ChecksumOk(f, v6.ip, v6.l4, f.length, true, 6)).toBe(true);
    expect(s.dev.stats).toMatchObject({ txFrames: 7, txTsoPackets: 2, malformed: 1, txDropped: 1 });
    // Without the features the same packets are malformed (§5.1.6.2.1).
    const plain = session({ csum: true });
    plain.postTx(0, withHeader(v4.frame, { flags: 1, gso: 1, gsoSize: 1448, csumStart: v4.l4, csumOffset: 16 }), [NET_HDR_BYTES + v4.frame.length]);
    const noEcn = session({ csum: true, extra: 1n << VIRTIO_NET_F_HOST_TSO4 });
    noEcn.postTx(0, withHeader(v4.frame, { flags: 1, gso: 1 | 0x80, gsoSize: 1448, csumStart: v4.l4, csumOffset: 16 }), [NET_HDR_BYTES + v4.frame.length]);
    for (const other of [plain, noEcn]) {
      other.dev.notify(1);
      expect(other.port.sent).toHaveLength(0);
      expect(other.dev.stats).toMatchObject({ malformed: 1 });
    }
  });

  it('marks received frames DATA_VALID when GUEST_CSUM is negotiated and their TCP/UDP checksum is right (§5.1.6.4)', () => {
    const good = buildPacket({ payload: frameOf(300), protocol: 'udp' }).frame;
    const bad = good.slice();
    bad[bad.length - 1]! ^= 0x40;
    const flagsOf = (extra: bigint) => {
      const s = session({ extra });
      s.postRx([2048, 2048]);
      s.port.sink!.receive(good);
      s.port.sink!.receive(bad);
      const flags = [0, 1].map((i) => {
        const b = new Uint8Array(1);
        s.mem.read(BUF + 0x2000 * i, b);
        return b[0];
      });
      return { flags, stats: s.dev.stats };
    };
    expect(flagsOf(1n << VIRTIO_NET_F_GUEST_CSUM)).toMatchObject({ flags: [2, 0], stats: { rxFrames: 2, rxChecksumValid: 1 } });
    expect(flagsOf(0n)).toMatchObject({ flags: [0, 0], stats: { rxFrames: 2, rxChecksumValid: 0 } });
  });

  it('a malformed transmit chain (a loop) is a VirtqueueError for the transport (DEVICE_NEEDS_RESET)', () => {
    const s = session();
    s.tx.setDesc(0, { addr: BUF, len: 100, flags: NEXT, next: 1 });
    s.tx.setDesc(1, { addr: BUF, len: 100, flags: NEXT, next: 0 });
    s.tx.offer(0);
    expect(() => s.dev.notify(1)).toThrow(TypervisorError);
  });

  it('receives into one buffer with num_buffers 1, and wakes the hart', () => {
    const s = session();
    s.postRx([2048]);
    s.dev.notify(0); // nothing pending yet: nothing used
    expect(s.log).toEqual([]);
    const frame = frameOf(1000);
    s.port.sink!.receive(frame);
    expect(s.rx.takeUsed()).toEqual([{ id: 0, len: NET_HDR_BYTES + 1000 }]);
    const got = new Uint8Array(NET_HDR_BYTES + 1000);
    s.mem.read(BUF, got);
    expect([...got.subarray(0, NET_HDR_BYTES)]).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
    expect(got.subarray(NET_HDR_BYTES)).toEqual(frame);
    expect(s.log).toEqual(['rx']);
    expect(s.wakes()).toBe(1);
    expect(s.dev.stats.rxFrames).toBe(1);
  });

  it('spreads a frame over several mergeable buffers, num_buffers in the first (§5.1.6.4)', () => {
    const s = session();
    s.postRx([1000, 1000, 1000, 1000]);
    const frame = frameOf(2500);
    s.port.sink!.receive(frame);
    expect(s.rx.takeUsed()).toEqual([
      { id: 0, len: 1000 },
      { id: 1, len: 1000 },
      { id: 2, len: NET_HDR_BYTES + 2500 - 2000 },
    ]);
    const all = new Uint8Array(NET_HDR_BYTES + 2500);
    for (let i = 0; i < 3; i++) {
      const part = new Uint8Array(i < 2 ? 1000 : NET_HDR_BYTES + 500);
      s.mem.read(BUF + 0x2000 * i, part);
      all.set(part, 1000 * i);
    }
    expect(new DataView(all.buffer).getUint16(10, true)).toBe(3);
    expect(all.subarray(NET_HDR_BYTES)).toEqual(frame);
    // The fourth buffer stays with the device for the next frame.
    s.port.sink!.receive(frameOf(100, 3));
    expect(s.rx.takeUsed()).toEqual([{ id: 3, len: NET_HDR_BYTES + 100 }]);
  });

  it('holds frames until the driver posts buffers, and waits when a frame needs more buffers than posted', () => {
    const s = session();
    s.port.sink!.receive(frameOf(1500, 1));
    s.port.sink!.receive(frameOf(60, 2));
    expect(s.log).toEqual([]);
    s.postRx([1024]); // not enough for the first frame alone
    s.dev.notify(0);
    expect(s.rx.takeUsed()).toEqual([]);
    s.postRx([1024, 1024], 1);
    s.dev.notify(0);
    expect(s.rx.takeUsed()).toEqual([
      { id: 0, len: 1024 },
      { id: 1, len: NET_HDR_BYTES + 1500 - 1024 },
      { id: 2, len: NET_HDR_BYTES + 60 },
    ]);
    expect(s.dev.stats).toMatchObject({ rxFrames: 2, rxDropped: 0 });
  });

  it('without MRG_RXBUF, a frame too big for the buffer is dropped and the buffer kept', () => {
    const s = session({ mergeable: false });
    s.postRx([100]);
    s.port.sink!.receive(frameOf(200));
    s.port.sink!.receive(frameOf(80, 5));
    expect(s.rx.takeUsed()).toEqual([{ id: 0, len: NET_HDR_BYTES + 80 }]);
    expect(s.dev.stats).toMatchObject({ rxFrames: 1, rxDropped: 1 });
  });

  it('bounds the frames it holds: past the limit it drops and counts', () => {
    const s = session();
    for (let i = 0; i < NET_RX_PENDING_FRAMES + 10; i++) s.port.sink!.receive(frameOf(60, i));
    expect(s.dev.stats.rxDropped).toBe(10);
    // Frames of bad size from the network are refused too.
    const t = session();
    t.postRx([2048]);
    t.port.sink!.receive(new Uint8Array(10));
    t.port.sink!.receive(new Uint8Array(70000));
    expect(t.rx.takeUsed()).toEqual([]);
    expect(t.dev.stats).toMatchObject({ rxDropped: 2, malformed: 2 });
  });

  it('pauses the backend while frames pile up and resumes it once the driver drained them', () => {
    const s = session({ mergeable: false });
    for (let i = 0; i < NET_RX_PAUSE_FRAMES - 1; i++) s.port.sink!.receive(frameOf(60, i));
    expect(s.port.flow).toEqual(['resume']);
    s.port.flow.length = 0;
    s.port.sink!.receive(frameOf(60));
    expect(s.port.flow).toEqual(['pause']);
    // Each round the driver posts SIZE buffers; the device resumes at RESUME frames left, not before.
    let left = NET_RX_PAUSE_FRAMES;
    while (left > NET_RX_RESUME_FRAMES) {
      expect(s.port.flow).toEqual(['pause']);
      s.postRx(Array(SIZE).fill(2048));
      s.dev.notify(0);
      s.rx.takeUsed();
      left -= SIZE;
    }
    expect(s.port.flow).toEqual(['pause', 'resume']);
    expect(s.dev.stats).toMatchObject({ rxFrames: NET_RX_PAUSE_FRAMES - left, rxDropped: 0 });
    // A reset drops what is held and resumes too.
    for (let i = 0; i < NET_RX_PAUSE_FRAMES; i++) s.port.sink!.receive(frameOf(60, i));
    expect(s.port.flow).toEqual(['pause', 'resume', 'pause']);
    s.dev.reset();
    expect(s.port.flow).toEqual(['pause', 'resume', 'pause', 'resume']);
    // A new device on the same backend (a rebooted board) starts it flowing.
    s.port.pause();
    new VirtioNet(s.port, { mac: MAC });
    expect(s.port.flow.at(-1)).toBe('resume');
  });

  it('a receive buffer that is device-readable or shorter than the header sets DEVICE_NEEDS_RESET', () => {
    for (const setup of [
      (s: ReturnType<typeof session>) => (s.rx.setDesc(0, { addr: BUF, len: 100 }), s.rx.offer(0)),
      (s: ReturnType<typeof session>) => (s.rx.setDesc(0, { addr: BUF, len: 8, flags: WRITE }), s.rx.offer(0)),
    ]) {
      const s = session();
      setup(s);
      s.port.sink!.receive(frameOf(60));
      expect(s.log).toHaveLength(1);
      expect(s.log[0]).toMatch(/^reset: virtio-net: a receive buffer/);
      s.port.sink!.receive(frameOf(60)); // ignored until the driver resets the device
      expect(s.log).toHaveLength(1);
    }
  });

  it('drops frames before DRIVER_OK and after a reset', () => {
    const port = new FakePort();
    const dev = new VirtioNet(port, { mac: MAC });
    port.sink!.receive(frameOf(60));
    expect(dev.stats.rxDropped).toBe(1);
    const s = session();
    s.port.sink!.receive(frameOf(60));
    s.dev.reset();
    expect(s.dev.stats.rxDropped).toBe(1);
    s.port.sink!.receive(frameOf(60));
    expect(s.dev.stats.rxDropped).toBe(2);
  });

  it('never throws anything but a TypervisorError and delivers every frame whole on garbage rings (property)', () => {
    const desc = fc.record({
      addr: fc.oneof(fc.integer({ min: BUF, max: BUF + 0x20000 }), fc.integer({ min: 0, max: 2 ** 40 })),
      len: fc.oneof(fc.integer({ min: 0, max: 3000 }), fc.nat()),
      flags: fc.integer({ min: 0, max: 7 }),
      next: fc.integer({ min: 0, max: 20 }),
    });
    fc.assert(
      fc.property(
        fc.array(desc, { minLength: SIZE, maxLength: SIZE }),
        fc.array(desc, { minLength: SIZE, maxLength: SIZE }),
        fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: SIZE }),
        fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: SIZE }),
        fc.array(fc.integer({ min: 0, max: 70000 }), { maxLength: 8 }),
        fc.boolean(),
        (rxTable, txTable, rxHeads, txHeads, frames, mergeable) => {
          const s = session({ mergeable });
          rxTable.forEach((d, i) => s.rx.setDesc(i, d));
          txTable.forEach((d, i) => s.tx.setDesc(i, d));
          rxHeads.forEach((h) => s.rx.offer(h));
          txHeads.forEach((h) => s.tx.offer(h));
          const guard = (f: () => void) => {
            try {
              f();
            } catch (e) {
              expect(e).toBeInstanceOf(TypervisorError);
            }
          };
          guard(() => s.dev.notify(1));
          for (const n of frames) s.port.sink!.receive(frameOf(n)); // never throws: faults become a reset
          guard(() => s.dev.notify(0));
          for (const f of s.port.sent) expect(f.length >= 14 && f.length <= 65550).toBe(true);
          const st = s.dev.stats;
          expect(st.rxFrames + st.rxDropped).toBeLessThanOrEqual(frames.length);
        },
      ),
      { numRuns: 300 },
    );
  });
});
