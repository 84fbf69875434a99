import type { GuestMemory } from '../../../core/guest-memory.js';

/**
 * The driver's side of a split virtqueue (virtio 1.2 §2.7), minimal: writes descriptors and
 * available-ring entries and reads the used ring. For tests and tools that play the guest; the
 * device side is {@link SplitVirtqueue}. Does no checking: it writes whatever it is told.
 */
export class DriverRings {
  private availIdx = 0;
  private seenUsed = 0;

  constructor(
    private readonly mem: GuestMemory,
    readonly size: number,
    readonly desc: number,
    readonly driver: number,
    readonly device: number,
  ) {}

  /** Writes descriptor `i` of the table at `table` (default: the queue's own table). */
  setDesc(i: number, d: { addr: number | bigint; len: number; flags?: number; next?: number }, table = this.desc): void {
    const at = table + 16 * i;
    this.mem.writeU64(at, BigInt(d.addr));
    this.mem.writeU32(at + 8, d.len >>> 0);
    this.mem.writeU16(at + 12, d.flags ?? 0);
    this.mem.writeU16(at + 14, d.next ?? 0);
  }

  /** Puts `head` in the next available-ring entry and publishes the new idx (§2.7.13). */
  offer(head: number): void {
    this.mem.writeU16(this.driver + 4 + 2 * (this.availIdx % this.size), head);
    this.availIdx = (this.availIdx + 1) & 0xffff;
    this.mem.writeU16(this.driver + 2, this.availIdx);
  }

  /** Sets the available ring's idx directly (to test a lying driver). */
  setAvailIdx(idx: number): void {
    this.availIdx = idx & 0xffff;
    this.mem.writeU16(this.driver + 2, this.availIdx);
  }

  /** The available ring's flags (VIRTQ_AVAIL_F_NO_INTERRUPT = 1). */
  setAvailFlags(flags: number): void {
    this.mem.writeU16(this.driver, flags);
  }

  /** used_event, the u16 after the available ring (§2.7.7). */
  setUsedEvent(idx: number): void {
    this.mem.writeU16(this.driver + 4 + 2 * this.size, idx & 0xffff);
  }

  /** avail_event, the u16 after the used ring (§2.7.10). */
  availEvent(): number {
    return this.mem.readU16(this.device + 4 + 8 * this.size);
  }

  usedIdx(): number {
    return this.mem.readU16(this.device + 2);
  }

  /** Used-ring entries the device added since the last call. */
  takeUsed(): { id: number; len: number }[] {
    const out: { id: number; len: number }[] = [];
    const end = this.usedIdx();
    while (this.seenUsed !== end) {
      const at = this.device + 4 + 8 * (this.seenUsed % this.size);
      out.push({ id: this.mem.readU32(at), len: this.mem.readU32(at + 4) });
      this.seenUsed = (this.seenUsed + 1) & 0xffff;
    }
    return out;
  }
}
