// Boot layout as QEMU 7.2's virt board does it (hw/riscv/boot.c): kernel at the 2 MiB boundary
// after the firmware, initrd at kernel + min(RAM / 2, 128 MiB), device tree 2 MiB-aligned below
// min(RAM end, 3 GiB); plus OpenSBI's fw_dynamic info (include/sbi/fw_dynamic.h) for firmware
// files, which typervisor puts 4 KiB below the device tree.
import { gzipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { cells, dtc, parseDts } from '../../tests/helpers/device-tree.js';
import { makeElf } from '../../tests/helpers/elf-image.js';
import { TypervisorError } from '../core/errors.js';
import { RamGuestMemory } from '../core/guest-memory.js';
import { loadBoot } from './boot-loader.js';
import type { Firmware, KernelImage, MachineConfig } from './machine-config.js';
import { thrown } from '../../tests/helpers/thrown.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const RAM_BASE = 0x8000_0000;

/** A minimal RISC-V Linux Image (Documentation/arch/riscv/boot-image-header.rst). */
function linuxImage(imageSize = 0x1_0000, textOffset = 0x20_0000n): KernelImage {
  const bytes = new Uint8Array(0x1000);
  const v = new DataView(bytes.buffer);
  v.setUint32(0, 0x0400_006f, true);
  v.setBigUint64(8, textOffset, true);
  v.setBigUint64(16, BigInt(imageSize), true);
  v.setUint32(32, 2, true);
  bytes.set(new TextEncoder().encode('RISCV\0\0\0'), 48);
  bytes.set([0x52, 0x53, 0x43, 0x05], 56);
  return { name: 'Image', bytes };
}

const file = (name: string, size: number, fill = 0x5a): KernelImage => ({ name, bytes: new Uint8Array(size).fill(fill) });

function boot(memBytes: number, opts: { bios?: Firmware; kernel?: KernelImage; initrd?: KernelImage; append?: string; slots?: number[] } = {}) {
  const ram = new RamGuestMemory(new Uint8Array(memBytes), RAM_BASE); // allocated lazily: only touched pages cost
  const config: MachineConfig = {
    memBytes,
    bios: opts.bios ?? 'builtin',
    kernel: opts.kernel ?? linuxImage(),
    ...(opts.initrd ? { initrd: opts.initrd } : {}),
    ...(opts.append !== undefined ? { append: opts.append } : {}),
  };
  const state = loadBoot(config, ram, opts.slots);
  const blob = ram.bytes.slice(state.fdt.address - RAM_BASE, state.fdt.address - RAM_BASE + state.fdt.size);
  const tree = parseDts(dtc(blob).dts);
  return { ram, state, blob, tree, chosen: tree.get('/chosen')! };
}

/** Byte-wise equality (vitest's toEqual walks typed arrays element by element: slow for MiBs). */
const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

const u64 = (c: number[]) => c.reduce((acc, x) => acc * 2 ** 32 + x, 0);

describe('loadBoot: QEMU placement, firmware builtin (the VMM serves SBI)', () => {
  it('512 MiB: Image at RAM + 2 MiB, initrd 128 MiB above it, DTB 2 MiB-aligned below the end of RAM; S-mode', () => {
    const initrd = file('initrd.img', 3 * MiB + 123, 0xa5);
    const { ram, state, blob, chosen } = boot(512 * MiB, { initrd, append: 'console=ttyS0 earlycon=sbi' });
    expect(state.kernel).toMatchObject({ format: 'linux-image', entry: 0x8020_0000, start: 0x8020_0000 });
    expect(state.pc).toBe(0x8020_0000);
    expect(state.mode).toBe('S');
    expect(state.initrd).toEqual({ start: 0x8820_0000, end: 0x8820_0000 + initrd.bytes.length });
    expect(same(ram.bytes.subarray(0x0820_0000, 0x0820_0000 + initrd.bytes.length), initrd.bytes)).toBe(true);
    expect(state.fdt.address).toBe(0x9fe0_0000);
    expect(state.fdt.address + state.fdt.size).toBeLessThanOrEqual(RAM_BASE + 512 * MiB);
    expect(state.args).toEqual([0, 0x9fe0_0000, 0]); // a0 = hart id, a1 = DTB
    expect(new DataView(blob.buffer).getUint32(0)).toBe(0xd00dfeed);
    expect(new DataView(blob.buffer).getUint32(4)).toBe(state.fdt.size);
    expect(chosen.get('bootargs')).toBe('"console=ttyS0 earlycon=sbi"');
    expect(u64(cells(chosen.get('linux,initrd-start')))).toBe(state.initrd!.start);
    expect(u64(cells(chosen.get('linux,initrd-end')))).toBe(state.initrd!.end);
  });

  it('128 MiB: the initrd goes RAM / 2 above the kernel', () => {
    const { state, chosen } = boot(128 * MiB, { initrd: file('initrd', 4096) });
    expect(state.initrd).toEqual({ start: 0x8420_0000, end: 0x8420_1000 });
    expect(state.fdt.address).toBe(0x87e0_0000);
    expect(u64(cells(chosen.get('linux,initrd-start')))).toBe(0x8420_0000);
    expect(u64(cells(chosen.get('linux,initrd-end')))).toBe(0x8420_1000);
  });

  it('3.5 GiB: initrd 128 MiB above the kernel, DTB below the 3 GiB line (0xc0000000), memory node says 3.5 GiB', () => {
    const { state, tree, chosen } = boot(3584 * MiB, { initrd: file('initrd', 8192), append: 'quiet' });
    expect(state.kernel.start).toBe(0x8020_0000);
    expect(state.initrd).toEqual({ start: 0x8820_0000, end: 0x8820_2000 });
    expect(state.fdt.address).toBe(0xbfe0_0000);
    expect(state.fdt.address % (2 * MiB)).toBe(0);
    expect(state.fdt.address + state.fdt.size).toBeLessThanOrEqual(3 * GiB);
    expect(cells(tree.get('/memory@80000000')!.get('reg'))).toEqual([0, RAM_BASE, 0, 0xe000_0000]);
    expect(chosen.get('bootargs')).toBe('"quiet"');
    expect(u64(cells(chosen.get('linux,initrd-start')))).toBe(0x8820_0000);
    expect(u64(cells(chosen.get('linux,initrd-end')))).toBe(0x8820_2000);
  });

  it('1 GiB: RAM ends exactly at 3 GiB, the DTB sits just below', () => {
    expect(boot(1 * GiB).state.fdt.address).toBe(0xbfe0_0000);
  });

  it('without initrd or command line, /chosen has neither', () => {
    const { state, chosen } = boot(128 * MiB);
    expect(state.initrd).toBeUndefined();
    expect(chosen.has('bootargs')).toBe(false);
    expect(chosen.has('linux,initrd-start')).toBe(false);
    expect(chosen.get('stdout-path')).toBe('"/soc/serial@10000000"');
  });

  it('an empty command line is passed as an empty bootargs', () => {
    expect(boot(128 * MiB, { append: '' }).chosen.get('bootargs')).toBe('[00]'); // dtc shows the lone NUL of "" as bytes
  });

  it('describes the virtio slots it is given', () => {
    const { tree } = boot(128 * MiB, { slots: [2, 0] });
    expect([...tree.keys()].filter((p) => p.includes('virtio_mmio'))).toEqual(['/soc/virtio_mmio@10003000', '/soc/virtio_mmio@10001000']);
  });

  it('unpacks an Image.gz first', () => {
    const image = linuxImage();
    const { ram, state } = boot(128 * MiB, { kernel: { name: 'Image.gz', bytes: gzipSync(image.bytes) } });
    expect(state.kernel.start).toBe(0x8020_0000);
    expect(same(ram.bytes.subarray(0x20_0000, 0x20_0000 + image.bytes.length), image.bytes)).toBe(true);
  });

  it('starts an ELF kernel at its entry, still in S-mode', () => {
    const kernel = { name: 'k.elf', bytes: makeElf({ entry: 0x8020_0040, segments: [{ paddr: 0x8020_0000, data: new Uint8Array(0x100).fill(1) }] }) };
    const { state } = boot(128 * MiB, { kernel });
    expect(state).toMatchObject({ pc: 0x8020_0040, mode: 'S', kernel: { format: 'elf', start: 0x8020_0000, end: 0x8020_0100 } });
  });
});

describe('loadBoot: firmware none and firmware files', () => {
  it("'none' starts the kernel itself in M-mode, with no fw_dynamic info", () => {
    const { ram, state } = boot(128 * MiB, { bios: 'none' });
    expect(state).toMatchObject({ pc: 0x8020_0000, mode: 'M', args: [0, state.fdt.address, 0] });
    expect(ram.readU64(state.fdt.address - 4096)).toBe(0n);
  });

  it('a raw firmware file goes to the start of RAM, the kernel to the next 2 MiB boundary, fw_dynamic info 4 KiB below the DTB', () => {
    const fw = file('fw_dynamic.bin', 300 * 1024, 0x13);
    const { ram, state } = boot(256 * MiB, { bios: fw, initrd: file('initrd', 4096) });
    expect(same(ram.bytes.subarray(0, fw.bytes.length), fw.bytes)).toBe(true);
    expect(state.kernel.start).toBe(0x8020_0000);
    expect(state.pc).toBe(RAM_BASE);
    expect(state.mode).toBe('M');
    const info = state.fdt.address - 4096;
    expect(state.args).toEqual([0, state.fdt.address, info]);
    // struct fw_dynamic_info: magic, version, next_addr, next_mode, options, boot_hart (unsigned long each)
    expect([0, 1, 2, 3, 4, 5].map((i) => ram.readU64(info + 8 * i))).toEqual([0x4942534fn, 2n, 0x8020_0000n, 1n, 0n, 0n]);
    expect(state.initrd!.start).toBe(0x8020_0000 + 128 * MiB);
  });

  it('a firmware larger than 2 MiB pushes the kernel to the following 2 MiB boundary', () => {
    const { ram, state } = boot(128 * MiB, { bios: file('fw_jump.bin', 2 * MiB + 1) });
    expect(state.kernel.start).toBe(RAM_BASE + 4 * MiB);
    expect(ram.readU64(state.fdt.address - 4096 + 16)).toBe(BigInt(RAM_BASE + 4 * MiB)); // next_addr
  });

  it('an ELF firmware is loaded at its addresses and entered at its entry', () => {
    const bios = { name: 'fw.elf', bytes: makeElf({ entry: RAM_BASE + 0x100, segments: [{ paddr: RAM_BASE, data: new Uint8Array(0x1000).fill(0x77), memSize: 0x30_0000 }] }) };
    const { state } = boot(128 * MiB, { bios });
    expect(state).toMatchObject({ pc: RAM_BASE + 0x100, mode: 'M' });
    expect(state.kernel.start).toBe(RAM_BASE + 4 * MiB); // after the ELF's 3 MiB, 2 MiB aligned
  });

  it.each([
    ['empty', 0],
    ['larger than half of RAM', 64 * MiB + 1],
  ])('refuses a raw firmware file that is %s', (_what, size) => {
    const e = thrown(() => boot(128 * MiB, { bios: file('fw.bin', size) }));
    expect(e.message).toMatch(/^firmware fw\.bin is .+; it must be non-empty and fit in half of RAM$/);
  });
});

describe('loadBoot: what does not fit', () => {
  it('an initrd past the end of RAM: names the file and hints at --mem', () => {
    const e = thrown(() => boot(64 * MiB, { initrd: file('big.cpio', 40 * MiB) }));
    expect(e.message).toBe('initrd big.cpio (40 MiB) does not fit in RAM at 0x82200000 above the kernel (RAM ends at 0x84000000)');
    expect(e.hint).toBe('give the machine more RAM, e.g. --mem 256M');
  });

  it('the --mem hint grows with the initrd', () => {
    const e = thrown(() => boot(128 * MiB, { initrd: file('huge.cpio', 200 * MiB) }));
    expect(e.hint).toBe('give the machine more RAM, e.g. --mem 512M');
  });

  it('a kernel that reaches the initrd slot', () => {
    const e = thrown(() => boot(64 * MiB, { kernel: linuxImage(40 * MiB), initrd: file('initrd', 4096) }));
    expect(e.message).toMatch(/^initrd initrd .* does not fit/);
    expect(e.hint).toMatch(/--mem/);
  });

  it('a kernel that fills RAM leaves no room for the device tree', () => {
    const e = thrown(() => boot(64 * MiB, { kernel: linuxImage(62 * MiB) }));
    expect(e.message).toMatch(/^the kernel leaves? no room for the device tree below 0x84000000$/);
    expect(e.hint).toMatch(/--mem/);
  });

  it('a kernel and initrd that leave no room for the device tree name both', () => {
    const e = thrown(() => boot(64 * MiB, { initrd: file('initrd', 30 * MiB - 4096) }));
    expect(e.message).toMatch(/^the kernel and initrd leave no room for the device tree/);
  });

  it('a kernel larger than RAM', () => {
    const e = thrown(() => boot(64 * MiB, { kernel: linuxImage(100 * MiB) }));
    expect(e.message).toMatch(/^Image: the kernel needs .* outside RAM/);
    expect(e.hint).toMatch(/--mem/);
  });
});
