// `typervisor img` on VMDK and VDI images against Debian's qemu-img: info prints what qemu-img
// info prints, convert makes images qemu-img compare finds identical, compare agrees.
import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { firstDifference, qemu, qemuIo, tempDir } from './qemu-tools.js';
import { vdiImages, vmdkImages } from './vmdk-vdi-images.js';
import { img } from './typervisor-img.js';

const { dir, remove } = tempDir('vmdk-vdi-cli-');
afterAll(remove);
const images = [...vmdkImages(dir), ...vdiImages(dir)];

function qemuStatus(args: string[]): { status: number; stdout: string } {
  const r = spawnSync('qemu-img', args, { encoding: 'utf8' });
  return { status: r.status ?? -1, stdout: r.stdout };
}

let n = 0;
describe('img info on vmdk and vdi images says what qemu-img info says', () => {
  for (const image of images) {
    it(image.label, async () => {
      for (const output of ['human', 'json']) {
        const ours = await img('info', '--output', output, image.file);
        expect(ours.stderr).toBe('');
        expect(ours.stdout).toBe(qemu('qemu-img', ['info', '--output', output, image.file]));
      }
    });
  }
});

describe('img convert from vmdk and vdi', () => {
  for (const image of images) {
    it(`${image.label} -> qcow2 and raw: qemu-img compare says identical`, async () => {
      const fmt = image.file.endsWith('.vdi') ? 'vdi' : 'vmdk';
      const q = path.join(dir, `out${n++}.qcow2`);
      expect(await img('convert', '-f', fmt, '-O', 'qcow2', image.file, q)).toMatchObject({ status: 0, stderr: '' });
      expect(qemuStatus(['compare', '-f', fmt, '-F', 'qcow2', image.file, q])).toMatchObject({ status: 0, stdout: 'Images are identical.\n' });
      expect(qemuStatus(['check', q]).status).toBe(0);
      const r = path.join(dir, `out${n++}.raw`);
      expect((await img('convert', image.file, r)).status).toBe(0);
      expect(firstDifference(new Uint8Array(readFileSync(r)), image.expected)).toBeUndefined();
    });
  }

  it('-O vmdk and -O vdi are refused: the output formats stay raw and qcow2', async () => {
    for (const fmt of ['vmdk', 'vdi']) {
      const r = await img('convert', '-O', fmt, images[0].file, path.join(dir, `no.${fmt}`));
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/Allowed choices are qcow2, raw/);
    }
  });
});

describe('img compare with vmdk and vdi images', () => {
  it('every vmdk and vdi made from one source compares identical to each other, as qemu-img says', async () => {
    const a = images.find((i) => i.label === 'streamOptimized')!.file;
    for (const b of images.filter((i) => !/qemu-io/.test(i.label) && !/^(monolithicFlat|twoGb|monolithicSparse with)/.test(i.label))) {
      expect([b.label, (await img('compare', a, b.file)).stdout]).toEqual([b.label, 'Images are identical.\n']);
      expect(qemuStatus(['compare', a, b.file]).status).toBe(0);
    }
  });

  it('a changed byte is found at the sector qemu-img compare names', async () => {
    const flat = images.find((i) => i.label === 'monolithicFlat')!.file;
    const copy = path.join(dir, 'changed.qcow2');
    qemu('qemu-img', ['convert', '-O', 'qcow2', flat, copy]);
    qemuIo(copy, ['write -P 0x01 3000001 1']);
    const ours = await img('compare', '-f', 'vmdk', flat, copy);
    const theirs = qemuStatus(['compare', flat, copy]);
    expect([ours.status, ours.stdout]).toEqual([theirs.status, theirs.stdout]);
    expect(ours.stdout).toMatch(/^Content mismatch at offset 2999808!/);
  });
});

describe('img check on vmdk and vdi images', () => {
  it('exits 63 (a format without checks, as qemu-img for raw) and says so', async () => {
    for (const image of [images[0], images[images.length - 1]]) {
      const r = await img('check', image.file);
      expect(r.status).toBe(63);
      expect(r.stderr).toMatch(/: checking (vmdk|vdi) images is not supported .*\nhint: img check examines qcow2 images; qemu-img check can check this one\n$/);
    }
  });
});

describe('img on damaged vmdk and vdi images', () => {
  it('info, convert and compare fail with the precise message, exit 1 (compare 2)', async () => {
    const bad = path.join(dir, 'bad.vmdk');
    const bytes = new Uint8Array(readFileSync(images[0].file));
    new DataView(bytes.buffer).setBigUint64(20, 3n, true); // grainSize
    writeFileSync(bad, bytes);
    const info = await img('info', bad);
    expect(info.status).toBe(1);
    expect(info.stderr).toMatch(/bad\.vmdk: bad VMDK header: header grainSize is 3 sectors; it must be a power of two from 1 to 2048/);
    expect((await img('convert', '-O', 'qcow2', bad, path.join(dir, 'never.qcow2'))).stderr).toMatch(/grainSize is 3/);
    expect((await img('compare', bad, images[0].file)).status).toBe(2);
    const vdi = path.join(dir, 'bad.vdi');
    copyFileSync(images.find((i) => i.file.endsWith('static.vdi'))!.file, vdi);
    const v = new Uint8Array(readFileSync(vdi));
    new DataView(v.buffer).setUint32(0x178, 4096, true); // block_size
    writeFileSync(vdi, v);
    expect((await img('info', vdi)).stderr).toMatch(/bad\.vdi: bad VDI header: block_size is 4096; only 1048576 \(1 MiB\) is supported/);
  });
});

describe('vmdk and vdi as backing files', () => {
  it('img create -b a vmdk/vdi: the overlay compares identical, info --backing-chain prints what qemu-img prints', async () => {
    for (const base of [images.find((i) => i.label === 'streamOptimized')!, images.find((i) => i.label === 'static=on')!]) {
      const overlay = path.join(dir, `over-${path.basename(base.file)}.qcow2`);
      expect((await img('create', '-q', '-f', 'qcow2', '-b', path.basename(base.file), overlay)).status).toBe(0);
      expect(qemuStatus(['compare', overlay, base.file]).status).toBe(0);
      expect((await img('info', '--backing-chain', overlay)).stdout).toBe(qemu('qemu-img', ['info', '--backing-chain', overlay]));
      // (Field order of qcow2 JSON differs from qemu-img's; the values must not.)
      expect(JSON.parse((await img('info', '--backing-chain', '--output', 'json', overlay)).stdout)).toEqual(JSON.parse(qemu('qemu-img', ['info', '--backing-chain', '--output', 'json', overlay])));
    }
  });
});

describe('vmdk delta disks in img', () => {
  it('info (with --backing-chain) prints what qemu-img prints; convert gives the merged disk', async () => {
    const base = images.find((i) => i.label === 'streamOptimized')!;
    const delta = path.join(dir, 'delta.vmdk');
    qemu('qemu-img', ['create', '-q', '-f', 'vmdk', '-b', path.basename(base.file), '-F', 'vmdk', delta]);
    qemuIo(delta, ['write -P 0x66 100k 200k'], ['-f', 'vmdk']);
    for (const args of [['info'], ['info', '--output', 'json'], ['info', '--backing-chain']]) {
      expect((await img(...args, delta)).stdout).toBe(qemu('qemu-img', [...args, delta]));
    }
    const out = path.join(dir, 'merged.qcow2');
    expect((await img('convert', '-O', 'qcow2', delta, out)).status).toBe(0);
    expect(qemuStatus(['compare', delta, out]).status).toBe(0);
  });
});
