import { CACHE_BLOCK_BYTES, ISA_BASE, ISA_EXTENSIONS, MMU_TYPE, isaString } from '../cpu/isa-extensions.js';
import { cells64, writeFdt, type FdtNode } from './fdt-writer.js';
import { TIMEBASE_HZ, VIRT_MAP, VIRTIO_SLOTS } from './memory-map.js';

/** What the device tree of a `virt` machine describes. */
export interface VirtFdtOptions {
  /** Guest RAM in bytes (at VIRT_MAP.dram.base). */
  readonly memBytes: number;
  /** Kernel command line (`/chosen/bootargs`). */
  readonly bootargs?: string;
  /** Guest-physical range of the initial ramdisk, end exclusive. */
  readonly initrd?: { readonly start: number; readonly end: number };
  /** Which virtio-mmio slots (0..7) have a device behind them. */
  readonly virtioSlots?: readonly number[];
  /** Bytes of random seed for `/chosen/rng-seed` (the kernel's early entropy). */
  readonly rngSeed?: Uint8Array;
}

// Phandles: any distinct non-zero numbers (QEMU numbers the cpu 1 and its controller 2).
const PHANDLE_CPU0_INTC = 1;
const PHANDLE_CPU0 = 2;
const PHANDLE_PLIC = 3;
const PHANDLE_TEST = 4;

/** External interrupt causes of mip (privileged spec §3.1.9): what the PLIC contexts drive. */
const IRQ_M_SOFT = 3, IRQ_M_TIMER = 7, IRQ_S_EXT = 9, IRQ_M_EXT = 11;

/** PLIC sources on QEMU 7.2's virt (VIRT_IRQCHIP_NUM_SOURCES); `riscv,ndev` excludes source 0. */
export const PLIC_SOURCES = 96;

const hex = (n: number) => n.toString(16);
const reg = (r: { base: number; size: number }) => cells64(r.base, r.size);

/**
 * The device tree of the `virt` board, shaped like QEMU 7.2's (hw/riscv/virt.c) so Linux and
 * OpenSBI find what they expect: one hart whose `riscv,isa` and `riscv,isa-extensions` come from
 * src/cpu/isa-extensions.ts, memory, /chosen, and under /soc the PLIC (context 0 = M, 1 = S), the
 * CLINT, the UART, the goldfish RTC, the sifive,test1 syscon (with poweroff = 0x5555 and
 * reboot = 0x7777 nodes at the root) and the virtio-mmio slots in use.
 */
export function buildVirtFdt(o: VirtFdtOptions): Uint8Array {
  const chosen: FdtNode = { name: 'chosen', props: { 'stdout-path': `/soc/serial@${hex(VIRT_MAP.uart0.base)}` } };
  if (o.bootargs !== undefined) chosen.props!['bootargs'] = o.bootargs;
  if (o.initrd) {
    chosen.props!['linux,initrd-start'] = BigInt(o.initrd.start);
    chosen.props!['linux,initrd-end'] = BigInt(o.initrd.end);
  }
  if (o.rngSeed) chosen.props!['rng-seed'] = o.rngSeed;

  const cpu0: FdtNode = {
    name: 'cpu@0',
    props: {
      device_type: 'cpu',
      reg: 0,
      status: 'okay',
      compatible: 'riscv',
      'riscv,isa': isaString(),
      'riscv,isa-base': ISA_BASE,
      'riscv,isa-extensions': [...ISA_EXTENSIONS],
      'riscv,cbom-block-size': CACHE_BLOCK_BYTES,
      'riscv,cboz-block-size': CACHE_BLOCK_BYTES,
      'mmu-type': MMU_TYPE,
      phandle: PHANDLE_CPU0,
    },
    children: [
      {
        name: 'interrupt-controller',
        props: {
          '#interrupt-cells': 1,
          'interrupt-controller': true,
          compatible: 'riscv,cpu-intc',
          phandle: PHANDLE_CPU0_INTC,
        },
      },
    ],
  };

  const soc: FdtNode[] = [
    {
      name: `rtc@${hex(VIRT_MAP.rtc.base)}`,
      props: { interrupts: VIRT_MAP.rtc.irq, 'interrupt-parent': PHANDLE_PLIC, reg: reg(VIRT_MAP.rtc), compatible: 'google,goldfish-rtc' },
    },
    {
      name: `serial@${hex(VIRT_MAP.uart0.base)}`,
      props: {
        interrupts: VIRT_MAP.uart0.irq,
        'interrupt-parent': PHANDLE_PLIC,
        'clock-frequency': 0x384000, // QEMU's 3.6864 MHz: the divisor the kernel programs is ignored anyway
        reg: reg(VIRT_MAP.uart0),
        compatible: 'ns16550a',
      },
    },
    {
      name: `test@${hex(VIRT_MAP.test.base)}`,
      props: { phandle: PHANDLE_TEST, reg: reg(VIRT_MAP.test), compatible: ['sifive,test1', 'sifive,test0', 'syscon'] },
    },
    ...[...new Set(o.virtioSlots ?? [])].sort((a, b) => b - a).map((slot): FdtNode => {
      if (!Number.isInteger(slot) || slot < 0 || slot >= VIRTIO_SLOTS) throw new RangeError(`virtio slot ${slot} is not in 0..${VIRTIO_SLOTS - 1}`);
      const base = VIRT_MAP.virtio.base + slot * VIRT_MAP.virtio.size;
      return {
        name: `virtio_mmio@${hex(base)}`,
        props: {
          interrupts: VIRT_MAP.virtio.irq + slot,
          'interrupt-parent': PHANDLE_PLIC,
          reg: cells64(base, VIRT_MAP.virtio.size),
          compatible: 'virtio,mmio',
        },
      };
    }),
    {
      name: `plic@${hex(VIRT_MAP.plic.base)}`,
      props: {
        phandle: PHANDLE_PLIC,
        'riscv,ndev': PLIC_SOURCES - 1,
        reg: reg(VIRT_MAP.plic),
        'interrupts-extended': [PHANDLE_CPU0_INTC, IRQ_M_EXT, PHANDLE_CPU0_INTC, IRQ_S_EXT],
        'interrupt-controller': true,
        compatible: ['sifive,plic-1.0.0', 'riscv,plic0'],
        '#address-cells': 0,
        '#interrupt-cells': 1,
      },
    },
    {
      name: `clint@${hex(VIRT_MAP.clint.base)}`,
      props: {
        'interrupts-extended': [PHANDLE_CPU0_INTC, IRQ_M_SOFT, PHANDLE_CPU0_INTC, IRQ_M_TIMER],
        reg: reg(VIRT_MAP.clint),
        compatible: ['sifive,clint0', 'riscv,clint0'],
      },
    },
  ];

  return writeFdt({
    name: '',
    props: { '#address-cells': 2, '#size-cells': 2, compatible: 'riscv-virtio', model: 'riscv-virtio,typervisor' },
    children: [
      chosen,
      // At the root, as on QEMU: they have no registers of their own (regmap points at the finisher).
      { name: 'poweroff', props: { value: 0x5555, offset: 0, regmap: PHANDLE_TEST, compatible: 'syscon-poweroff' } },
      { name: 'reboot', props: { value: 0x7777, offset: 0, regmap: PHANDLE_TEST, compatible: 'syscon-reboot' } },
      { name: `memory@${hex(VIRT_MAP.dram.base)}`, props: { device_type: 'memory', reg: cells64(VIRT_MAP.dram.base, o.memBytes) } },
      {
        name: 'cpus',
        props: { '#address-cells': 1, '#size-cells': 0, 'timebase-frequency': TIMEBASE_HZ },
        children: [cpu0, { name: 'cpu-map', children: [{ name: 'cluster0', children: [{ name: 'core0', props: { cpu: PHANDLE_CPU0 } }] }] }],
      },
      { name: 'soc', props: { '#address-cells': 2, '#size-cells': 2, compatible: 'simple-bus', ranges: true }, children: soc },
    ],
  });
}
