import type { GuestMemory } from '../../../core/guest-memory.js';
import { hex } from '../../../core/hex.js';
import { DescriptorChain, type BufferSegment } from './descriptor-chain.js';
import { VirtqueueError } from './virtqueue-error.js';

// Split virtqueues, virtio 1.2 §2.7. Layout in guest memory (all little-endian):
//   descriptor table  16·size bytes, 16-aligned: { addr u64, len u32, flags u16, next u16 }  §2.7.5
//   available ring    6 + 2·size, 2-aligned: flags, idx, ring[size], used_event            §2.7.6
//   used ring         6 + 8·size, 4-aligned: flags, idx, ring[size]{id u32, len u32}, avail_event §2.7.8
// Everything read from these areas is driver input: every index, length and address is checked
// before use, and the first violation throws a VirtqueueError (the transport then sets
// DEVICE_NEEDS_RESET).

const DESC_F_NEXT = 1; // §2.7.5
const DESC_F_WRITE = 2;
const DESC_F_INDIRECT = 4; // §2.7.5.3
const AVAIL_F_NO_INTERRUPT = 1; // §2.7.7

/** Largest split queue (§2.7: Queue Size ≤ 32768). */
export const MAX_QUEUE_SIZE = 32768;
/**
 * Most descriptors one indirect table may hold. §2.7.5.3 bounds it only by the driver's
 * resources; like QEMU (VIRTQUEUE_MAX_SIZE) we refuse bigger ones so a guest cannot make one
 * request walk millions of descriptors.
 */
export const MAX_INDIRECT_DESCRIPTORS = 1024;

/** Where the driver put the three areas, and the negotiated ring features. */
export interface SplitVirtqueueLayout {
  /** Queue Size: a power of 2 in [1, 32768] (§2.7). */
  readonly size: number;
  readonly desc: number;
  /** The available ring ("driver area"). */
  readonly driver: number;
  /** The used ring ("device area"). */
  readonly device: number;
  /** VIRTIO_F_INDIRECT_DESC was negotiated. */
  readonly indirect: boolean;
  /** VIRTIO_F_EVENT_IDX was negotiated. */
  readonly eventIdx: boolean;
}

/** The device's side of the rings, for snapshots: plain 16-bit counters. */
export interface SplitVirtqueueCursor {
  /** Next available-ring entry the device will take. */
  readonly lastAvail: number;
  /** The used ring's idx as the device last wrote it. */
  readonly usedIdx: number;
  /** used idx when the device last decided whether to interrupt (§2.7.7.2). */
  readonly signalledUsed: number;
}

/**
 * The device side of one split virtqueue over guest memory. Create it at DRIVER_OK (the
 * constructor checks the layout); `pop` takes the next request, `push` returns it, and
 * `needsNotification` says whether the driver wants an interrupt for what was pushed.
 */
export class SplitVirtqueue {
  private lastAvail: number;
  private usedIdx: number;
  private signalledUsed: number;

  /**
   * @throws VirtqueueError when the size is not a power of 2 in [1, 32768], an area is
   *   misaligned (§2.7 "Virtqueue Part Alignment") or not wholly inside RAM, or a cursor is not
   *   a 16-bit integer.
   */
  constructor(
    private readonly mem: GuestMemory,
    readonly layout: SplitVirtqueueLayout,
    cursor: SplitVirtqueueCursor = { lastAvail: 0, usedIdx: 0, signalledUsed: 0 },
  ) {
    const { size, desc, driver, device } = layout;
    if (!Number.isInteger(size) || size < 1 || size > MAX_QUEUE_SIZE || (size & (size - 1)) !== 0) {
      throw new VirtqueueError(`queue size ${size} is not a power of 2 from 1 to ${MAX_QUEUE_SIZE}`);
    }
    area('descriptor table', desc, 16 * size, 16);
    area('available ring', driver, 6 + 2 * size, 2);
    area('used ring', device, 6 + 8 * size, 4);
    for (const [k, v] of Object.entries(cursor)) {
      if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new VirtqueueError(`${k} ${v} is not a 16-bit index`);
    }
    this.lastAvail = cursor.lastAvail;
    this.usedIdx = cursor.usedIdx;
    this.signalledUsed = cursor.signalledUsed;

    function area(what: string, addr: number, bytes: number, align: number): void {
      if (!Number.isSafeInteger(addr) || addr % align !== 0) throw new VirtqueueError(`${what} at ${hex(addr)} is not ${align}-byte aligned`);
      if (!mem.contains(addr, bytes)) throw new VirtqueueError(`${what} at ${hex(addr)} (${bytes} bytes) is not in RAM`);
    }
  }

  get size(): number {
    return this.layout.size;
  }

  /** The device's counters, for a snapshot. */
  cursor(): SplitVirtqueueCursor {
    return { lastAvail: this.lastAvail, usedIdx: this.usedIdx, signalledUsed: this.signalledUsed };
  }

  /**
   * Takes the next descriptor chain from the available ring (§2.7.6), or null when the driver
   * has made none available. With EVENT_IDX, also publishes avail_event = the next index the
   * device will look at, so the driver notifies when it adds one (§2.7.10).
   * @throws VirtqueueError for a malformed ring or chain.
   */
  pop(): DescriptorChain | null {
    const { size, driver, device, eventIdx } = this.layout;
    const availIdx = this.mem.readU16(driver + 2);
    const pending = (availIdx - this.lastAvail) & 0xffff;
    // §2.7.6: the ring holds Queue Size entries, so no more can be outstanding (QEMU, too,
    // treats a larger jump as a driver error).
    if (pending > size) throw new VirtqueueError(`available idx ${availIdx} is ${pending} entries ahead of the device (queue size ${size})`);
    if (pending === 0) {
      if (eventIdx) this.mem.writeU16(device + 4 + 8 * size, this.lastAvail);
      return null;
    }
    const head = this.mem.readU16(driver + 4 + 2 * (this.lastAvail & (size - 1)));
    this.lastAvail = (this.lastAvail + 1) & 0xffff;
    if (eventIdx) this.mem.writeU16(device + 4 + 8 * size, this.lastAvail);
    return this.chain(head);
  }

  /**
   * Returns chain `head` to the driver with `written` bytes written into its writable buffers
   * (§2.7.8: the used ring entry, then idx).
   */
  push(head: number, written: number): void {
    const { size, device } = this.layout;
    const slot = device + 4 + 8 * (this.usedIdx & (size - 1));
    this.mem.writeU32(slot, head);
    this.mem.writeU32(slot + 4, written);
    this.usedIdx = (this.usedIdx + 1) & 0xffff;
    this.mem.writeU16(device + 2, this.usedIdx);
  }

  /**
   * Whether to interrupt the driver for the buffers pushed since the last call (§2.7.7.2):
   * without EVENT_IDX unless the driver set VIRTQ_AVAIL_F_NO_INTERRUPT; with it, when the used
   * idx moved past used_event since the last call (vring_need_event's arithmetic, mod 2^16).
   */
  needsNotification(): boolean {
    const { size, driver, eventIdx } = this.layout;
    if (!eventIdx) return (this.mem.readU16(driver) & AVAIL_F_NO_INTERRUPT) === 0;
    const event = this.mem.readU16(driver + 4 + 2 * size);
    const old = this.signalledUsed;
    const now = this.usedIdx;
    this.signalledUsed = now;
    return ((now - event - 1) & 0xffff) < ((now - old) & 0xffff);
  }

  /**
   * Walks the chain starting at descriptor `head` (§2.7.5), resolving one indirect table
   * (§2.7.5.3), and checks every rule a device can check: indices in range, no more descriptors
   * than the table holds (which also catches loops), buffers in RAM, readable before writable,
   * indirect only when negotiated, never nested, never combined with NEXT, a whole number of
   * descriptors long.
   */
  private chain(head: number): DescriptorChain {
    const { size, desc, indirect: indirectAllowed } = this.layout;
    const readable: BufferSegment[] = [];
    const writable: BufferSegment[] = [];
    let table = desc;
    let count = size;
    let index = head;
    let steps = 0;
    let inIndirect = false;
    if (head >= size) throw new VirtqueueError(`head descriptor ${head} is past the table (${size} entries)`);
    for (;;) {
      if (++steps > count) throw new VirtqueueError(`descriptor chain from ${head} is longer than its table (${count} entries): a loop?`);
      const d = table + 16 * index;
      // addr as two u32 halves: no BigInt per descriptor. A high half of 2^21 or more is past
      // 2^53, outside any RAM we can have.
      const high = this.mem.readU32(d + 4);
      const addr = high * 2 ** 32 + this.mem.readU32(d);
      const len = this.mem.readU32(d + 8);
      const flags = this.mem.readU16(d + 12);
      const next = this.mem.readU16(d + 14);
      if (high >= 2 ** 21) throw new VirtqueueError(`descriptor ${index} points at ${hex((BigInt(high) << 32n) | BigInt(this.mem.readU32(d)))}, outside RAM`);
      if (flags & DESC_F_INDIRECT) {
        if (!indirectAllowed) throw new VirtqueueError('indirect descriptor without VIRTIO_F_INDIRECT_DESC'); // §2.7.5.3.1
        if (inIndirect) throw new VirtqueueError('indirect descriptor inside an indirect table'); // §2.7.5.3.1
        if (flags & DESC_F_NEXT) throw new VirtqueueError('indirect descriptor with VIRTQ_DESC_F_NEXT'); // §2.7.5.3.1
        if (len === 0 || len % 16 !== 0) throw new VirtqueueError(`indirect table of ${len} bytes is not a whole number of descriptors`);
        if (len / 16 > MAX_INDIRECT_DESCRIPTORS) throw new VirtqueueError(`indirect table of ${len / 16} descriptors (at most ${MAX_INDIRECT_DESCRIPTORS})`);
        if (!this.mem.contains(addr, len)) throw new VirtqueueError(`indirect table at ${hex(addr)} (${len} bytes) is not in RAM`);
        // §2.7.5.3.2: the device ignores the WRITE flag of the descriptor naming the table.
        table = addr;
        count = len / 16;
        index = 0;
        steps = 0;
        inIndirect = true;
        continue;
      }
      if (!this.mem.contains(addr, len)) throw new VirtqueueError(`buffer at ${hex(addr)} (${len} bytes) is not in RAM`);
      if (flags & DESC_F_WRITE) writable.push({ addr, len });
      else if (writable.length > 0) throw new VirtqueueError('device-readable buffer after a device-writable one'); // §2.7.4.2
      else readable.push({ addr, len });
      if (!(flags & DESC_F_NEXT)) break;
      if (next >= count) throw new VirtqueueError(`next descriptor ${next} is past the table (${count} entries)`);
      index = next;
    }
    return new DescriptorChain(head, readable, writable);
  }
}
