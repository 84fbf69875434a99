import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FakeHart } from '../../tests/helpers/fake-hart.js';
import { makeElf } from '../../tests/helpers/elf-image.js';
import { RunExit } from '../cpu/hart-api.js';
import { main } from './main.js';
import { runCliWithFakeHart } from '../../tests/helpers/cli-with-fake-hart.js';

const dir = mkdtempSync(join(tmpdir(), 'typervisor-run-disk-'));
const kernel = join(dir, 'prog.elf');
writeFileSync(kernel, makeElf({ entry: 0x8000_0000, segments: [{ paddr: 0x8000_0000, data: Uint8Array.of(0x13, 0, 0, 0) }] }));
const disk = join(dir, 'disk.img');
writeFileSync(disk, new Uint8Array(1 << 20));

/** Status and standard error of a run (these tests print nothing on standard output). */
const cli = (argv: string[], script?: Parameters<typeof runCliWithFakeHart>[1]) => runCliWithFakeHart(argv, script).then(({ status, stderr }) => ({ status, stderr }));

describe('typervisor run --disk', () => {
  it('attaches disks as virtio-blk after the --device entries (slot 7 rng, slot 6 disk), capacity in sectors', async () => {
    const seen: number[] = [];
    const r = await cli(['run', '--bios', 'none', '--kernel', kernel, '--device', 'virtio-rng', '--disk', `${disk},format=raw,readonly`], (h) => {
      for (const off of [8, 0x100, 0x104]) seen.push(Number(h.load(0x1000_7000 + off, 4)));
      h.store(0x10_0000, 4, 0x5555);
      return RunExit.Budget;
    });
    expect(r).toEqual({ status: 0, stderr: '' });
    expect(seen).toEqual([2, 2048, 0]); // device id 2; 1 MiB = 2048 sectors
  });

  it('reports a missing image and refuses more devices than slots', async () => {
    const missing = await cli(['run', '--bios', 'none', '--kernel', kernel, '--disk', join(dir, 'none.qcow2')]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toBe(
      `typervisor: --disk ${join(dir, 'none.qcow2')}: cannot open: no such file\nhint: check the path, or create an image first: qemu-img create -f qcow2 disk.qcow2 1G\n`,
    );
    const many = await cli(['run', '--bios', 'none', '--kernel', kernel, ...Array(5).fill(['--device', 'virtio-rng']).flat(), ...Array(4).fill(['--disk', disk]).flat()]);
    expect(many.stderr).toBe('typervisor: 9 devices given; the virt board has 8 virtio-mmio slots\nhint: give at most 8 --device, --disk, --share and --net options together\n');
  });
});
