// VHD (qemu-img's "vpc") against Debian's qemu-img/qemu-io: images qemu makes read as
// `qemu-img convert -O raw` reads them and have the size `qemu-img info` reports (creator
// applications and geometries included); images we create match qemu-img's field by field; the
// BlockBackend contract holds for fixed and dynamic disks; `typervisor img` agrees with qemu-img.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nodeImageFileSystem } from '../../src/host/storage-file.js';
import { parseDiskSpec } from '../../src/host/disk-image.js';
import { MemoryImageFile } from '../../src/storage/memory-image-file.js';
import { openImage } from '../../src/storage/open-image.js';
import { createVhd } from '../../src/storage/vhd/vhd-create.js';
import { vhdChecksum } from '../../src/storage/vhd/vhd-footer.js';
import { VhdImage } from '../../src/storage/vhd/vhd-image.js';
import { blockBackendConformance } from './conformance.js';
import { firstDifference, qemu, qemuIo, tempDir } from './qemu-tools.js';
import { img } from './typervisor-img.js';

const tmp = tempDir('vhd-');
afterAll(() => tmp.remove());
const at = (name: string) => path.join(tmp.dir, name);

/** The disk's bytes as qemu-img reads them with -f vpc (a fixed VHD probes as raw, as in QEMU). */
function qemuRaw(file: string, dir: string): Uint8Array {
  const out = path.join(dir, `${path.basename(file)}.reference.raw`);
  qemu('qemu-img', ['convert', '-f', 'vpc', '-O', 'raw', file, out]);
  const bytes = new Uint8Array(readFileSync(out));
  rmSync(out);
  return bytes;
}

function qemuInfo(file: string, format?: string): Record<string, unknown> {
  return JSON.parse(qemu('qemu-img', ['info', '--output', 'json', ...(format ? ['-f', format] : []), file])) as Record<string, unknown>;
}

/** A raw source filled by qemu-io (incl. across the 2 MiB block boundary and the last sector), converted by qemu-img to vpc. */
function qemuVhd(name: string, sizeBytes: number, subformat: 'fixed' | 'dynamic'): string {
  const src = at(`${name}.raw`);
  qemu('qemu-img', ['create', '-q', '-f', 'raw', src, String(sizeBytes)]);
  const last = Math.floor(sizeBytes / 512) * 512 - 512;
  qemuIo(src, ['write -P 0x11 0 64k', 'write -P 0x22 2047k 3k', `write -P 0x33 ${last} 512`, 'write -P 0x44 5000000 70000'], ['-f', 'raw']);
  const out = at(`${name}.vhd`);
  qemu('qemu-img', ['convert', '-f', 'raw', '-O', 'vpc', '-o', `subformat=${subformat}`, src, out]);
  return out;
}

async function ourRead(file: string, format = 'vpc'): Promise<Uint8Array> {
  const d = await openImage(nodeImageFileSystem, file, { format, readOnly: true });
  try {
    const all = new Uint8Array(d.capacity);
    await d.read(0, all);
    return all;
  } finally {
    await d.close();
  }
}

for (const subformat of ['dynamic', 'fixed'] as const) {
  const file = qemuVhd(`conf-${subformat}`, 7 * 1024 * 1024 + 12345, subformat);
  const bytes = new Uint8Array(readFileSync(file));
  const expected = qemuRaw(file, tmp.dir);
  blockBackendConformance(`vhd ${subformat} (qemu-img convert -O vpc), writable`, async () => ({
    backend: await VhdImage.open(new MemoryImageFile(bytes), { readOnly: false }),
    expected,
  }));
  blockBackendConformance(`vhd ${subformat}, read-only`, async () => ({
    backend: await VhdImage.open(new MemoryImageFile(bytes, { writable: false })),
    expected,
  }));
}

describe('VHD images qemu-img makes', () => {
  const cases: Array<[string, string[], string]> = [
    ['dynamic 10M', [], '10M'],
    ['dynamic 1000 bytes', [], '1000'],
    ['dynamic 3000000 bytes', [], '3000000'],
    ['dynamic 0 bytes', [], '0'],
    ['fixed 3000000 bytes', ['-o', 'subformat=fixed'], '3000000'],
    ['dynamic force_size 5000000', ['-o', 'force_size=on'], '5000000'],
    ['fixed force_size 1M', ['-o', 'subformat=fixed,force_size=on'], '1M'],
  ];
  for (const [label, opts, size] of cases) {
    it(`${label}: size as qemu-img info, contents as qemu-img convert -O raw`, async () => {
      const f = at(`q-${label.replace(/ /g, '_')}.vhd`);
      qemu('qemu-img', ['create', '-q', '-f', 'vpc', ...opts, f, size]);
      const info = qemuInfo(f, 'vpc');
      if (Number(info['virtual-size']) > 0) qemuIo(f, [`write -P 0x5a 0 512`, `write -P 0xa5 ${Number(info['virtual-size']) - 512} 512`], ['-f', 'vpc']);
      const ours = await ourRead(f);
      expect(ours.length).toBe(info['virtual-size']);
      expect(firstDifference(ours, qemuRaw(f, tmp.dir))).toBeUndefined();
    });
  }

  it('reads sizes of 130M and 40G (geometries with 31 and 255 sectors per track) as qemu-img info', async () => {
    for (const size of ['130M', '40G', '127G']) {
      const f = at(`big-${size}.vhd`);
      qemu('qemu-img', ['create', '-q', '-f', 'vpc', f, size]);
      const d = await VhdImage.open(await nodeImageFileSystem.open(f, { writable: false }));
      expect(d.capacity, size).toBe(qemuInfo(f)['virtual-size']);
      await d.close();
    }
  });

  for (const subformat of ['dynamic', 'fixed'] as const) {
    it(`qemu-img convert -O vpc -o subformat=${subformat} of a patterned raw reads byte-identical`, async () => {
      const f = qemuVhd(`conv-${subformat}`, 9 * 1024 * 1024 + 3 * 512, subformat);
      expect(firstDifference(await ourRead(f), qemuRaw(f, tmp.dir))).toBeUndefined();
    });
  }

  it('sizes the disk by the creator application as QEMU 7.2 does (CHS vs current size)', async () => {
    const base = at('creator-base.vhd');
    qemu('qemu-img', ['create', '-q', '-f', 'vpc', base, '10M']);
    // The geometry (302×4×17 sectors) says 10514432 bytes; the current size is set to 10 MiB + 4 KiB.
    for (const creator of ['qemu', 'qem2', 'win ', 'd2v ', 'vpc ', 'CTXS', 'tap\0', 'xyz ']) {
      for (const maxGeometry of [false, true]) {
        const b = readFileSync(base);
        for (const off of [0, b.length - 512]) {
          b.write(creator, off + 28, 'latin1');
          b.writeUInt32BE(0, off + 52);
          b.writeUInt32BE(10 * 1024 * 1024 + 4096, off + 52);
          if (maxGeometry) {
            b.writeUInt16BE(65535, off + 56);
            b[off + 58] = 16;
            b[off + 59] = 255;
          }
          b.writeUInt32BE(vhdChecksum(b.subarray(off, off + 512), 64), off + 64);
        }
        const f = at(`creator-${creator.replace(/[^a-z0-9]/gi, '')}-${maxGeometry}.vhd`);
        // The BAT must cover the larger size: 5 entries of 2 MiB → 6.
        b.writeUInt32BE(6, 512 + 28);
        writeFileSync(f, b);
        const info = qemuInfo(f);
        const d = await VhdImage.open(await nodeImageFileSystem.open(f, { writable: false }));
        expect({ creator, maxGeometry, size: d.capacity }).toEqual({ creator, maxGeometry, size: info['virtual-size'] });
        await d.close();
      }
    }
  });
});

describe('createVhd matches qemu-img create -f vpc', () => {
  /** The image with the timestamp, the UUID and the checksum of each footer copy and of the header blanked. */
  function blanked(b: Uint8Array): Buffer {
    const c = Buffer.from(b);
    const footers = c.subarray(0, 8).toString() === 'conectix' ? [0, c.length - 512] : [c.length - 512];
    for (const off of footers) {
      c.fill(0, off + 24, off + 28);
      c.fill(0, off + 64, off + 84);
    }
    return c;
  }
  const cases: Array<[string, number, 'dynamic' | 'fixed', boolean]> = [
    ['1000 bytes', 1000, 'dynamic', false],
    ['0 bytes', 0, 'dynamic', false],
    ['10M', 10 * 1024 * 1024, 'dynamic', false],
    ['3000000', 3000000, 'dynamic', false],
    ['130M', 130 * 1024 * 1024, 'dynamic', false],
    ['40G', 40 * 1024 ** 3, 'dynamic', false],
    ['3000000 fixed', 3000000, 'fixed', false],
    ['5000000 force_size', 5000000, 'dynamic', true],
    ['5000000 fixed force_size', 5000000, 'fixed', true],
  ];
  for (const [label, size, subformat, forceSize] of cases) {
    it(label, async () => {
      const ref = at(`ref-${label.replace(/ /g, '_')}.vhd`);
      qemu('qemu-img', ['create', '-q', '-f', 'vpc', '-o', `subformat=${subformat},force_size=${forceSize ? 'on' : 'off'}`, ref, String(size)]);
      const m = new MemoryImageFile();
      const got = await createVhd(m, { size, subformat, forceSize });
      const ours = m.contents();
      expect(got).toBe(qemuInfo(ref, 'vpc')['virtual-size']);
      const theirs = new Uint8Array(readFileSync(ref));
      expect(ours.length).toBe(theirs.length);
      expect(firstDifference(blanked(ours), blanked(theirs))).toBeUndefined();
      // And qemu-img reads ours: same size, all zeros.
      const mine = at(`mine-${label.replace(/ /g, '_')}.vhd`);
      writeFileSync(mine, ours);
      expect(qemuInfo(mine, 'vpc')['virtual-size']).toBe(got);
      if (size <= 10 * 1024 * 1024) expect(spawnSync('qemu-img', ['compare', '-f', 'vpc', '-F', 'vpc', mine, ref]).status).toBe(0);
    });
  }

  it('refuses sizes over 2040 GiB as qemu-img does', async () => {
    await expect(createVhd(new MemoryImageFile(), { size: 2041 * 1024 ** 3 })).rejects.toThrow(/2040 GiB/);
  });
});

describe('typervisor img with vpc', () => {
  it('create -f vpc [-o subformat=…] prints and makes what qemu-img does; info agrees with qemu-img info', async () => {
    for (const opts of [[], ['-o', 'subformat=fixed'], ['-o', 'subformat=dynamic,force_size=on']]) {
      const name = `cli-${opts.join('').replace(/[^a-z]/g, '')}`;
      const ours = at(`${name}.vhd`);
      const theirs = at(`${name}.ref.vhd`);
      const r = await img('create', '-f', 'vpc', ...opts, ours, '3000000');
      expect(r.status).toBe(0);
      expect(r.stdout).toBe(qemu('qemu-img', ['create', '-f', 'vpc', ...opts, theirs, '3000000']).replace(theirs, ours));
      expect(statSync(ours).size).toBe(statSync(theirs).size);
      const info = await img('info', '-f', 'vpc', '--output', 'json', ours);
      expect(JSON.parse(info.stdout)).toEqual(qemuInfo(ours, 'vpc'));
      const text = await img('info', '-f', 'vpc', ours);
      expect(text.stdout).toBe(qemu('qemu-img', ['info', '-f', 'vpc', ours]));
    }
  });

  it('convert -O vpc and -f vpc, and compare, agree with qemu-img', async () => {
    const src = at('cli-src.qcow2');
    qemu('qemu-img', ['create', '-q', '-f', 'qcow2', src, '6M']);
    qemuIo(src, ['write -P 7 0 100k', 'write -P 8 2M 4M'], ['-f', 'qcow2']);
    for (const sub of ['dynamic', 'fixed']) {
      const out = at(`cli-conv-${sub}.vhd`);
      expect((await img('convert', '-O', 'vpc', '-o', `subformat=${sub}`, src, out)).status).toBe(0);
      expect(spawnSync('qemu-img', ['compare', '-F', 'vpc', src, out]).status).toBe(0);
      expect((await img('compare', '-F', 'vpc', src, out)).status).toBe(0);
      const back = at(`cli-back-${sub}.raw`);
      expect((await img('convert', '-f', 'vpc', '-O', 'raw', out, back)).status).toBe(0);
      expect(firstDifference(new Uint8Array(readFileSync(back)), qemuRaw(out, tmp.dir))).toBeUndefined();
    }
    qemuIo(at('cli-conv-dynamic.vhd'), ['write -P 9 1M 512'], ['-f', 'vpc']);
    const r = await img('compare', '-F', 'vpc', src, at('cli-conv-dynamic.vhd'));
    const q = spawnSync('qemu-img', ['compare', '-F', 'vpc', src, at('cli-conv-dynamic.vhd')], { encoding: 'utf8' });
    expect({ status: r.status, stdout: r.stdout }).toEqual({ status: q.status, stdout: q.stdout });
    expect(r.stdout).toMatch(/Content mismatch at offset 1048576!/);
  });

  it('--disk accepts format=vpc and its alias format=vhd', () => {
    expect(parseDiskSpec('a.vhd,format=vhd')).toEqual({ path: 'a.vhd', readOnly: false, format: 'vpc' });
    expect(parseDiskSpec('a.vhd,format=vpc,readonly')).toEqual({ path: 'a.vhd', readOnly: true, format: 'vpc' });
  });
});
