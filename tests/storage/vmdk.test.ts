import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { TypervisorError } from '../../src/core/errors.js';
import { nodeImageFileSystem } from '../../src/host/storage-file.js';
import { MemoryImageFile } from '../../src/storage/memory-image-file.js';
import { openImage } from '../../src/storage/open-image.js';
import { VmdkImage } from '../../src/storage/vmdk/vmdk-image.js';
import { blockBackendConformance } from './conformance.js';
import { firstDifference, tempDir } from './qemu-tools.js';
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
