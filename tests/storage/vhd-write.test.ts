// Writing VHD images: random writes (unaligned, across block boundaries) into images we create
// and into images qemu-img made read back through qemu-img exactly as our model of the disk
// says; a process killed at any of our file writes leaves an image qemu-img opens with every
// flushed write intact.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { TypervisorError } from '../../src/core/errors.js';
import { MemoryImageFile } from '../../src/storage/memory-image-file.js';
import { createVhd } from '../../src/storage/vhd/vhd-create.js';
import { VhdImage } from '../../src/storage/vhd/vhd-image.js';
import { DyingFile } from './dying-file.js';
import { firstDifference, qemu, qemuIo, tempDir } from './qemu-tools.js';
import { rng, type Write } from './seeded-writes.js';

const tmp = tempDir('vhd-write-');
afterAll(() => tmp.remove());
const at = (name: string) => path.join(tmp.dir, name);
const MiB = 1024 * 1024;

/** The disk's bytes as qemu-img reads them (-f vpc: a fixed VHD probes as raw). */
function qemuRaw(file: string): Uint8Array {
  const out = `${file}.reference.raw`;
  qemu('qemu-img', ['convert', '-f', 'vpc', '-O', 'raw', file, out]);
  const bytes = new Uint8Array(readFileSync(out));
  rmSync(out);
  return bytes;
}

/** Writes that hit block boundaries, the first and last sectors, and odd offsets and lengths. */
function randomWrites(seed: number, capacity: number, count: number): Write[] {
  const r = rng(seed);
  const out: Write[] = [];
  const bs = 2 * MiB;
  for (let i = 0; i < count; i++) {
    const kind = i % 4;
    let offset: number;
    let length: number;
    if (kind === 0) {
      const boundary = bs * (1 + Math.floor(r() * Math.max(1, Math.floor(capacity / bs) - 1)));
      offset = Math.max(0, Math.min(capacity - 1, boundary - 1 - Math.floor(r() * 3000)));
      length = 1 + Math.floor(r() * 7000);
    } else if (kind === 1) {
      offset = Math.floor(r() * capacity);
      length = 1 + Math.floor(r() * 1500);
    } else if (kind === 2) {
      offset = Math.floor((r() * capacity) / 512) * 512;
      length = 512 * (1 + Math.floor(r() * 300));
    } else {
      offset = r() < 0.5 ? 0 : capacity - 1 - Math.floor(r() * 700);
      length = 1 + Math.floor(r() * 900);
    }
    length = Math.min(length, capacity - offset);
    const fill = 1 + Math.floor(r() * 254);
    out.push({ offset, data: Uint8Array.from({ length }, (_, j) => (fill + j * 7) & 0xff) });
  }
  return out;
}

async function readAll(d: VhdImage): Promise<Uint8Array> {
  const all = new Uint8Array(d.capacity);
  await d.read(0, all);
  return all;
}

describe('writing VHD images', () => {
  for (const subformat of ['dynamic', 'fixed'] as const) {
    it(`${subformat}: random writes into an image we create read back identically through qemu-img`, async () => {
      const m = new MemoryImageFile();
      const size = await createVhd(m, { size: 9 * MiB + 1000, subformat });
      const d = await VhdImage.open(m, { readOnly: false });
      expect(d.capacity).toBe(size);
      const model = new Uint8Array(size);
      for (const w of randomWrites(subformat === 'dynamic' ? 7 : 8, size, 60)) {
        await d.write(w.offset, w.data);
        model.set(w.data, w.offset);
      }
      await d.flush();
      expect(firstDifference(await readAll(d), model)).toBeUndefined();
      await d.close();
      const file = at(`ours-${subformat}.vhd`);
      writeFileSync(file, m.contents());
      expect(firstDifference(qemuRaw(file), model)).toBeUndefined();
      const ref = at(`ours-${subformat}.raw`);
      writeFileSync(ref, model);
      const cmp = spawnSync('qemu-img', ['compare', '-f', 'vpc', '-F', 'raw', file, ref], { encoding: 'utf8' });
      expect(cmp.stdout + cmp.stderr).toBe('Images are identical.\n');
      expect(cmp.status).toBe(0);
      // qemu-io writes more; we read what both wrote.
      qemuIo(file, ['write -P 0x77 2097000 1000', `write -P 0x78 ${size - 512} 512`], ['-f', 'vpc']);
      model.fill(0x77, 2097000, 2098000);
      model.fill(0x78, size - 512, size);
      const again = await VhdImage.open(new MemoryImageFile(new Uint8Array(readFileSync(file))));
      expect(firstDifference(await readAll(again), model)).toBeUndefined();
      await again.close();
    });
  }

  it('dynamic: writes into an image qemu-img made and filled keep its data (property)', async () => {
    const src = at('qemu-made.vhd');
    qemu('qemu-img', ['create', '-q', '-f', 'vpc', src, '6M']);
    qemuIo(src, ['write -P 0x31 0 1M', 'write -P 0x32 2095000 5000', 'write -P 0x33 5M 64k'], ['-f', 'vpc']);
    const base = new Uint8Array(readFileSync(src));
    const baseModel = qemuRaw(src);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 1e9 }), async (seed) => {
        const m = new MemoryImageFile(base);
        const d = await VhdImage.open(m, { readOnly: false });
        const model = baseModel.slice();
        for (const w of randomWrites(seed, d.capacity, 12)) {
          await d.write(w.offset, w.data);
          model.set(w.data, w.offset);
        }
        await d.close();
        const file = at(`qemu-made-${seed}.vhd`);
        writeFileSync(file, m.contents());
        expect(firstDifference(qemuRaw(file), model)).toBeUndefined();
        rmSync(file);
      }),
      { numRuns: 8 },
    );
  });

  it('allocates a block at the end with its bitmap and moves the footer (file layout as qemu-img\'s)', async () => {
    const m = new MemoryImageFile();
    await createVhd(m, { size: 10 * MiB });
    const before = (await m.size()) - 512;
    const d = await VhdImage.open(m, { readOnly: false });
    await d.write(3 * MiB + 1024, new Uint8Array(512).fill(9));
    await d.close();
    const b = m.contents();
    const v = new DataView(b.buffer);
    // BAT entry 1 → the old footer's place; the block, its 512-byte bitmap, then the footer.
    expect(v.getUint32(1536 + 4)).toBe(before / 512);
    expect(b.length).toBe(before + 512 + 2 * MiB + 512);
    expect(Buffer.from(b.subarray(b.length - 512)).equals(Buffer.from(b.subarray(0, 512)))).toBe(true);
    // Sectors 2048 and 2049 of the block are not written: only bit 2050 of the bitmap is set (MSB first).
    const bitmap = b.subarray(before, before + 512);
    expect(bitmap[2050 >> 3]).toBe(0x80 >> (2050 & 7));
    expect(bitmap.reduce((n, x) => n + x, 0)).toBe(0x80 >> (2050 & 7));
  });

  it('read-only images refuse writes', async () => {
    const m = new MemoryImageFile();
    await createVhd(m, { size: MiB });
    const d = await VhdImage.open(m);
    await expect(d.write(0, new Uint8Array(1))).rejects.toBeInstanceOf(TypervisorError);
    await d.close();
  });
});

describe('a process killed during dynamic VHD writes', () => {
  it('leaves an image qemu-img reads, with every flushed write intact, at every kill point', async () => {
    const m0 = new MemoryImageFile();
    const size = await createVhd(m0, { size: 7 * MiB });
    // Flushed state before the run: a few writes.
    const pre = await VhdImage.open(m0, { readOnly: false });
    const flushed = new Uint8Array(size);
    for (const w of randomWrites(3, size, 6)) {
      await pre.write(w.offset, w.data);
      flushed.set(w.data, w.offset);
    }
    await pre.close();
    const start = m0.contents();
    const writes = randomWrites(11, size, 14);
    // Count the file writes a full run makes, then kill at each of them.
    const counter = new DyingFile(new MemoryImageFile(start), Number.MAX_SAFE_INTEGER);
    {
      const d = await VhdImage.open(counter, { readOnly: false });
      for (const w of writes) {
        await d.write(w.offset, w.data);
        await d.flush();
      }
      await d.close();
    }
    const total = counter.writes;
    expect(total).toBeGreaterThan(writes.length);
    for (let budget = 0; budget <= total; budget++) {
      const inner = new MemoryImageFile(start);
      const dying = new DyingFile(inner, budget);
      const model = flushed.slice();
      let died: Write | undefined;
      const d = await VhdImage.open(dying, { readOnly: false });
      for (const w of writes) {
        try {
          await d.write(w.offset, w.data);
          await d.flush();
        } catch (e) {
          expect((e as Error).message).toBe('killed');
          died = w;
          break;
        }
        model.set(w.data, w.offset);
      }
      const bytes = inner.contents();
      const file = at(`killed-${budget}.vhd`);
      writeFileSync(file, bytes);
      // qemu-img and we both read the image; each byte of the write in flight is old or new.
      const views = [['qemu-img', qemuRaw(file)], ['typervisor', await readAll(await VhdImage.open(new MemoryImageFile(bytes)))]] as const;
      for (const [who, got] of views) {
        if (died !== undefined) {
          for (let i = 0; i < died.data.length; i++) {
            const b = got[died.offset + i];
            if (b !== died.data[i] && b !== model[died.offset + i]) expect(`${who}, budget ${budget}: byte ${died.offset + i} is ${b}`).toBe('old or new');
          }
          got.set(model.subarray(died.offset, died.offset + died.data.length), died.offset);
        }
        expect(firstDifference(got, model), `${who}, budget ${budget}`).toBeUndefined();
      }
      // Writing on after the crash (into what a killed allocation left) keeps everything.
      const after = new MemoryImageFile(bytes);
      const d2 = await VhdImage.open(after, { readOnly: false });
      const view = await readAll(d2);
      for (const w of randomWrites(budget + 100, size, 4)) {
        await d2.write(w.offset, w.data);
        view.set(w.data, w.offset);
      }
      await d2.close();
      writeFileSync(file, after.contents());
      expect(firstDifference(qemuRaw(file), view), `after budget ${budget}`).toBeUndefined();
      rmSync(file);
    }
  }, 120_000);
});
