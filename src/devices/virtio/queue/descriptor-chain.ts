import type { GuestMemory } from '../../../core/guest-memory.js';

/** One buffer of a chain: guest-physical address and length, already checked to lie in RAM. */
export interface BufferSegment {
  readonly addr: number;
  readonly len: number;
}

/**
 * A descriptor chain taken from the available ring (virtio 1.2 §2.7.5), flattened: indirect
 * tables are resolved, device-readable buffers first, then device-writable ones (§2.7.4.2 — the
 * parser refuses any other order). Every segment was bounds-checked against guest RAM when the
 * chain was parsed; `head` is the id to return in the used ring (§2.7.8).
 */
export class DescriptorChain {
  readonly readableBytes: number;
  readonly writableBytes: number;

  constructor(
    readonly head: number,
    readonly readable: readonly BufferSegment[],
    readonly writable: readonly BufferSegment[],
  ) {
    this.readableBytes = readable.reduce((n, s) => n + s.len, 0);
    this.writableBytes = writable.reduce((n, s) => n + s.len, 0);
  }

  /**
   * Copies readable bytes starting at `offset` (within the readable part) into `dst`; returns how
   * many were copied (fewer when the chain ends first).
   */
  read(mem: GuestMemory, offset: number, dst: Uint8Array): number {
    return copy(this.readable, offset, dst.length, (addr, at, n) => mem.read(addr, dst.subarray(at, at + n)));
  }

  /**
   * Copies `src` into the writable part starting at `offset`; returns how many bytes were
   * written (fewer when the chain ends first).
   */
  write(mem: GuestMemory, offset: number, src: Uint8Array): number {
    return copy(this.writable, offset, src.length, (addr, at, n) => mem.write(addr, src.subarray(at, at + n)));
  }
}

function copy(segments: readonly BufferSegment[], offset: number, length: number, move: (addr: number, at: number, n: number) => void): number {
  let done = 0;
  let skip = offset;
  for (const s of segments) {
    if (done === length) break;
    if (skip >= s.len) {
      skip -= s.len;
      continue;
    }
    const n = Math.min(s.len - skip, length - done);
    move(s.addr + skip, done, n);
    done += n;
    skip = 0;
  }
  return done;
}
