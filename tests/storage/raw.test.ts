import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TypervisorError } from '../../src/core/errors.js';
import { NodeImageFile, nodeImageFileSystem } from '../../src/host/storage-file.js';
import { MemoryImageFile } from '../../src/storage/memory-image-file.js';
import { openImage } from '../../src/storage/open-image.js';
import { RawImage } from '../../src/storage/raw/raw-image.js';
import { blockBackendConformance } from './conformance.js';
import { tempDir } from './qemu-tools.js';

const SIZE = 3 * 1024 * 1024 + 512;
const content = Uint8Array.from({ length: SIZE }, (_, i) => (i * 2654435761) >>> 24);
const tmp = tempDir('raw-');
afterAll(() => tmp.remove());
let n = 0;
function rawFile(): string {
  const file = path.join(tmp.dir, `disk${n++}.raw`);
  writeFileSync(file, content);
  return file;
}

blockBackendConformance('raw in memory, writable', async () => ({ backend: await RawImage.open(new MemoryImageFile(content)), expected: content }));
blockBackendConformance('raw in memory, read-only', async () => ({
  backend: await RawImage.open(new MemoryImageFile(content, { writable: false })),
  expected: content,
}));
blockBackendConformance('raw on a Node file, writable', async () => ({ backend: await openImage(nodeImageFileSystem, rawFile(), { format: 'raw' }), expected: content }));
blockBackendConformance('raw on a Node file, read-only', async () => ({
  backend: await openImage(nodeImageFileSystem, rawFile(), { readOnly: true }),
  expected: content,
}));

describe('raw images', () => {
  it('writes reach the file; discard is a validated no-op that keeps the old bytes', async () => {
    const file = new MemoryImageFile(new Uint8Array(8192));
    const disk = await RawImage.open(file);
    await disk.write(100, Uint8Array.of(1, 2, 3));
    await disk.discard(0, 4096);
    expect([...file.contents().subarray(99, 104)]).toEqual([0, 1, 2, 3, 0]);
    await expect(disk.discard(4096, 4097)).rejects.toBeInstanceOf(TypervisorError);
    await disk.close();
  });

  it('a read-only disk refuses discard; a read-only file cannot be opened for writing', async () => {
    const ro = await RawImage.open(new MemoryImageFile(new Uint8Array(4096)), { readOnly: true });
    await expect(ro.discard(0, 512)).rejects.toThrow(/read-only/);
    await expect(RawImage.open(new MemoryImageFile(new Uint8Array(1), { writable: false }), { readOnly: false })).rejects.toThrow(/read-only/);
  });

  it('a missing file is a TypervisorError naming it', async () => {
    const missing = path.join(tmp.dir, 'nope.raw');
    await expect(openImage(nodeImageFileSystem, missing)).rejects.toThrow(/nope\.raw: cannot open: no such file/);
  });

  it('NodeImageFile reads short only at the end of the file', async () => {
    const f = await NodeImageFile.open(rawFile());
    const dst = new Uint8Array(1000);
    expect(await f.pread(dst, SIZE - 10)).toBe(10);
    expect(await f.pread(dst, SIZE + 10)).toBe(0);
    await f.close();
  });

  it('MemoryImageFile grows on write and truncates with zeros', async () => {
    const f = new MemoryImageFile();
    await f.pwrite(Uint8Array.of(9), 10_000);
    expect(await f.size()).toBe(10_001);
    await f.truncate(5);
    await f.truncate(20_000);
    const dst = new Uint8Array(1);
    await f.pread(dst, 10_000);
    expect(dst[0]).toBe(0);
  });
});
