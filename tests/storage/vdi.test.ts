import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { TypervisorError } from '../../src/core/errors.js';
import { nodeImageFileSystem } from '../../src/host/storage-file.js';
import { MemoryImageFile } from '../../src/storage/memory-image-file.js';
import { openImage } from '../../src/storage/open-image.js';
import { VdiImage } from '../../src/storage/vdi/vdi-image.js';
import { blockBackendConformance } from './conformance.js';
import { firstDifference, tempDir } from './qemu-tools.js';
import { DISK_SIZE, vdiImages } from './vmdk-vdi-images.js';

const tmp = tempDir('vdi-');
afterAll(() => tmp.remove());
const images = vdiImages(tmp.dir);

describe('VDI images made by qemu-img read as qemu-img reads them', () => {
  for (const img of images) {
    it(img.label, async () => {
      expect(img.expected.length).toBe(DISK_SIZE);
      const disk = await openImage(nodeImageFileSystem, img.file, { readOnly: true });
      try {
        expect(disk).toBeInstanceOf(VdiImage);
        const all = new Uint8Array(disk.capacity);
        await disk.read(0, all);
        expect(firstDifference(all, img.expected)).toBeUndefined();
      } finally {
        await disk.close();
      }
    });
  }

  it('the static image maps every block; the dynamic ones leave the untouched block free', async () => {
    const kinds = await Promise.all(
      images.map(async (img) => {
        const d = (await openImage(nodeImageFileSystem, img.file, { readOnly: true })) as VdiImage;
        const r = [d.header.imageType, d.allocatedBlocks, d.header.blocksInImage];
        await d.close();
        return r;
      }),
    );
    expect(kinds[1]).toEqual([2, 6, 6]);
    // Block 3 (3..4 MiB) holds only the byte at 3333333; block 4 holds only zeros written over data.
    expect(kinds[0][0]).toBe(1);
    expect(kinds[0][1]).toBeLessThan(6);
  });
});

for (const img of images) {
  blockBackendConformance(`vdi ${img.label}`, async () => ({
    backend: await VdiImage.open(new MemoryImageFile(new Uint8Array(readFileSync(img.file)), { name: 'm.vdi', writable: false })),
    expected: img.expected,
  }));
}

describe('VDI: read-only', () => {
  it('opening a vdi writable fails with a hint to attach it read-only or convert it', async () => {
    const e = await openImage(nodeImageFileSystem, images[0].file).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(TypervisorError);
    expect((e as TypervisorError).message).toMatch(/dynamic\.vdi: vdi images are read-only in typervisor$/);
    expect((e as TypervisorError).hint).toMatch(/^attach it with ,readonly or convert it: typervisor img convert -O qcow2 /);
    const d = await openImage(nodeImageFileSystem, images[0].file, { readOnly: true, format: 'vdi' });
    await expect(d.write(0, new Uint8Array(512))).rejects.toThrow(/vdi images are read-only/);
    await d.close();
  });
});
