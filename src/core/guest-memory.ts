import { TypervisorError } from './errors.js';
import { hex } from './hex.js';

/**
 * Guest-physical memory as devices and loaders see it: their only door to RAM.
 *
 * Contract: every access is bounds-checked; an access that is not wholly inside RAM throws a
 * TypervisorError and touches nothing. Multi-byte values are little-endian. The memory never
 * retains `dst`/`src`. Addresses are guest-physical numbers (safe integers).
 */
export interface GuestMemory {
  /** True when [gpa, gpa + length) lies wholly inside RAM. */
  contains(gpa: number, length: number): boolean;
  /** Copies `dst.length` bytes starting at `gpa` into `dst`. */
  read(gpa: number, dst: Uint8Array): void;
  /** Copies `src` into guest memory starting at `gpa`. */
  write(gpa: number, src: Uint8Array): void;
  /** Sets `length` bytes starting at `gpa` to `value`. */
  fill(gpa: number, length: number, value: number): void;
  readU8(gpa: number): number;
  readU16(gpa: number): number;
  readU32(gpa: number): number;
  /** Two 32-bit reads, low word first. */
  readU64(gpa: number): bigint;
  writeU8(gpa: number, value: number): void;
  writeU16(gpa: number, value: number): void;
  writeU32(gpa: number, value: number): void;
  writeU64(gpa: number, value: bigint): void;
}

/**
 * GuestMemory over one contiguous RAM block: guest-physical `base` .. `base + bytes.length - 1`.
 * `onWrite(gpa, length)`, when given, runs after every write so the CPU can drop code it decoded
 * from those bytes (Hart.invalidateCode).
 */
export class RamGuestMemory implements GuestMemory {
  private readonly view: DataView;

  constructor(
    readonly bytes: Uint8Array,
    readonly base: number,
    private readonly onWrite?: (gpa: number, length: number) => void,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Size of RAM in bytes. */
  get size(): number {
    return this.bytes.length;
  }

  /** True when [gpa, gpa + length) lies inside RAM (length 0 counts when gpa is inside or at its end). */
  contains(gpa: number, length: number): boolean {
    return (
      Number.isSafeInteger(gpa) &&
      Number.isSafeInteger(length) &&
      length >= 0 &&
      gpa >= this.base &&
      gpa + length <= this.base + this.bytes.length
    );
  }

  read(gpa: number, dst: Uint8Array): void {
    const o = this.offset(gpa, dst.length);
    dst.set(this.bytes.subarray(o, o + dst.length));
  }

  write(gpa: number, src: Uint8Array): void {
    this.bytes.set(src, this.offset(gpa, src.length));
    this.onWrite?.(gpa, src.length);
  }

  fill(gpa: number, length: number, value: number): void {
    const o = this.offset(gpa, length);
    this.bytes.fill(value, o, o + length);
    this.onWrite?.(gpa, length);
  }

  readU8(gpa: number): number {
    return this.bytes[this.offset(gpa, 1)]!;
  }
  readU16(gpa: number): number {
    return this.view.getUint16(this.offset(gpa, 2), true);
  }
  readU32(gpa: number): number {
    return this.view.getUint32(this.offset(gpa, 4), true);
  }
  readU64(gpa: number): bigint {
    const o = this.offset(gpa, 8);
    return (BigInt(this.view.getUint32(o + 4, true)) << 32n) | BigInt(this.view.getUint32(o, true));
  }

  writeU8(gpa: number, value: number): void {
    this.bytes[this.offset(gpa, 1)] = value;
    this.onWrite?.(gpa, 1);
  }
  writeU16(gpa: number, value: number): void {
    this.view.setUint16(this.offset(gpa, 2), value, true);
    this.onWrite?.(gpa, 2);
  }
  writeU32(gpa: number, value: number): void {
    this.view.setUint32(this.offset(gpa, 4), value, true);
    this.onWrite?.(gpa, 4);
  }
  writeU64(gpa: number, value: bigint): void {
    const o = this.offset(gpa, 8);
    this.view.setUint32(o, Number(BigInt.asUintN(32, value)), true);
    this.view.setUint32(o + 4, Number(BigInt.asUintN(32, value >> 32n)), true);
    this.onWrite?.(gpa, 8);
  }

  /** Host offset of [gpa, gpa + length) in `bytes`, or a TypervisorError for a hole. */
  private offset(gpa: number, length: number): number {
    if (!this.contains(gpa, length)) {
      throw new TypervisorError(
        `guest-physical range ${hex(gpa)} (+${length} bytes) is not RAM ` +
          `(RAM is ${hex(this.base)}–${hex(this.base + this.bytes.length - 1)})`,
      );
    }
    return gpa - this.base;
  }
}
