// `img convert -c -O qcow2` against Debian's qemu-img: the output is clean under qemu-img check,
// which counts its compressed clusters; qemu-img compare finds it identical to the source; it
// is smaller than the uncompressed conversion; our writer overwrites and discards compressed
// clusters with exact refcounts; a kill at any write leaves leaks at most.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deflateCluster } from '../../src/cli/img-convert-compressed.js';
import { TypervisorError } from '../../src/core/errors.js';
import { NodeImageFile } from '../../src/host/storage-file.js';
import { MemoryImageFile } from '../../src/storage/memory-image-file.js';
import { createQcow2 } from '../../src/storage/qcow2/qcow2-create.js';
import { Qcow2Image } from '../../src/storage/qcow2/qcow2-image.js';
import { DyingFile } from './dying-file.js';
import { firstDifference, qemu, qemuIo, qemuRaw, tempDir } from './qemu-tools.js';
import { img } from './typervisor-img.js';

const tmp = tempDir('qcow2-compress-');
afterAll(() => tmp.remove());
const at = (name: string) => path.join(tmp.dir, name);

function qemuCheck(file: string): { status: number; report: Record<string, number> } {
  const r = spawnSync('qemu-img', ['check', '--output', 'json', file], { encoding: 'utf8' });
  return { status: r.status ?? -1, report: JSON.parse(r.stdout) as Record<string, number> };
}

function compare(a: string, b: string): number {
  return spawnSync('qemu-img', ['compare', '-q', a, b]).status ?? -1;
}

/** Text (this repository's sources: compressible), random bytes (not), zeros, and a partial last cluster. */
let source: Uint8Array;
beforeAll(() => {
  const text: Buffer[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(d, e.name));
      else if (e.name.endsWith('.ts')) text.push(readFileSync(path.join(d, e.name)));
    }
  };
  walk(path.join(__dirname, '../../src/storage'));
  const t = Buffer.concat(text).subarray(0, 1536 * 1024);
  const size = 5 * 1024 * 1024 + 1536; // not a multiple of any cluster size above 512
  source = new Uint8Array(size);
  source.set(t, 0);
  source.set(randomBytes(300 * 1024), 2 * 1024 * 1024);
  source.set(t.subarray(0, 700 * 1024), 3 * 1024 * 1024 + 1000);
  source.fill(0x42, size - 3000); // into the partial last cluster
  writeFileSync(at('src.raw'), source);
});

describe('img convert -c -O qcow2', () => {
  for (const cs of [4096, 65536, 512]) {
    it(`with ${cs}-byte clusters: qemu-img check clean, compare identical, compressed clusters where they shrink`, async () => {
      const out = at(`c-${cs}.qcow2`);
      const plain = at(`p-${cs}.qcow2`);
      expect((await img('convert', '-c', '-O', 'qcow2', '-o', `cluster_size=${cs}`, at('src.raw'), out)).status).toBe(0);
      expect((await img('convert', '-O', 'qcow2', '-o', `cluster_size=${cs}`, at('src.raw'), plain)).status).toBe(0);
      const { status, report } = qemuCheck(out);
      expect(status).toBe(0);
      expect(report['leaks'] ?? 0).toBe(0);
      expect(compare(at('src.raw'), out)).toBe(0);
      expect(firstDifference(qemuRaw(out, tmp.dir), source)).toBeUndefined();
      // qemu-img's own -c conversion of the same source, for the count of clusters worth compressing.
      const theirs = at(`q-${cs}.qcow2`);
      qemu('qemu-img', ['convert', '-c', '-O', 'qcow2', '-o', `cluster_size=${cs}`, at('src.raw'), theirs]);
      const q = qemuCheck(theirs).report;
      expect(report['allocated-clusters']).toBe(q['allocated-clusters']);
      if (cs === 512) {
        // Nothing fits in less than one sector: all stored plainly, as qemu-img does.
        expect(report['compressed-clusters'] ?? 0).toBe(0);
        return;
      }
      // QEMU compresses what fits in a cluster minus one byte; we, what saves a whole sector.
      expect(report['compressed-clusters']).toBeGreaterThan(0.9 * q['compressed-clusters']);
      expect(report['compressed-clusters']).toBeLessThanOrEqual(q['compressed-clusters']);
      // The random stretch stays uncompressed.
      expect(report['allocated-clusters'] - report['compressed-clusters']).toBeGreaterThanOrEqual(Math.floor((300 * 1024) / cs));
      expect(statSync(out).size).toBeLessThan(0.75 * statSync(plain).size);
      expect(statSync(out).size).toBeLessThan(1.1 * statSync(theirs).size);
    });
  }

  it('converts qemu-made images with snapshots, compressed clusters and zero clusters identically', async () => {
    const q = at('qsrc.qcow2');
    qemu('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'cluster_size=4096', q, '2M']);
    writeFileSync(at('text.bin'), source.subarray(0, 256 * 1024));
    qemuIo(q, ['write -P 7 0 64k', 'write -z 64k 64k', 'write -P 9 1M 4k']);
    qemu('qemu-img', ['snapshot', '-c', 's', q]);
    const out = at('qsrc-c.qcow2');
    expect((await img('convert', '-c', '-O', 'qcow2', q, out)).status).toBe(0);
    expect(qemuCheck(out).status).toBe(0);
    expect(compare(q, out)).toBe(0);
    const again = at('qsrc-cc.qcow2');
    expect((await img('convert', '-c', '-O', 'qcow2', out, again)).status).toBe(0);
    expect(compare(q, again)).toBe(0);
  });

  it('is refused for raw output', async () => {
    const r = await img('convert', '-c', '-O', 'raw', at('src.raw'), at('nope.raw'));
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/compression \(-c\) needs a qcow2 output/);
  });
});

describe('compressed clusters under our writer', () => {
  it('overwrites, partial writes and discards of packed compressed clusters keep refcounts exact', async () => {
    const out = at('rw.qcow2');
    expect((await img('convert', '-c', '-O', 'qcow2', '-o', 'cluster_size=4096', at('src.raw'), out)).status).toBe(0);
    const model = source.slice();
    const disk = await Qcow2Image.open(await NodeImageFile.open(out, { writable: true }), { readOnly: false });
    const writes: [number, number][] = [[0, 4096], [8192 + 100, 50], [12288, 9000], [3 * 1024 * 1024 + 4096, 4096]];
    for (const [off, len] of writes) {
      const data = new Uint8Array(len).fill(0xe5);
      await disk.write(off, data);
      model.set(data, off);
    }
    await disk.discard(40960, 8192 * 4);
    model.fill(0, 40960, 40960 + 8192 * 4);
    // New compressed clusters after the frees, over existing ones too.
    for (const c of [1, 30, 31, 600]) {
      const cluster = source.subarray(c * 4096, c * 4096 + 4096).slice();
      cluster[7] ^= 0xff;
      await disk.writeCompressed(c * 4096, deflateCluster(cluster));
      model.set(cluster, c * 4096);
    }
    const back = new Uint8Array(model.length);
    await disk.read(0, back);
    expect(firstDifference(back, model)).toBeUndefined();
    await disk.close();
    const { status, report } = qemuCheck(out);
    expect({ status, leaks: report['leaks'] ?? 0 }).toEqual({ status: 0, leaks: 0 });
    expect(firstDifference(qemuRaw(out, tmp.dir), model)).toBeUndefined();
  });

  it('refuses data that saves nothing, unaligned offsets and read-only disks', async () => {
    const mem = new MemoryImageFile();
    await createQcow2(mem, { size: 1 << 20, clusterSize: 4096 });
    const disk = await Qcow2Image.open(mem, { readOnly: false });
    await expect(disk.writeCompressed(0, new Uint8Array(4000))).rejects.toThrow(/saves no space/);
    await expect(disk.writeCompressed(512, new Uint8Array(100))).rejects.toThrow(/must start on a cluster/);
    await disk.close();
    const ro = await Qcow2Image.open(new MemoryImageFile(mem.contents()));
    await expect(ro.writeCompressed(0, new Uint8Array(100))).rejects.toThrow(/read-only/);
  });

  it('a process killed at any write of compressed writes leaves leaks at most and the acknowledged clusters', async () => {
    const mem = new MemoryImageFile();
    await createQcow2(mem, { size: 1 << 20, clusterSize: 4096 });
    const initial = mem.contents();
    const clusters = [0, 1, 2, 3, 200, 4, 5].map((c) => ({ c, data: source.slice(c * 4096, c * 4096 + 4096) }));
    for (let budget = 0; ; budget++) {
      const m = new MemoryImageFile(initial, { name: 'kill' });
      const disk = await Qcow2Image.open(new DyingFile(m, budget), { readOnly: false });
      const model = new Uint8Array(1 << 20);
      let died = false;
      for (const { c, data } of clusters) {
        try {
          await disk.writeCompressed(c * 4096, deflateCluster(data));
          model.set(data, c * 4096);
        } catch (e) {
          expect(e).toBeInstanceOf(TypervisorError);
          died = true;
          break;
        }
      }
      const out = at(`kill-${budget}.qcow2`);
      writeFileSync(out, m.contents());
      const { status, report } = qemuCheck(out);
      expect({ budget, status: status === 3 ? 0 : status, corruptions: report['corruptions'] ?? 0 }).toEqual({ budget, status: 0, corruptions: 0 });
      const got = qemuRaw(out, tmp.dir);
      // The cluster in flight may or may not have landed; all others are as acknowledged.
      for (const { c, data } of clusters) {
        const part = got.subarray(c * 4096, c * 4096 + 4096);
        if (firstDifference(part, model.subarray(c * 4096, c * 4096 + 4096)) !== undefined) {
          expect(died).toBe(true);
          expect(firstDifference(part, data)).toBeUndefined();
        }
      }
      if (!died) break;
      expect(budget).toBeLessThan(100);
    }
  });
});
