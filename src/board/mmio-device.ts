import type { AccessWidth } from '../cpu/hart-api.js';

/**
 * A device's registers as the bus sees them. Offsets are relative to the device's base, never
 * absolute addresses. The bus guarantees `0 <= offset`, `offset + width <= size` and natural
 * alignment (`offset % width === 0`) before it calls `read` or `write`.
 *
 * Values follow the PhysicalBus convention: the bus passes an 8-byte value as a bigint and
 * narrower ones as numbers in [0, 2^(8·width)); a device may return a number or a bigint of any
 * size, and the bus truncates it to `width` bytes.
 *
 * Guest input is hostile: `read`/`write` must accept any offset and value the bus lets through
 * without throwing.
 */
export interface MmioDevice {
  readonly size: number;
  /**
   * Optional filter for access sizes the device does not decode at all (QEMU's
   * `valid.min/max_access_size`): returning false makes the hart raise an access fault.
   * Absent means every width is accepted.
   */
  accepts?(offset: number, width: AccessWidth): boolean;
  read(offset: number, width: AccessWidth): number | bigint;
  write(offset: number, width: AccessWidth, value: number | bigint): void;
}

/** The low 32 bits of a bus value, as a number. */
export function low32(value: number | bigint): number {
  return typeof value === 'number' ? value >>> 0 : Number(BigInt.asUintN(32, value));
}
