import { describe, expect, it } from 'vitest';
import { TypervisorError } from '../../../core/errors.js';
import { RamGuestMemory } from '../../../core/guest-memory.js';
import { DriverRings } from '../queue/driver-rings.js';
import { SplitVirtqueue } from '../queue/split-virtqueue.js';
import {
  BLK_ID_BYTES,
  BLK_MAX_DISCARD_SECTORS,
  BlkStatus,
  BlkType,
  VIRTIO_BLK_F_DISCARD,
  VIRTIO_BLK_F_FLUSH,
  VIRTIO_BLK_F_RO,
  VIRTIO_BLK_F_WRITE_ZEROES,
  VirtioBlk,
  type BlkBackend,
} from './virtio-blk.js';

const BASE = 0x8000_0000;
const NEXT = 1;
const WRITE = 2;
const HDR = BASE + 0x10000; // request headers, 16 bytes each, per head
const DATA = BASE + 0x20000;
const STATUS = BASE + 0x8000; // one status byte per head

/** A disk in memory whose operations complete only when the test says so. */
class FakeDisk implements BlkBackend {
  readonly bytes: Uint8Array;
  readonly log: string[] = [];
  readonly waiting: (() => void)[] = [];
  manual = false;
  failNext = false;
  discard?: (offset: number, length: number) => Promise<void>;

  constructor(readonly capacity: number, readonly readOnly = false, withDiscard = true) {
    this.bytes = new Uint8Array(capacity);
    if (withDiscard) this.discard = (o, l) => this.op(`discard ${o}+${l}`, () => this.bytes.fill(0xdd, o, o + l));
  }

  read(offset: number, dst: Uint8Array): Promise<void> {
    return this.op(`read ${offset}+${dst.length}`, () => dst.set(this.bytes.subarray(offset, offset + dst.length)));
  }

  write(offset: number, src: Uint8Array): Promise<void> {
    if (this.readOnly) throw new Error('write reached a read-only backend');
    const copy = src.slice();
    return this.op(`write ${offset}+${src.length}`, () => this.bytes.set(copy, offset));
  }

  flush(): Promise<void> {
    return this.op('flush', () => undefined);
  }

  /** Runs the oldest waiting operation. */
  async step(): Promise<void> {
    this.waiting.shift()!();
    await settle();
  }

  private op(name: string, apply: () => void): Promise<void> {
    this.log.push(`start ${name}`);
    const fail = this.failNext;
    this.failNext = false;
    return new Promise((resolve, reject) => {
      const run = () => {
        this.log.push(`end ${name}`);
        if (fail) return reject(new TypervisorError('disk: I/O error'));
        apply();
        resolve();
      };
      if (this.manual) this.waiting.push(run);
      else queueMicrotask(run);
    });
  }
}

const settle = () => new Promise((r) => setTimeout(r, 0));

function session(disk: FakeDisk, options: ConstructorParameters<typeof VirtioBlk>[1] = {}) {
  const mem = new RamGuestMemory(new Uint8Array(40 << 20), BASE);
  const q = new SplitVirtqueue(mem, { size: 128, desc: BASE, driver: BASE + 0x1000, device: BASE + 0x2000, indirect: true, eventIdx: false });
  const d = new DriverRings(mem, 128, BASE, BASE + 0x1000, BASE + 0x2000);
  const events: string[] = [];
  let wakes = 0;
  const blk = new VirtioBlk(disk, { wake: () => wakes++, ...options });
  blk.activate({
    mem,
    queues: [q],
    features: 0n,
    interrupt: { usedBuffer: () => events.push('used'), configChanged: () => events.push('config'), needsReset: (r) => events.push(`reset: ${r}`) },
  });
  let nextDesc = 0;
  /**
   * Offers a request: header (type, sector), then `data` segments (readable for OUT-like types,
   * writable for IN), then the status byte. Returns the head.
   */
  const request = (type: number, sector: number | bigint, data: { len: number; write?: boolean; addr?: number }[] = [], o: { status?: boolean; headerLen?: number } = {}) => {
    const head = nextDesc;
    const hdr = HDR + 16 * head;
    mem.writeU32(hdr, type);
    mem.writeU32(hdr + 4, 0);
    mem.writeU64(hdr + 8, BigInt(sector));
    const descs: { addr: number; len: number; flags: number }[] = [{ addr: hdr, len: o.headerLen ?? 16, flags: 0 }];
    let at = DATA + head * 0x4000;
    for (const s of data) {
      descs.push({ addr: s.addr ?? at, len: s.len, flags: s.write ? WRITE : 0 });
      at += s.len;
    }
    if (o.status !== false) descs.push({ addr: STATUS + head, len: 1, flags: WRITE });
    descs.forEach((x, i) => d.setDesc(nextDesc + i, { ...x, flags: x.flags | (i < descs.length - 1 ? NEXT : 0), next: nextDesc + i + 1 }));
    nextDesc += descs.length;
    mem.writeU8(STATUS + head, 0xff);
    d.offer(head);
    return head;
  };
  const status = (head: number) => mem.readU8(STATUS + head);
  return { mem, d, blk, events, request, status, wakes: () => wakes };
}

describe('virtio-blk (virtio 1.2 §5.2)', () => {
  it('is device 2 with one queue; config holds capacity, size_max, seg_max, blk_size and the discard/write-zeroes limits', () => {
    const blk = new VirtioBlk(new FakeDisk(1 << 20));
    expect([blk.type, blk.queueSizes]).toEqual([2, [128]]);
    const cfg = (o: number, w: 1 | 2 | 4) => blk.readConfig(o, w);
    expect([cfg(0, 4), cfg(4, 4), cfg(8, 4), cfg(12, 4), cfg(20, 4)]).toEqual([2048, 0, 1 << 20, 126, 512]);
    expect([cfg(36, 4), cfg(40, 4), cfg(48, 4), cfg(52, 4), cfg(56, 1)]).toEqual([BLK_MAX_DISCARD_SECTORS, 1, BLK_MAX_DISCARD_SECTORS, 1, 0]);
    const f = (bit: bigint) => (blk.features >> bit) & 1n;
    expect([f(VIRTIO_BLK_F_FLUSH), f(VIRTIO_BLK_F_DISCARD), f(VIRTIO_BLK_F_WRITE_ZEROES), f(VIRTIO_BLK_F_RO)]).toEqual([1n, 1n, 1n, 0n]);
    // No discard in the backend: not offered.
    expect((new VirtioBlk(new FakeDisk(4096, false, false)).features >> VIRTIO_BLK_F_DISCARD) & 1n).toBe(0n);
  });

  it('reads and writes sectors asynchronously, filling the used ring and waking the hart at completion', async () => {
    const disk = new FakeDisk(1 << 20);
    disk.bytes.fill(0x11, 1024, 2048);
    const { mem, d, blk, events, request, status, wakes } = session(disk);
    const w = request(BlkType.OUT, 4, [{ len: 512 }]);
    mem.fill(DATA + w * 0x4000, 512, 0x77);
    const r = request(BlkType.IN, 2, [{ len: 512, write: true }, { len: 512, write: true }]);
    blk.notify(0);
    expect(d.takeUsed()).toEqual([]); // nothing completes inside the notification
    await settle();
    expect(d.takeUsed()).toEqual([{ id: w, len: 1 }, { id: r, len: 1025 }]);
    expect([status(w), status(r)]).toEqual([BlkStatus.OK, BlkStatus.OK]);
    expect([...disk.bytes.subarray(2048, 2050)]).toEqual([0x77, 0x77]);
    expect(mem.readU8(DATA + r * 0x4000) + mem.readU8(DATA + r * 0x4000 + 1023)).toBe(0x22);
    expect(events).toEqual(['used', 'used']);
    expect(wakes()).toBe(2);
  });

  it('completes requests in the order the backend finishes them', async () => {
    const disk = new FakeDisk(1 << 20);
    disk.manual = true;
    const { d, blk, request } = session(disk);
    const a = request(BlkType.IN, 0, [{ len: 512, write: true }]);
    const b = request(BlkType.IN, 8, [{ len: 512, write: true }]);
    blk.notify(0);
    await settle();
    expect(disk.log).toEqual(['start read 0+512', 'start read 4096+512']);
    disk.waiting.push(disk.waiting.shift()!); // the backend finishes the second one first
    await disk.step();
    expect(d.takeUsed()).toEqual([{ id: b, len: 513 }]);
    await disk.step();
    expect(d.takeUsed()).toEqual([{ id: a, len: 513 }]);
  });

  it('hands reads and writes to the backend inside the notification, unless a flush is outstanding', async () => {
    const disk = new FakeDisk(1 << 20);
    disk.manual = true;
    const { d, blk, request } = session(disk);
    request(BlkType.IN, 0, [{ len: 512, write: true }]);
    request(BlkType.OUT, 8, [{ len: 512 }]);
    blk.notify(0);
    // Started before notify() returned, with no turn of the event loop: the host's I/O runs
    // while the guest goes on after its notify.
    expect(disk.log).toEqual(['start read 0+512', 'start write 4096+512']);
    expect(d.takeUsed()).toEqual([]);
    request(BlkType.FLUSH, 0);
    request(BlkType.IN, 16, [{ len: 512, write: true }]);
    blk.notify(0);
    expect(disk.log).toHaveLength(2); // the flush waits for both, the read for the flush
    await disk.step();
    await disk.step();
    expect(disk.log.slice(4)).toEqual(['start flush']);
    await disk.step();
    expect(disk.log.slice(6)).toEqual(['start read 8192+512']);
    await disk.step();
    expect(d.takeUsed()).toHaveLength(4);
    // The flush is over: the next request goes straight to the backend again.
    request(BlkType.IN, 24, [{ len: 512, write: true }]);
    blk.notify(0);
    expect(disk.log.at(-1)).toBe('start read 12288+512');
  });

  it('starts a FLUSH only after every earlier request completed, and later requests after the flush', async () => {
    const disk = new FakeDisk(1 << 20);
    disk.manual = true;
    const { d, blk, request } = session(disk);
    const w = request(BlkType.OUT, 0, [{ len: 512 }]);
    const f = request(BlkType.FLUSH, 0);
    const r = request(BlkType.IN, 0, [{ len: 512, write: true }]);
    blk.notify(0);
    await settle();
    expect(disk.log).toEqual(['start write 0+512']);
    await disk.step();
    expect(disk.log.slice(1)).toEqual(['end write 0+512', 'start flush']);
    await disk.step();
    expect(disk.log.slice(3)).toEqual(['end flush', 'start read 0+512']);
    await disk.step();
    expect(d.takeUsed()).toEqual([{ id: w, len: 1 }, { id: f, len: 1 }, { id: r, len: 513 }]);
  });

  it('answers GET_ID with the 20-byte serial, NUL-padded', async () => {
    const { mem, d, blk, request, status } = session(new FakeDisk(4096), { serial: 'disk-one' });
    const h = request(BlkType.GET_ID, 0, [{ len: BLK_ID_BYTES, write: true }]);
    blk.notify(0);
    expect(d.takeUsed()).toEqual([{ id: h, len: 21 }]);
    const id = new Uint8Array(20);
    mem.read(DATA + h * 0x4000, id);
    expect(new TextDecoder().decode(id)).toBe('disk-one' + '\0'.repeat(12));
    expect(status(h)).toBe(BlkStatus.OK);
    expect(() => new VirtioBlk(new FakeDisk(4096), { serial: 'x'.repeat(21) })).toThrow(TypervisorError);
  });

  it('DISCARD and WRITE_ZEROES honour their segment limits and flags', async () => {
    const disk = new FakeDisk(1 << 20);
    disk.bytes.fill(0x55);
    const { mem, blk, request, status } = session(disk);
    const seg = (h: number, i: number, sector: number, count: number, flags: number) => {
      const at = DATA + h * 0x4000 + 16 * i;
      mem.writeU64(at, BigInt(sector));
      mem.writeU32(at + 8, count);
      mem.writeU32(at + 12, flags);
    };
    const dz = request(BlkType.DISCARD, 0, [{ len: 16 }]);
    seg(dz, 0, 2, 2, 0);
    const wz = request(BlkType.WRITE_ZEROES, 0, [{ len: 16 }]);
    seg(wz, 0, 10, 3, 1); // unmap allowed
    const two = request(BlkType.DISCARD, 0, [{ len: 32 }]); // more than max_discard_seg
    seg(two, 0, 0, 1, 0);
    seg(two, 1, 1, 1, 0);
    const badFlag = request(BlkType.DISCARD, 0, [{ len: 16 }]);
    seg(badFlag, 0, 0, 1, 1); // unmap is for WRITE_ZEROES only
    const past = request(BlkType.WRITE_ZEROES, 0, [{ len: 16 }]);
    seg(past, 0, 2047, 2, 0);
    blk.notify(0);
    await settle();
    expect([status(dz), status(wz), status(two), status(badFlag), status(past)]).toEqual([0, 0, 1, 2, 1]);
    expect([disk.bytes[1024], disk.bytes[2047], disk.bytes[2048], disk.bytes[5120], disk.bytes[6655], disk.bytes[6656]]).toEqual([0xdd, 0xdd, 0x55, 0, 0, 0x55]);
  });

  it('refuses bad requests with IOERR or UNSUPP and never calls the backend for them', async () => {
    const disk = new FakeDisk(8192);
    const { d, blk, events, request, status } = session(disk);
    const heads = [
      request(BlkType.IN, 0, [{ len: 512, write: true }], { headerLen: 8 }), // short header
      request(BlkType.IN, 16, [{ len: 512, write: true }]), // past the end (16 sectors)
      request(BlkType.IN, 15, [{ len: 1024, write: true }]), // ends past the end
      request(BlkType.IN, 2n ** 63n, [{ len: 512, write: true }]), // absurd sector
      request(BlkType.IN, 0, [{ len: 100, write: true }]), // not whole sectors
      request(BlkType.IN, 0, [{ len: 512 }]), // data in the wrong direction
      request(BlkType.OUT, 0, [{ len: 512, write: true }]), // ditto
      request(BlkType.FLUSH, 0, [{ len: 512 }]), // flush with data
      request(99, 0), // unknown type
      request(BlkType.GET_LIFETIME, 0, [{ len: 16, write: true }]), // not offered
    ];
    blk.notify(0);
    await settle();
    expect(heads.map(status)).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 2, 2]);
    expect(d.takeUsed().map((u) => u.id)).toEqual(heads);
    expect(disk.log).toEqual([]);
    expect(events).toEqual(['used']);
  });

  it('asks for a reset when a request has no status byte (nothing to report in)', () => {
    const { blk, events, request } = session(new FakeDisk(4096));
    request(BlkType.IN, 0, [], { status: false });
    blk.notify(0);
    expect(events).toEqual([expect.stringMatching(/^reset: .*status byte/)]);
  });

  it('turns a backend failure into IOERR, and the disk keeps working', async () => {
    const disk = new FakeDisk(4096);
    disk.failNext = true;
    const { blk, request, status } = session(disk);
    const a = request(BlkType.IN, 0, [{ len: 512, write: true }]);
    const b = request(BlkType.IN, 0, [{ len: 512, write: true }]);
    blk.notify(0);
    await settle();
    expect([status(a), status(b)]).toEqual([BlkStatus.IOERR, BlkStatus.OK]);
  });

  it('offers VIRTIO_BLK_F_RO for a read-only disk and answers writes with IOERR without reaching the backend', async () => {
    for (const [disk, options] of [[new FakeDisk(4096, true), {}], [new FakeDisk(4096), { readOnly: true }]] as const) {
      const { blk, request, status } = session(disk, options);
      expect((blk.features >> VIRTIO_BLK_F_RO) & 1n).toBe(1n);
      expect((blk.features >> VIRTIO_BLK_F_WRITE_ZEROES) & 1n).toBe(0n);
      const w = request(BlkType.OUT, 0, [{ len: 512 }]);
      const z = request(BlkType.WRITE_ZEROES, 0, [{ len: 16 }]);
      const r = request(BlkType.IN, 0, [{ len: 512, write: true }]);
      blk.notify(0);
      await settle();
      expect([status(w), status(z), status(r)]).toEqual([1, 1, 0]);
      expect(disk.log.filter((l) => !l.includes('read'))).toEqual([]);
    }
  });

  it('drops completions after a reset: no used-ring entry, no data into guest memory', async () => {
    const disk = new FakeDisk(4096);
    disk.manual = true;
    disk.bytes.fill(0x99);
    const { mem, d, blk, events, request } = session(disk);
    const r = request(BlkType.IN, 0, [{ len: 512, write: true }]);
    blk.notify(0);
    await settle();
    blk.reset();
    await disk.step();
    await blk.idle();
    expect([d.takeUsed(), events, mem.readU8(DATA + r * 0x4000)]).toEqual([[], [], 0]);
  });

  it('holds requests in the ring while too many bytes are in flight', async () => {
    const disk = new FakeDisk(128 << 20);
    disk.manual = true;
    const { d, blk, request } = session(disk);
    // 3 × 32 MiB reads: the first two fill the 64 MiB budget; the third waits.
    const big = [0, 1, 2].map((i) => request(BlkType.IN, i * 65536, [{ len: 32 << 20, write: true, addr: BASE + (4 << 20) }]));
    blk.notify(0);
    await settle();
    expect(disk.log.length).toBe(2);
    await disk.step();
    expect(d.takeUsed().map((u) => u.id)).toEqual([big[0]]);
    expect(disk.log.filter((l) => l.startsWith('start')).length).toBe(3);
    await disk.step();
    await disk.step();
    await blk.idle();
    expect(d.takeUsed().map((u) => u.id)).toEqual([big[1], big[2]]);
  });
});

describe('virtio-blk on garbage requests (fast-check)', () => {
  it('answers every request with a status or asks for a reset, and never throws anything but guest errors', async () => {
    const fc = await import('fast-check');
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            type: fc.oneof(fc.constantFrom(0, 1, 4, 8, 10, 11, 13, 14), fc.nat()),
            sector: fc.oneof(fc.nat(40), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })),
            headerLen: fc.oneof(fc.constant(16), fc.nat(24)),
            data: fc.array(fc.record({ len: fc.oneof(fc.constantFrom(16, 512, 1024), fc.nat(2000)), write: fc.boolean() }), { maxLength: 3 }),
            status: fc.boolean(),
            segs: fc.array(fc.tuple(fc.nat(40), fc.nat(40), fc.nat(3)), { maxLength: 2 }),
          }),
          { minLength: 1, maxLength: 8 },
        ),
        fc.boolean(),
        async (requests, readOnly) => {
          const disk = new FakeDisk(16 * 512, readOnly);
          const { mem, d, blk, events, request } = session(disk);
          const heads = requests.map((r) => {
            const h = request(r.type, r.sector, r.data, { status: r.status, headerLen: r.headerLen });
            r.segs.forEach(([sector, count, flags], i) => {
              const at = DATA + h * 0x4000 + 16 * i;
              mem.writeU64(at, BigInt(sector));
              mem.writeU32(at + 8, count);
              mem.writeU32(at + 12, flags);
            });
            return h;
          });
          try {
            blk.notify(0);
          } catch (e) {
            if (!(e instanceof TypervisorError)) throw e; // the transport turns these into DEVICE_NEEDS_RESET
            return;
          }
          await blk.idle();
          await settle();
          const used = d.takeUsed();
          if (events.some((e) => e.startsWith('reset'))) return;
          expect(used.map((u) => u.id).sort((a, b) => a - b)).toEqual([...heads].sort((a, b) => a - b));
          if (readOnly) expect(disk.log.filter((l) => /write|discard/.test(l))).toEqual([]);
        },
      ),
      { numRuns: 300 },
    );
  });
});
