import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FakeHart } from '../../tests/helpers/fake-hart.js';
import { makeElf } from '../../tests/helpers/elf-image.js';
import { RunExit } from '../cpu/hart-api.js';
import { main } from './main.js';
import { runCliWithFakeHart } from '../../tests/helpers/cli-with-fake-hart.js';

const dir = mkdtempSync(join(tmpdir(), 'typervisor-run-share-'));
const kernel = join(dir, 'prog.elf');
writeFileSync(kernel, makeElf({ entry: 0x8000_0000, segments: [{ paddr: 0x8000_0000, data: Uint8Array.of(0x13, 0, 0, 0) }] }));
const folder = join(dir, 'shared');
mkdirSync(folder);

const cli = runCliWithFakeHart;

describe('typervisor run --share', () => {
  it('attaches folders as virtio-9p devices whose mount tags default to share0, share1, …', async () => {
    const seen: number[] = [];
    const r = await cli(['run', '--bios', 'none', '--kernel', kernel, '--share', folder, '--share', `${folder},tag=data,readonly`], (h) => {
      // Slot 7 (0x1000_8000) is the first share, slot 6 the second (virtio-mmio: DeviceID at 8, config at 0x100).
      for (const base of [0x1000_8000, 0x1000_7000]) {
        seen.push(Number(h.load(base + 8, 4)), Number(h.load(base + 0x100, 2)));
        seen.push(Number(h.load(base + 0x104, 2))); // tag bytes 2 and 3
      }
      h.store(0x10_0000, 4, 0x5555);
      return RunExit.Budget;
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const le32 = (s: string) => [...s].reduceRight((v, c) => v * 256 + c.charCodeAt(0), 0);
    expect(seen).toEqual([9, 6, le32('ar'), 9, 4, le32('ta')]);
  });

  it('refuses a missing folder, a file, a bad option and a duplicate tag before booting', async () => {
    const missing = await cli(['run', '--bios', 'none', '--kernel', kernel, '--share', join(dir, 'nope')]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toBe(`typervisor: --share ${join(dir, 'nope')}: no such directory\nhint: give an existing host directory to share, e.g. --share ./shared\n`);
    const file = await cli(['run', '--bios', 'none', '--kernel', kernel, '--share', kernel]);
    expect(file.stderr).toMatch(/prog\.elf: not a directory\nhint: --share takes a directory/);
    const option = await cli(['run', '--bios', 'none', '--kernel', kernel, '--share', `${folder},rw`]);
    expect(option.stderr).toMatch(/unknown option 'rw'/);
    const dup = await cli(['run', '--bios', 'none', '--kernel', kernel, '--share', `${folder},tag=x`, '--share', `${folder},tag=x`]);
    expect(dup.stderr).toMatch(/tag 'x' is already used/);
  });

  it('says so in --help', async () => {
    const r = await cli(['run', '--help']);
    expect(r.stdout).toMatch(/--share <spec>[\s\S]*share0, share1/);
  });
});
