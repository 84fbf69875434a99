import { TypervisorError } from '../core/errors.js';
import { hex } from '../core/hex.js';
import type { AccessWidth, PhysicalBus } from '../cpu/hart-api.js';
import type { MmioDevice } from './mmio-device.js';

interface Mapping {
  readonly name: string;
  readonly base: number;
  readonly end: number; // exclusive
  readonly device: MmioDevice;
}

/**
 * The board's MMIO space: routes the hart's non-RAM accesses to devices by address.
 *
 * An access is answered only when it lies wholly inside one device, is naturally aligned and
 * the device accepts its width; otherwise read returns undefined and write returns false, and
 * the hart raises an access fault (QEMU 7.2 faults on the same accesses: unassigned addresses,
 * straddling, misaligned or unsupported-width MMIO).
 */
export class MmioBus implements PhysicalBus {
  private readonly mappings: Mapping[] = [];
  private last: Mapping | undefined;

  /** Adds a device at `base`. Throws when it overlaps a device already mapped. */
  map(name: string, base: number, device: MmioDevice): void {
    const size = device.size;
    if (!Number.isSafeInteger(base) || base < 0 || !Number.isSafeInteger(size) || size <= 0) {
      throw new TypervisorError(`cannot map ${name}: bad range ${hex(base)} (+${size})`);
    }
    const end = base + size;
    const clash = this.mappings.find((m) => base < m.end && m.base < end);
    if (clash) {
      throw new TypervisorError(
        `cannot map ${name} at ${hex(base)}–${hex(end - 1)}: overlaps ${clash.name} at ${hex(clash.base)}–${hex(clash.end - 1)}`,
      );
    }
    this.mappings.push({ name, base, end, device });
    this.mappings.sort((a, b) => a.base - b.base);
  }

  /** Name of the device mapped at `paddr`, if any (for diagnostics). */
  deviceAt(paddr: number): string | undefined {
    return this.find(paddr)?.name;
  }

  read(paddr: number, width: AccessWidth): number | bigint | undefined {
    const m = this.route(paddr, width);
    if (!m) return undefined;
    const value = m.device.read(paddr - m.base, width);
    if (width === 8) return BigInt.asUintN(64, typeof value === 'bigint' ? value : BigInt(value));
    if (typeof value === 'bigint') return Number(BigInt.asUintN(width * 8, value));
    return width === 4 ? value >>> 0 : value & (width === 2 ? 0xffff : 0xff);
  }

  write(paddr: number, width: AccessWidth, value: number | bigint): boolean {
    const m = this.route(paddr, width);
    if (!m) return false;
    m.device.write(paddr - m.base, width, value);
    return true;
  }

  private route(paddr: number, width: AccessWidth): Mapping | undefined {
    const m = this.find(paddr);
    if (!m || paddr + width > m.end || paddr % width !== 0) return undefined;
    if (m.device.accepts && !m.device.accepts(paddr - m.base, width)) return undefined;
    return m;
  }

  private find(paddr: number): Mapping | undefined {
    const last = this.last;
    if (last && paddr >= last.base && paddr < last.end) return last;
    for (const m of this.mappings) {
      if (paddr < m.base) return undefined;
      if (paddr < m.end) return (this.last = m);
    }
    return undefined;
  }
}
