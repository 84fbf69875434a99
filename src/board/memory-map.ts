// The `virt` board's physical memory map: the one table every other file takes addresses from.
// It follows QEMU 7.2's hw/riscv/virt.c so that stock firmware, kernels and bare-metal test
// programs run unchanged. `size` is the region the device tree will describe; a device may
// decode less of it (QEMU's UART answers only its 8 registers, its CLINT only 0x0000–0xbfff), and
// accesses that no device decodes raise an access fault in the hart, as on QEMU.
//
//   name          base          size         irq   what
//   test          0x0010_0000   0x1000       -     "sifive,test1": finisher (pass, fail, reset)
//   rtc           0x0010_1000   0x1000       11    goldfish RTC (host wall clock)
//   clint         0x0200_0000   0x1_0000     -     msip, mtimecmp, mtime (10 MHz)
//   plic          0x0c00_0000   0x60_0000    -     platform-level interrupt controller, 96 sources
//   uart0         0x1000_0000   0x100        10    NS16550A, 8 byte-wide registers
//   virtio0..7    0x1000_1000   0x1000 each  1..8  virtio-mmio slots (devices: next issue)
//   dram          0x8000_0000   --mem        -     guest RAM

/** One region of the map. */
export interface MemoryRegion {
  readonly base: number;
  readonly size: number;
  /** PLIC interrupt source number, when the device has one. */
  readonly irq?: number;
}

export const VIRT_MAP = {
  test: { base: 0x0010_0000, size: 0x1000 },
  rtc: { base: 0x0010_1000, size: 0x1000, irq: 11 },
  clint: { base: 0x0200_0000, size: 0x1_0000 },
  plic: { base: 0x0c00_0000, size: 0x60_0000 },
  uart0: { base: 0x1000_0000, size: 0x100, irq: 10 },
  /** The first of VIRTIO_SLOTS slots, each `size` bytes apart, irq 1 + slot. */
  virtio: { base: 0x1000_1000, size: 0x1000, irq: 1 },
  /** RAM; its size comes from the machine config. */
  dram: { base: 0x8000_0000, size: 0 },
} as const satisfies Record<string, MemoryRegion>;

export const VIRTIO_SLOTS = 8;

/** mtime frequency of the CLINT (and the `timebase-frequency` in the device tree). */
export const TIMEBASE_HZ = 10_000_000;

/** Smallest RAM the board accepts. */
export const MIN_RAM_BYTES = 16 * 1024 * 1024;
/**
 * Largest RAM the board accepts: the CPU keeps guest RAM inside one WebAssembly.Memory, which
 * wasm32 caps at 4 GiB, and needs some of that for itself.
 */
export const MAX_RAM_BYTES = 3584 * 1024 * 1024;
