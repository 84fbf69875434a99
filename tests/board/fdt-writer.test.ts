// The FDT writer's blobs must be what the reference tool reads: dtc decompiles them to the
// source we meant (Debian's device-tree-compiler, installed by scripts/ensure-deps.sh test).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFdt, cells64, type FdtNode } from '../../src/board/fdt-writer.js';

function dtc(blob: Uint8Array): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'fdt-'));
  try {
    const file = path.join(dir, 'x.dtb');
    writeFileSync(file, blob);
    return execFileSync('dtc', ['-I', 'dtb', '-O', 'dts', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    throw new Error(`dtc failed (run scripts/ensure-deps.sh test to install device-tree-compiler): ${String(e)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const tree: FdtNode = {
  name: '',
  props: { '#address-cells': 2, '#size-cells': 2, compatible: 'riscv-virtio', model: 'typervisor,virt' },
  children: [
    { name: 'chosen', props: { bootargs: 'console=ttyS0', 'stdout-path': '/soc/serial@10000000' } },
    { name: 'memory@80000000', props: { device_type: 'memory', reg: cells64(0x8000_0000, 128 << 20) } },
    {
      name: 'soc',
      props: { '#address-cells': 2, '#size-cells': 2, compatible: 'simple-bus', ranges: true },
      children: [
        { name: 'serial@10000000', props: { compatible: 'ns16550a', reg: cells64(0x1000_0000, 0x100), interrupts: 10, 'clock-frequency': 0x384000 } },
      ],
    },
    { name: 'cpus', props: { 'riscv,isa-extensions': ['i', 'm', 'a', 'zicsr'], 'timebase-frequency': 10_000_000 } },
  ],
};

describe('FDT writer', () => {
  it('writes a blob dtc reads back as the intended tree', () => {
    const text = dtc(writeFdt(tree, { reservations: [{ address: 0x8000_0000n, size: 0x20_0000n }] }));
    expect(text).toContain('/memreserve/\t0x0000000080000000 0x0000000000200000;');
    expect(text).toContain('compatible = "riscv-virtio";');
    expect(text).toContain('reg = <0x00 0x80000000 0x00 0x8000000>;');
    expect(text).toContain('serial@10000000 {');
    expect(text).toContain('reg = <0x00 0x10000000 0x00 0x100>;');
    expect(text).toContain('interrupts = <0x0a>;');
    expect(text).toContain('ranges;');
    expect(text).toContain('riscv,isa-extensions = "i\\0m\\0a\\0zicsr";');
    expect(text).toContain('bootargs = "console=ttyS0";');
  });

  it('writes a valid header and deduplicates property names', () => {
    const blob = writeFdt(tree);
    const dv = new DataView(blob.buffer);
    expect(dv.getUint32(0)).toBe(0xd00dfeed);
    expect(dv.getUint32(4)).toBe(blob.length);
    expect(dv.getUint32(20)).toBe(17);
    const strings = new TextDecoder().decode(blob.subarray(dv.getUint32(12), dv.getUint32(12) + dv.getUint32(32)));
    expect(strings.split('\0').filter((s) => s === 'reg')).toHaveLength(1);
  });

  it('refuses cells that are not u32', () => {
    expect(() => writeFdt({ name: '', props: { bad: [-1] } })).toThrow(/not a u32/);
    expect(() => writeFdt({ name: '', props: { bad: 2 ** 32 } })).toThrow(/not a u32/);
  });
});
