import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TypervisorError } from '../../src/core/errors.js';
import { closeDisks, openDisks, parseDiskSpec } from '../../src/host/disk-image.js';
import { nodeImageFileSystem } from '../../src/host/storage-file.js';
import { MemoryImageFile } from '../../src/storage/memory-image-file.js';
import { openImage } from '../../src/storage/open-image.js';
import { VmdkImage } from '../../src/storage/vmdk/vmdk-image.js';
import { blockBackendConformance } from './conformance.js';
import { MemoryImageFileSystem } from './qcow2-images.js';
import { firstDifference, qemu, qemuIo, qemuRaw, tempDir } from './qemu-tools.js';
import { DISK_SIZE, vmdkImages } from './vmdk-vdi-images.js';

const tmp = tempDir('vmdk-');
afterAll(() => tmp.remove());
const images = vmdkImages(tmp.dir);

describe('VMDK images made by qemu-img read as qemu-img reads them', () => {
  for (const img of images) {
    it(img.label, async () => {
      expect(img.expected.length).toBe(DISK_SIZE);
      const disk = await openImage(nodeImageFileSystem, img.file, { readOnly: true });
      try {
        expect(disk).toBeInstanceOf(VmdkImage);
        expect(disk.capacity).toBe(DISK_SIZE);
        const all = new Uint8Array(disk.capacity);
        await disk.read(0, all);
        expect(firstDifference(all, img.expected)).toBeUndefined();
        // Each flavour must take the path it is named for, not pass by reading something else.
        const lookups = (disk as VmdkImage).sparseExtents.map((e) => e.lookups);
        const sum = (k: 'unallocated' | 'zero' | 'data' | 'compressed') => lookups.reduce((n, l) => n + l[k], 0);
        if (/Flat/.test(img.label)) expect(lookups).toEqual([]);
        else if (/stream/.test(img.label)) expect([sum('compressed') > 0, sum('data')]).toEqual([true, 0]);
        else expect([sum('data') > 0, sum('unallocated') > 0, sum('compressed')]).toEqual([true, true, 0]);
        if (/zeroed/.test(img.label)) expect(sum('zero')).toBeGreaterThan(0);
      } finally {
        await disk.close();
      }
    });
  }
});

for (const img of images) {
  blockBackendConformance(`vmdk ${img.label}`, async () => ({ backend: await openImage(nodeImageFileSystem, img.file, { readOnly: true, format: 'vmdk' }), expected: img.expected }));
}

describe('VMDK: read-only', () => {
  it('opening a vmdk writable fails with a hint to attach it read-only or convert it', async () => {
    const e = await openImage(nodeImageFileSystem, images[0].file).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(TypervisorError);
    expect((e as TypervisorError).message).toMatch(/sparse\.vmdk: vmdk images are read-only in typervisor$/);
    expect((e as TypervisorError).hint).toMatch(/attach it with ,readonly or convert it: typervisor img convert -O qcow2 /);
  });

  it('a single sparse extent in memory opens without a file system; a descriptor needs one', async () => {
    const sparse = await VmdkImage.open(new MemoryImageFile(new Uint8Array(readFileSync(images[0].file)), { name: 'm.vmdk', writable: false }));
    expect(sparse.info.createType).toBe('monolithicSparse');
    expect(sparse.info.extents[0]).toMatchObject({ clusterSize: 65536, virtualSize: DISK_SIZE, format: '' });
    await expect(sparse.write(0, new Uint8Array(1))).rejects.toThrow(/read-only/);
    await sparse.close();
    const flat = images.find((i) => i.label === 'monolithicFlat')!;
    await expect(VmdkImage.open(new MemoryImageFile(new Uint8Array(readFileSync(flat.file)), { name: 'd.vmdk' }))).rejects.toThrow(/descriptor files need their extent files/);
  });
});

describe('VMDK as a backing file and as a --disk', () => {
  it('a qcow2 overlay on a vmdk backing file reads as qemu-img reads it', async () => {
    const base = images.find((i) => i.label === 'streamOptimized')!.file;
    const overlay = path.join(tmp.dir, 'over.qcow2');
    qemu('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', base, '-F', 'vmdk', overlay]);
    qemuIo(overlay, ['write -P 0x77 1M 4k']);
    const disk = await openImage(nodeImageFileSystem, overlay, { readOnly: true });
    const all = new Uint8Array(disk.capacity);
    await disk.read(0, all);
    await disk.close();
    expect(firstDifference(all, qemuRaw(overlay, tmp.dir))).toBeUndefined();
  });

  it('openDisks attaches a vmdk with ,readonly and refuses it without', async () => {
    const file = images[0].file;
    const disks = await openDisks([parseDiskSpec(`${file},readonly`), parseDiskSpec(`${file},format=vmdk,ro=on`)]);
    expect(disks.map((d) => [d.backend.capacity, d.backend.readOnly])).toEqual([[DISK_SIZE, true], [DISK_SIZE, true]]);
    await closeDisks(disks);
    const e = await openDisks([parseDiskSpec(file)]).catch((x: unknown) => x as TypervisorError);
    expect(e).toBeInstanceOf(TypervisorError);
    expect((e as TypervisorError).message).toBe(`--disk ${file}: vmdk images are read-only in typervisor`);
    expect((e as TypervisorError).hint).toMatch(/^attach it with ,readonly or convert it/);
  });
});

describe('VMDK disks split into several extents', () => {
  const GiB = 1024 ** 3;
  // Across both 2 GiB extent boundaries, and the last sector.
  const writes: Array<[number, number, number]> = [[2 * GiB - 3000, 6000, 0x21], [4 * GiB - 512, 1024, 0x22], [5 * GiB - 512, 512, 0x23], [12345, 100, 0x24]];
  for (const subformat of ['twoGbMaxExtentSparse', 'twoGbMaxExtentFlat']) {
    it(`${subformat}, 5 GiB in three extent files, reads what qemu-io wrote where it wrote it`, async () => {
      const file = path.join(tmp.dir, `${subformat}.vmdk`);
      qemu('qemu-img', ['create', '-q', '-f', 'vmdk', '-o', `subformat=${subformat}`, file, '5G']);
      qemuIo(file, writes.map(([at, len, p]) => `write -P ${p} ${at} ${len}`), ['-f', 'vmdk']);
      const disk = (await openImage(nodeImageFileSystem, file, { readOnly: true })) as VmdkImage;
      try {
        expect(disk.capacity).toBe(5 * GiB);
        expect(disk.info.extents.map((e) => e.virtualSize)).toEqual([2 * GiB, 2 * GiB, GiB]);
        for (const [at, len, p] of writes) {
          const around = new Uint8Array(len + 2048);
          const from = Math.max(0, at - 1024);
          const got = around.subarray(0, Math.min(around.length, disk.capacity - from));
          await disk.read(from, got);
          const want = new Uint8Array(got.length);
          want.fill(p, at - from, at - from + len);
          expect(firstDifference(got, want), `at ${at}`).toBeUndefined();
        }
        // And qemu-io agrees with what we read across the first boundary.
        qemuIo(file, [`read -P 0x21 ${2 * GiB - 3000} 6000`, `read -P 0 ${2 * GiB + 3000} 1024`], ['-f', 'vmdk']);
      } finally {
        await disk.close();
      }
    });
  }

  it('compat6 (VMDK version 6 hardware) reads', async () => {
    const file = path.join(tmp.dir, 'compat6.vmdk');
    qemu('qemu-img', ['create', '-q', '-f', 'vmdk', '-o', 'compat6=on', file, '1M']);
    qemuIo(file, ['write -P 0x61 1000 3000'], ['-f', 'vmdk']);
    const disk = await openImage(nodeImageFileSystem, file, { readOnly: true });
    const all = new Uint8Array(disk.capacity);
    await disk.read(0, all);
    await disk.close();
    expect(firstDifference(all, qemuRaw(file, tmp.dir))).toBeUndefined();
  });
});

describe('VMDK delta disks (parentFileNameHint)', () => {
  const base = () => images.find((i) => i.label === 'monolithicSparse (qemu-img convert)')!.file;
  const deltaWrites = ['write -P 0x55 64k 4k', 'write -P 0x56 1048000 100k', 'write -z 2M 64k', `write -P 0x57 ${DISK_SIZE - 1024} 1024`];

  for (const options of ['subformat=monolithicSparse', 'subformat=monolithicSparse,zeroed_grain=on', 'subformat=twoGbMaxExtentSparse', 'subformat=streamOptimized']) {
    it(`${options}: reads its grains over the parent's, as qemu-img does`, async () => {
      const delta = path.join(tmp.dir, `delta-${options.replace(/\W/g, '-')}.vmdk`);
      qemu('qemu-img', ['create', '-q', '-f', 'vmdk', '-o', options, '-b', path.basename(base()), '-F', 'vmdk', delta]);
      if (!options.includes('streamOptimized')) qemuIo(delta, deltaWrites, ['-f', 'vmdk']);
      const disk = (await openImage(nodeImageFileSystem, delta, { readOnly: true })) as VmdkImage;
      try {
        expect(disk.parent).toBeInstanceOf(VmdkImage);
        const all = new Uint8Array(disk.capacity);
        await disk.read(0, all);
        expect(firstDifference(all, qemuRaw(delta, tmp.dir))).toBeUndefined();
        if (options.includes('zeroed')) expect(disk.sparseExtents[0].lookups.zero).toBeGreaterThan(0);
      } finally {
        await disk.close();
      }
    });
  }

  it('refuses a parent whose CID is not the delta\'s parentCID, and a delta that is its own parent', async () => {
    const parent = path.join(tmp.dir, 'p.vmdk');
    const delta = path.join(tmp.dir, 'd.vmdk');
    qemu('qemu-img', ['create', '-q', '-f', 'vmdk', parent, '1M']);
    qemu('qemu-img', ['create', '-q', '-f', 'vmdk', '-b', 'p.vmdk', '-F', 'vmdk', delta]);
    const p = readFileSync(parent);
    const at = p.indexOf('\nCID=') + 5;
    const cid = p.subarray(at, at + 8).toString();
    p.write(cid === '00000000' ? '00000001' : '00000000', at, 'latin1');
    const fs = new MemoryImageFileSystem({ 'p.vmdk': new Uint8Array(p), 'd.vmdk': new Uint8Array(readFileSync(delta)) });
    await expect(openImage(fs, 'd.vmdk', { readOnly: true })).rejects.toThrow(new RegExp(`d\\.vmdk: parentCID is ${cid} but the parent p\\.vmdk has CID 0000000[01]: the parent changed after this delta disk was made`));
    const self = readFileSync(delta);
    self.write('parentFileNameHint="d.vmdk"', self.indexOf('parentFileNameHint="p.vmdk"'), 'latin1');
    await expect(openImage(new MemoryImageFileSystem({ 'd.vmdk': new Uint8Array(self) }), 'd.vmdk', { readOnly: true })).rejects.toThrow(/backing chain loop: d\.vmdk -> d\.vmdk/);
    await expect(VmdkImage.open(new MemoryImageFile(new Uint8Array(readFileSync(delta)), { name: 'd.vmdk' }))).rejects.toThrow(/d\.vmdk: this VMDK delta disk needs its parent "p\.vmdk", and none can be opened here/);
  });
});
