// The generated `virt` device tree against the reference: QEMU 7.2's own tree
// (`qemu-system-riscv64 -machine virt,dumpdtb=FILE`, Debian qemu-system-misc), both decompiled
// by dtc (device-tree-compiler). Nodes are compared by path and properties by value, with
// phandles resolved to the paths they name (the two trees number them differently).
import { describe, expect, it } from 'vitest';
import { PLIC_SOURCES, buildVirtFdt, type VirtFdtOptions } from '../../src/board/virt-fdt.js';
import { ISA_BASE, ISA_EXTENSIONS, isaString } from '../../src/cpu/isa-extensions.js';
import { cells, dtc, parseDts, phandles, qemuVirtDtb, strings, type DtsTree } from '../helpers/device-tree.js';

const MiB = 1024 * 1024;
const ALL_SLOTS = [0, 1, 2, 3, 4, 5, 6, 7];

/**
 * dtc's warnings that QEMU's own tree draws as well (checked below against a live dump), and
 * so are allowed in ours: the CPU's interrupt controller has no #address-cells, exactly as in
 * QEMU's tree and Linux's riscv,cpu-intc binding examples.
 */
const ALLOWED_WARNINGS = ['interrupt_provider: /cpus/cpu@0/interrupt-controller: Missing #address-cells in interrupt provider'];

/** Nodes of QEMU's tree for devices this board does not have (yet). */
const NOT_MODELLED = ['/pmu', '/fw-cfg@10100000', '/flash@20000000', '/platform-bus@4000000', '/soc/pci@30000000'];

/** Properties that hold phandles (each value cell names a node). */
const PHANDLE_PROPS = ['interrupt-parent', 'regmap', 'cpu'];
/** Properties compared value for value with QEMU's, where a node has them. */
const KEY_PROPS = [
  '#address-cells', '#size-cells', '#interrupt-cells', 'compatible', 'device_type', 'reg', 'ranges', 'interrupts',
  'interrupt-parent', 'interrupts-extended', 'interrupt-controller', 'clock-frequency', 'status', 'stdout-path',
  'timebase-frequency', 'value', 'offset', 'regmap', 'cpu',
];

const ours = (o: Partial<VirtFdtOptions> = {}) => dtc(buildVirtFdt({ memBytes: 128 * MiB, ...o }));
const qemuTree = (mem = '128M') => parseDts(dtc(qemuVirtDtb(['-m', mem])).dts);

/** A property's value with phandles replaced by the paths they name. */
function resolved(tree: DtsTree, node: string, prop: string): string | undefined {
  const value = tree.get(node)?.get(prop);
  if (value === undefined) return undefined;
  const byHandle = phandles(tree);
  const name = (h: number) => byHandle.get(h) ?? `<dangling phandle ${h}>`;
  if (PHANDLE_PROPS.includes(prop)) return cells(value).map(name).join(' ');
  if (prop === 'interrupts-extended') {
    // Every parent here (the hart's riscv,cpu-intc) has #interrupt-cells = 1: (phandle, cause) pairs.
    const c = cells(value);
    return c.map((x, i) => (i % 2 === 0 ? name(x) : String(x))).join(' ');
  }
  return value;
}

describe('buildVirtFdt against QEMU 7.2', () => {
  const qemu = qemuTree();
  const mine = parseDts(ours({ virtioSlots: ALL_SLOTS }).dts);

  it('dtc reads it with no warnings but the ones QEMU\'s own tree draws', () => {
    const qemuWarnings = dtc(qemuVirtDtb(['-m', '128M'])).warnings;
    for (const w of ALLOWED_WARNINGS) expect(qemuWarnings).toContain(w);
    const variants: Partial<VirtFdtOptions>[] = [
      {},
      { virtioSlots: ALL_SLOTS },
      { bootargs: 'console=ttyS0 root=/dev/vda rw', initrd: { start: 0x8820_0000, end: 0x8900_0000 }, virtioSlots: [0, 5], rngSeed: new Uint8Array(32).fill(7) },
      { memBytes: 3584 * MiB, bootargs: '' },
    ];
    for (const v of variants) expect(ours(v).warnings).toEqual(ALLOWED_WARNINGS);
  });

  it('has QEMU\'s nodes, in QEMU\'s order, apart from devices not modelled', () => {
    const expected = [...qemu.keys()].filter((p) => !NOT_MODELLED.includes(p));
    expect([...mine.keys()]).toEqual(expected);
    for (const p of NOT_MODELLED) expect(qemu.has(p)).toBe(true); // the list stays honest
  });

  it('agrees with QEMU on the key properties of every node (phandles resolved)', () => {
    for (const node of mine.keys()) {
      for (const prop of KEY_PROPS) {
        if (node === '/chosen' && prop !== 'stdout-path') continue;
        expect(resolved(mine, node, prop), `${node} ${prop}`).toBe(resolved(qemu, node, prop));
      }
    }
  });

  it('differs from QEMU\'s tree only in the properties listed here, each for a reason', () => {
    const KNOWN = [
      '/ model', // names typervisor
      '/chosen rng-seed', // QEMU always adds one; ours only when the VMM passes a seed
      // The CPU's own description (src/cpu/isa-extensions.ts): no H, Zicbo*, Sv57, the newer
      // riscv,isa-base/-extensions binding next to riscv,isa.
      '/cpus/cpu@0 riscv,isa', '/cpus/cpu@0 riscv,isa-base', '/cpus/cpu@0 riscv,isa-extensions',
      '/cpus/cpu@0 riscv,cbom-block-size', '/cpus/cpu@0 riscv,cboz-block-size', '/cpus/cpu@0 mmu-type',
      '/soc/plic@c000000 riscv,ndev', // see the PLIC test below
    ];
    const diffs: string[] = [];
    for (const node of mine.keys()) {
      const names = new Set([...mine.get(node)!.keys(), ...qemu.get(node)!.keys()]);
      for (const prop of names) {
        if (prop === 'phandle') continue; // numbering differs; references are compared resolved
        if (resolved(mine, node, prop) !== resolved(qemu, node, prop)) diffs.push(`${node} ${prop}`);
      }
    }
    expect(diffs.sort()).toEqual([...KNOWN].sort());
  });

  it('root: the virt board\'s compatible and cell sizes; a model of its own', () => {
    const root = mine.get('/')!;
    expect(root.get('compatible')).toBe('"riscv-virtio"');
    expect(root.get('model')).toMatch(/^"riscv-virtio,/);
    expect([root.get('#address-cells'), root.get('#size-cells')]).toEqual(['<0x02>', '<0x02>']);
  });

  it('PLIC: at 0xc000000, contexts M-external then S-external of hart 0 (as QEMU), sources 1..95', () => {
    const plic = '/soc/plic@c000000';
    expect(cells(mine.get(plic)!.get('reg'))).toEqual([0, 0x0c00_0000, 0, 0x60_0000]);
    expect(resolved(mine, plic, 'interrupts-extended')).toBe('/cpus/cpu@0/interrupt-controller 11 /cpus/cpu@0/interrupt-controller 9');
    expect(strings(mine.get(plic)!.get('compatible'))).toEqual(['sifive,plic-1.0.0', 'riscv,plic0']);
    // Deliberate difference: QEMU 7.2 writes riscv,ndev = 96 (VIRT_IRQCHIP_NUM_SOURCES), but its
    // PLIC, like ours, has 96 sources *including* the reserved source 0, so the last device
    // source is 95; later QEMU writes VIRT_IRQCHIP_NUM_SOURCES - 1.
    expect(cells(qemu.get(plic)!.get('riscv,ndev'))).toEqual([96]);
    expect(cells(mine.get(plic)!.get('riscv,ndev'))).toEqual([PLIC_SOURCES - 1]);
  });

  it('CLINT: at 0x2000000, M-software then M-timer of hart 0', () => {
    const clint = '/soc/clint@2000000';
    expect(cells(mine.get(clint)!.get('reg'))).toEqual([0, 0x0200_0000, 0, 0x1_0000]);
    expect(resolved(mine, clint, 'interrupts-extended')).toBe('/cpus/cpu@0/interrupt-controller 3 /cpus/cpu@0/interrupt-controller 7');
    expect(strings(mine.get(clint)!.get('compatible'))).toEqual(['sifive,clint0', 'riscv,clint0']);
  });

  it('test/syscon at 0x100000, with poweroff (0x5555) and reboot (0x7777) at the root pointing at it', () => {
    expect(strings(mine.get('/soc/test@100000')!.get('compatible'))).toEqual(['sifive,test1', 'sifive,test0', 'syscon']);
    expect(cells(mine.get('/soc/test@100000')!.get('reg'))).toEqual([0, 0x10_0000, 0, 0x1000]);
    expect(resolved(mine, '/poweroff', 'regmap')).toBe('/soc/test@100000');
    expect(resolved(mine, '/reboot', 'regmap')).toBe('/soc/test@100000');
    expect(cells(mine.get('/poweroff')!.get('value'))).toEqual([0x5555]);
    expect(cells(mine.get('/reboot')!.get('value'))).toEqual([0x7777]);
    expect(mine.get('/poweroff')!.get('compatible')).toBe('"syscon-poweroff"');
    expect(mine.get('/reboot')!.get('compatible')).toBe('"syscon-reboot"');
  });

  it('UART and RTC: addresses and PLIC sources 10 and 11', () => {
    expect(cells(mine.get('/soc/serial@10000000')!.get('reg'))).toEqual([0, 0x1000_0000, 0, 0x100]);
    expect(cells(mine.get('/soc/serial@10000000')!.get('interrupts'))).toEqual([10]);
    expect(resolved(mine, '/soc/serial@10000000', 'interrupt-parent')).toBe('/soc/plic@c000000');
    expect(cells(mine.get('/soc/rtc@101000')!.get('interrupts'))).toEqual([11]);
    expect(mine.get('/chosen')!.get('stdout-path')).toBe('"/soc/serial@10000000"');
  });

  it('cpus: timebase 10 MHz; one hart, okay, with its interrupt controller and cpu-map', () => {
    expect(cells(mine.get('/cpus')!.get('timebase-frequency'))).toEqual([10_000_000]);
    const cpu = mine.get('/cpus/cpu@0')!;
    expect([cpu.get('device_type'), cpu.get('compatible'), cpu.get('status')]).toEqual(['"cpu"', '"riscv"', '"okay"']);
    expect(resolved(mine, '/cpus/cpu-map/cluster0/core0', 'cpu')).toBe('/cpus/cpu@0');
    expect(mine.get('/cpus/cpu@0/interrupt-controller')!.get('compatible')).toBe('"riscv,cpu-intc"');
  });

  it('memory: the RAM size given, as QEMU writes it (128 MiB and 3.5 GiB)', () => {
    expect(cells(mine.get('/memory@80000000')!.get('reg'))).toEqual([0, 0x8000_0000, 0, 0x0800_0000]);
    const big = parseDts(ours({ memBytes: 3584 * MiB }).dts);
    expect(big.get('/memory@80000000')!.get('reg')).toBe(qemuTree('3584M').get('/memory@80000000')!.get('reg'));
    expect(cells(big.get('/memory@80000000')!.get('reg'))).toEqual([0, 0x8000_0000, 0, 0xe000_0000]);
  });
});

describe('buildVirtFdt: the ISA it promises', () => {
  const cpu = parseDts(ours().dts).get('/cpus/cpu@0')!;

  it('riscv,isa and riscv,isa-extensions come from src/cpu/isa-extensions.ts', () => {
    expect(cpu.get('riscv,isa')).toBe(`"${isaString()}"`);
    expect(strings(cpu.get('riscv,isa-extensions'))).toEqual([...ISA_EXTENSIONS]);
    expect(cpu.get('riscv,isa-base')).toBe(`"${ISA_BASE}"`);
  });

  it('the two spellings name the same extensions', () => {
    const [base, ...multi] = isaString().split('_');
    expect(base).toBe(`rv64${ISA_EXTENSIONS.filter((e) => e.length === 1).join('')}`);
    expect(multi).toEqual(ISA_EXTENSIONS.filter((e) => e.length > 1));
    expect(base!.startsWith('rv64imafdc')).toBe(true); // RV64GC's letters in canonical order
  });

  it('cache-block sizes are present because Zicbom/Zicboz are', () => {
    expect(ISA_EXTENSIONS).toContain('zicbom');
    expect(cells(cpu.get('riscv,cbom-block-size'))).toEqual([64]);
    expect(cells(cpu.get('riscv,cboz-block-size'))).toEqual([64]);
  });
});

describe('buildVirtFdt: /chosen and virtio slots', () => {
  const virtioNodes = (t: DtsTree) => [...t.keys()].filter((p) => p.startsWith('/soc/virtio_mmio@'));

  it('no virtio node unless a slot is requested', () => {
    expect(virtioNodes(parseDts(ours().dts))).toEqual([]);
    expect(virtioNodes(parseDts(ours({ virtioSlots: [] }).dts))).toEqual([]);
  });

  it('a requested slot appears at 0x10001000 + slot * 0x1000 with PLIC source 1 + slot, once', () => {
    const t = parseDts(ours({ virtioSlots: [6, 3, 3] }).dts);
    expect(virtioNodes(t)).toEqual(['/soc/virtio_mmio@10007000', '/soc/virtio_mmio@10004000']);
    const n = t.get('/soc/virtio_mmio@10004000')!;
    expect(cells(n.get('reg'))).toEqual([0, 0x1000_4000, 0, 0x1000]);
    expect(cells(n.get('interrupts'))).toEqual([4]);
    expect(n.get('compatible')).toBe('"virtio,mmio"');
    expect(resolved(t, '/soc/virtio_mmio@10004000', 'interrupt-parent')).toBe('/soc/plic@c000000');
  });

  it.each([-1, 8, 1.5, Number.NaN, 100])('slot %d is a RangeError', (slot) => {
    expect(() => buildVirtFdt({ memBytes: 128 * MiB, virtioSlots: [0, slot] })).toThrow(RangeError);
  });

  it('bootargs, initrd range (two cells each) and rng-seed go to /chosen', () => {
    const seed = Uint8Array.from({ length: 32 }, (_, i) => i);
    const chosen = parseDts(ours({ bootargs: 'console=ttyS0 quiet', initrd: { start: 0x1_2345_6000, end: 0x1_2346_0000 }, rngSeed: seed }).dts).get('/chosen')!;
    expect(chosen.get('bootargs')).toBe('"console=ttyS0 quiet"');
    expect(cells(chosen.get('linux,initrd-start'))).toEqual([1, 0x2345_6000]);
    expect(cells(chosen.get('linux,initrd-end'))).toEqual([1, 0x2346_0000]);
    expect(cells(chosen.get('rng-seed'))).toEqual([0x00010203, 0x04050607, 0x08090a0b, 0x0c0d0e0f, 0x10111213, 0x14151617, 0x18191a1b, 0x1c1d1e1f]);
  });
});
