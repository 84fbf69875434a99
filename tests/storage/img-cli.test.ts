// `typervisor img` against Debian's qemu-img: images we create pass `qemu-img check` and read
// the same in `qemu-img info`; our info/check agree with qemu-img's on qemu-made images;
// converted images equal their source under `qemu-img compare`.
import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { humanSize, parseImageSize } from '../../src/cli/img-command.js';
import { TypervisorError } from '../../src/core/errors.js';
import { MemoryImageFile } from '../../src/storage/memory-image-file.js';
import { checkExitStatus, checkQcow2 } from '../../src/storage/qcow2/qcow2-check.js';
import { Qcow2Image } from '../../src/storage/qcow2/qcow2-image.js';
import { openImage } from '../../src/storage/open-image.js';
import { nodeImageFileSystem } from '../../src/host/storage-file.js';
import { qemu, qemuIo, tempDir } from './qemu-tools.js';
import { DyingFile } from './dying-file.js';
import { img } from './typervisor-img.js';

const { dir, remove } = tempDir('img-cli-');
afterAll(remove);
const at = (name: string) => path.join(dir, name);

// Images several tests read (made once, so any test also runs alone with -t).
beforeAll(() => {
  qemu('qemu-img', ['create', '-f', 'qcow2', at('i1.qcow2'), '100M']);
  qemuIo(at('i1.qcow2'), ['write -P 1 0 3M']);
  qemu('qemu-img', ['create', '-f', 'raw', at('i4.raw'), '3M']);
  const bad = readFileSync(at('i1.qcow2'));
  bad.writeUInt32BE(30, 20); // cluster_bits
  writeFileSync(at('bad.qcow2'), bad);
  // 4 KiB clusters, a snapshot, a zero cluster; k2 its compressed copy.
  qemu('qemu-img', ['create', '-f', 'qcow2', '-o', 'cluster_size=4k', at('k1.qcow2'), '4M']);
  qemuIo(at('k1.qcow2'), ['write -P 1 0 64k', 'write -P 2 1M 12k', 'write -P 3 3M 4k']);
  qemu('qemu-img', ['snapshot', '-c', 'one', at('k1.qcow2')]);
  qemuIo(at('k1.qcow2'), ['write -P 4 8k 8k', 'write -z 1M 4k']);
  qemu('qemu-img', ['convert', '-c', '-O', 'qcow2', at('k1.qcow2'), at('k2.qcow2')]);
});

/** `qemu-img check --output json` with its exit status (0, 2, 3 are all reports). */
function qemuCheck(file: string): { status: number; report: Record<string, unknown> } {
  const r = spawnSync('qemu-img', ['check', '--output', 'json', file], { encoding: 'utf8' });
  return { status: r.status ?? -1, report: JSON.parse(r.stdout) as Record<string, unknown> };
}

function qemuInfo(file: string): Record<string, unknown> {
  return JSON.parse(qemu('qemu-img', ['info', '--output', 'json', file])) as Record<string, unknown>;
}

function compare(a: string, b: string): number {
  return spawnSync('qemu-img', ['compare', a, b], { encoding: 'utf8' }).status ?? -1;
}

describe('img create', () => {
  it('makes qcow2 v3 images qemu-img checks clean and describes as we asked', async () => {
    for (const [name, size, opts, want, cs] of [
      ['a.qcow2', '1G', [], 1 << 30, 65536],
      ['b.qcow2', '1001', [], 1024, 65536],
      ['c.qcow2', '3M', ['-o', 'cluster_size=512'], 3 << 20, 512],
      ['d.qcow2', '1.5T', ['-o', 'cluster_size=2M'], 1.5 * 2 ** 40, 2 << 20],
      ['e.qcow2', '100G', ['-o', 'cluster_size=4k'], 100 * 2 ** 30, 4096],
      ['z.qcow2', '0', [], 0, 65536],
    ] as const) {
      const r = await img('create', '-f', 'qcow2', ...opts, at(name), size);
      expect(r.status, r.stderr).toBe(0);
      expect(qemuCheck(at(name)).status, name).toBe(0);
      const info = qemuInfo(at(name));
      expect(info['virtual-size']).toBe(want);
      expect(info['cluster-size']).toBe(cs);
      expect((info['format-specific'] as { data: { compat: string } }).data.compat).toBe('1.1');
    }
  });

  it('records a backing file and its format; the size defaults to the backing file\'s', async () => {
    qemu('qemu-img', ['create', '-f', 'qcow2', at('base.qcow2'), '8M']);
    qemuIo(at('base.qcow2'), ['write -P 0x5a 0 1M']);
    const r = await img('create', '-f', 'qcow2', '-b', 'base.qcow2', '-F', 'qcow2', at('top.qcow2'));
    expect(r.status, r.stderr).toBe(0);
    const info = qemuInfo(at('top.qcow2'));
    expect(info['virtual-size']).toBe(8 << 20);
    expect(info['backing-filename']).toBe('base.qcow2');
    expect(info['backing-filename-format']).toBe('qcow2');
    expect(qemuCheck(at('top.qcow2')).status).toBe(0);
    expect(compare(at('top.qcow2'), at('base.qcow2'))).toBe(0);
    // -F probed when left out.
    expect((await img('create', '-f', 'qcow2', '-b', 'base.qcow2', at('top2.qcow2'), '16M')).status).toBe(0);
    expect(qemuInfo(at('top2.qcow2'))['backing-filename-format']).toBe('qcow2');
    // Our writer accepts what we created, and qemu reads what it wrote.
    const disk = await openImage(nodeImageFileSystem, at('top2.qcow2'));
    await disk.write(12 << 20, new Uint8Array(4096).fill(7));
    await disk.close();
    expect(qemuCheck(at('top2.qcow2')).status).toBe(0);
    qemuIo(at('top2.qcow2'), ['read -P 7 12M 4k', 'read -P 0x5a 0 1M']);
  });

  it('makes sparse raw files', async () => {
    expect((await img('create', at('r.raw'), '10G')).status).toBe(0);
    const st = statSync(at('r.raw'));
    expect(st.size).toBe(10 * 2 ** 30);
    expect(st.blocks * 512).toBeLessThan(1 << 20);
    expect((await img('create', '-f', 'raw', at('r2.raw'), '1k')).status).toBe(0);
    expect(statSync(at('r2.raw')).size).toBe(1024);
  });

  it('refuses bad sizes, formats, options and existing files, with hints', async () => {
    let r = await img('create', '-f', 'qcow2', at('x.qcow2'), '12Q');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/invalid image size '12Q'[\s\S]*hint: .*suffix/);
    r = await img('create', '-f', 'vmdk', at('x.vmdk'), '1G');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/vmdk/);
    r = await img('create', '-f', 'qcow2', '-o', 'cluster_size=1000', at('x.qcow2'), '1G');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/cluster size 1000/);
    r = await img('create', '-f', 'qcow2', '-o', 'preallocation=full', at('x.qcow2'), '1G');
    expect(r.stderr).toMatch(/unsupported image option 'preallocation=full'/);
    writeFileSync(at('exists.qcow2'), 'keep me');
    r = await img('create', '-f', 'qcow2', at('exists.qcow2'), '1G');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/exists\.qcow2 already exists\nhint: /);
    expect(readFileSync(at('exists.qcow2'), 'utf8')).toBe('keep me');
    r = await img('create', '-f', 'qcow2', '-b', 'nonexistent.qcow2', at('x.qcow2'));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/backing file nonexistent\.qcow2: .*no such file/);
    expect(existsSync(at('x.qcow2'))).toBe(false);
    r = await img('create', '-f', 'qcow2', at('x.qcow2'));
    expect(r.stderr).toMatch(/no image size given/);
    r = await img('create', '-f', 'qcow2', '-o', 'cluster_size=512', at('x.qcow2'), '1P');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/L1 table/);
    expect(existsSync(at('x.qcow2'))).toBe(false);
    r = await img('create');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/hint: see 'typervisor img create --help'/);
    r = await img('create', '--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/Usage: typervisor img create/);
  });
});

describe('img info', () => {
  /** Our JSON must agree with qemu-img's on every field we print. */
  async function expectInfoLikeQemu(file: string, extra: string[] = []): Promise<void> {
    const r = await img('info', '--output', 'json', ...extra, file);
    expect(r.status, r.stderr).toBe(0);
    const ours = JSON.parse(r.stdout) as Record<string, unknown>;
    const theirs = qemuInfo(file);
    for (const key of Object.keys(ours)) expect([file, key, ours[key]]).toEqual([file, key, theirs[key]]);
    for (const key of ['virtual-size', 'filename', 'format', 'dirty-flag']) expect(ours).toHaveProperty(key);
  }

  it('agrees with qemu-img info --output json on qemu-made images', async () => {
    qemu('qemu-img', ['create', '-f', 'qcow2', '-o', 'compat=0.10,cluster_size=4k', at('i2.qcow2'), '5M']);
    qemu('qemu-img', ['create', '-f', 'qcow2', '-o', 'refcount_bits=64,lazy_refcounts=on', at('i3.qcow2'), '7G']);
    qemu('qemu-img', ['create', '-f', 'qcow2', '-b', 'i1.qcow2', '-F', 'qcow2', at('i5.qcow2')]);
    qemu('qemu-img', ['create', '-f', 'qcow2', '-b', at('i4.raw'), '-F', 'raw', at('i6.qcow2')]);
    for (const f of ['i1.qcow2', 'i2.qcow2', 'i3.qcow2', 'i4.raw', 'i5.qcow2', 'i6.qcow2']) await expectInfoLikeQemu(at(f));
    await expectInfoLikeQemu(at('i4.raw'), ['-f', 'raw']);
  });

  it('agrees on our own images, and prints a readable summary and the backing chain', async () => {
    expect((await img('create', '-f', 'qcow2', at('j1.qcow2'), '2G')).status).toBe(0);
    expect((await img('create', '-f', 'qcow2', '-b', 'j1.qcow2', '-F', 'qcow2', at('j2.qcow2'))).status).toBe(0);
    await expectInfoLikeQemu(at('j1.qcow2'));
    await expectInfoLikeQemu(at('j2.qcow2'));
    const text = await img('info', at('j2.qcow2'));
    expect(text.stdout).toMatch(/^image: .*j2\.qcow2\nfile format: qcow2\nvirtual size: 2 GiB \(2147483648 bytes\)\ndisk size: .*\ncluster_size: 65536\nbacking file: j1\.qcow2 \(actual path: .*j1\.qcow2\)\nbacking file format: qcow2\n/);
    expect(text.stdout).toMatch(/compat: 1\.1\n/);
    const chain = await img('info', '--backing-chain', '--output', 'json', at('j2.qcow2'));
    const list = JSON.parse(chain.stdout) as Record<string, unknown>[];
    expect(list.map((i) => path.basename(String(i['filename'])))).toEqual(['j2.qcow2', 'j1.qcow2']);
  });

  it('shows the dirty and corrupt flags', async () => {
    qemu('qemu-img', ['create', '-f', 'qcow2', at('flags.qcow2'), '1M']);
    const b = readFileSync(at('flags.qcow2'));
    b[79] |= 3; // incompatible_features: dirty | corrupt
    writeFileSync(at('flags.qcow2'), b);
    const r = await img('info', '--output', 'json', at('flags.qcow2'));
    const info = JSON.parse(r.stdout) as { 'dirty-flag': boolean; 'format-specific': { data: { corrupt: boolean } } };
    expect(info['dirty-flag']).toBe(true);
    expect(info['format-specific'].data.corrupt).toBe(true);
  });

  it('refuses missing files, malformed images and unknown formats precisely', async () => {
    let r = await img('info', at('missing.qcow2'));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/missing\.qcow2: cannot open: no such file/);
    r = await img('info', at('bad.qcow2'));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/bad\.qcow2: not a valid qcow2 image: cluster_bits is 30/);
    r = await img('info', '-f', 'qed', at('i1.qcow2'));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/unknown or unsupported image format 'qed'[\s\S]*hint: supported formats: qcow2, raw/);
    qemu('qemu-img', ['create', '-f', 'qcow', at('v.qcow'), '1M']);
    r = await img('info', at('v.qcow'));
    expect(r.stderr).toMatch(/the qcow image format is not supported yet/);
    expect((await img('info', '--help')).stdout).toMatch(/--output <fmt>/);
  });
});


describe('img check', () => {
  const REPORT_KEYS = ['image-end-offset', 'total-clusters', 'check-errors', 'leaks', 'corruptions', 'allocated-clusters', 'fragmented-clusters', 'compressed-clusters', 'format'];

  /** Our `check --output json` and exit status equal qemu-img's. */
  async function expectCheckLikeQemu(file: string): Promise<number> {
    const theirs = qemuCheck(file);
    const r = await img('check', '--output', 'json', file);
    const ours = JSON.parse(r.stdout) as Record<string, unknown>;
    const pick = (o: Record<string, unknown>) => Object.fromEntries(REPORT_KEYS.filter((k) => k in o).map((k) => [k, o[k]]));
    expect([path.basename(file), pick(ours)]).toEqual([path.basename(file), pick(theirs.report)]);
    expect([path.basename(file), r.status]).toEqual([path.basename(file), theirs.status]);
    return r.status;
  }

  it('finds qemu-made images clean, with snapshots, compressed clusters and backing files, as qemu-img does', async () => {
    qemu('qemu-img', ['create', '-f', 'qcow2', '-b', 'k2.qcow2', '-F', 'qcow2', at('k3.qcow2')]);
    qemuIo(at('k3.qcow2'), ['write -P 9 100k 300k']);
    qemu('qemu-img', ['create', '-f', 'qcow2', '-o', 'compat=0.10,refcount_bits=16', at('k4.qcow2'), '10M']);
    qemuIo(at('k4.qcow2'), ['write -P 5 0 5M']);
    qemu('qemu-img', ['create', '-f', 'qcow2', '-o', 'cluster_size=512,refcount_bits=1', at('k5.qcow2'), '1M']);
    qemuIo(at('k5.qcow2'), ['write -P 6 0 100k']);
    // And ours, written through our writer.
    expect((await img('create', '-f', 'qcow2', at('own.qcow2'), '1G')).status).toBe(0);
    expect((await img('create', '-f', 'qcow2', '-b', 'k1.qcow2', at('own-top.qcow2'))).status).toBe(0);
    const disk = await openImage(nodeImageFileSystem, at('own-top.qcow2'));
    await disk.write(5000, new Uint8Array(20000).fill(3));
    await disk.close();
    for (const f of ['k1.qcow2', 'k2.qcow2', 'k3.qcow2', 'k4.qcow2', 'k5.qcow2', 'own.qcow2', 'own-top.qcow2']) expect(await expectCheckLikeQemu(at(f))).toBe(0);
    const text = await img('check', at('k1.qcow2'));
    expect(text.stdout).toMatch(/^No errors were found on the image\.\n\d+\/1024 = [\d.]+% allocated, [\d.]+% fragmented, 0\.00% compressed clusters\nImage end offset: \d+\n$/);
  });

  it('reports the leaks a killed writer leaves (exit 3) and repairs them with -r leaks', async () => {
    qemu('qemu-img', ['create', '-f', 'qcow2', '-o', 'cluster_size=4k', at('kill.qcow2'), '1M']);
    qemuIo(at('kill.qcow2'), ['write -P 0x60 0 64k']);
    qemu('qemu-img', ['snapshot', '-c', 's', at('kill.qcow2')]);
    const initial = new Uint8Array(readFileSync(at('kill.qcow2')));
    const statuses = new Set<number>();
    for (let budget = 0; budget < 40; budget += 3) {
      const mem = new MemoryImageFile(initial, { name: 'kill.qcow2' });
      const disk = await Qcow2Image.open(new DyingFile(mem, budget), { readOnly: false });
      try {
        for (let k = 0; k < 12; k++) await disk.write(k * 81920 + 512, new Uint8Array(6000).fill(k + 1));
      } catch (e) {
        expect(e).toBeInstanceOf(TypervisorError);
      }
      const out = at(`kill-${budget}.qcow2`);
      writeFileSync(out, mem.contents());
      const status = await expectCheckLikeQemu(out);
      statuses.add(status);
      if (status !== 3) continue;
      const theirs = at(`kill-${budget}-qemu.qcow2`);
      writeFileSync(theirs, mem.contents());
      spawnSync('qemu-img', ['check', '-r', 'leaks', theirs]);
      const r = await img('check', '-r', 'leaks', out);
      expect(r.status, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toMatch(/The following inconsistencies were found and repaired:\n\n {4}\d+ leaked clusters\n {4}0 corruptions\n\nDouble checking the fixed image now\.\.\.\nNo errors were found on the image\./);
      expect(r.stderr).toMatch(/^Repairing cluster \d+ refcount=\d+ reference=\d+\n/);
      expect(qemuCheck(out).status).toBe(0);
      // qemu-img also punches holes in the freed clusters; the disks must be the same.
      expect(qemuCheck(theirs).status).toBe(0);
      expect(compare(out, theirs)).toBe(0);
    }
    expect(statuses).toEqual(new Set([0, 3]));
  });

  it('reports corruption (exit 2) as qemu-img does, and repairs refcounts with -r all', async () => {
    qemu('qemu-img', ['create', '-f', 'qcow2', at('bad1.qcow2'), '4M']);
    qemuIo(at('bad1.qcow2'), ['write -P 1 0 256k']);
    const b = readFileSync(at('bad1.qcow2'));
    // Refcount block at cluster 2 (qemu's layout): zero the refcount of data cluster 5.
    b.writeUInt16BE(0, 2 * 65536 + 5 * 2);
    writeFileSync(at('bad1.qcow2'), b);
    expect(await expectCheckLikeQemu(at('bad1.qcow2'))).toBe(2);
    const text = await img('check', at('bad1.qcow2'));
    expect(text.stderr).toMatch(/ERROR cluster 5 refcount=0 reference=1/);
    expect(text.stdout).toMatch(/\d+ errors were found on the image\.\nData may be corrupted/);
    const fixed = await img('check', '-r', 'all', at('bad1.qcow2'));
    expect(fixed.status, fixed.stdout + fixed.stderr).toBe(0);
    expect(qemuCheck(at('bad1.qcow2')).status).toBe(0);
    qemuIo(at('bad1.qcow2'), ['read -P 1 0 256k']);

    // An L2 entry pointing past the end of the file.
    qemu('qemu-img', ['create', '-f', 'qcow2', at('bad2.qcow2'), '4M']);
    qemuIo(at('bad2.qcow2'), ['write -P 1 0 64k']);
    const c = readFileSync(at('bad2.qcow2'));
    const l2 = Number(c.readBigUInt64BE(Number(c.readBigUInt64BE(40))) & 0x00fffffffffffe00n);
    c.writeBigUInt64BE(0x8000000000000000n | (1n << 40n), l2 + 8);
    writeFileSync(at('bad2.qcow2'), c);
    expect((await img('check', at('bad2.qcow2'))).status).toBe(2);
    expect(qemuCheck(at('bad2.qcow2')).status).toBe(2);
  });

  it('exits 1 when the check cannot be done, and 63 on raw images, as qemu-img', async () => {
    const bad = readFileSync(at('i1.qcow2'));
    bad.writeUInt32BE(30, 20);
    writeFileSync(at('bad3.qcow2'), bad);
    let r = await img('check', at('bad3.qcow2'));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/cluster_bits is 30/);
    // A refcount table entry outside the file: refcounts unreadable, the check fails (1).
    const rt = readFileSync(at('k1.qcow2'));
    rt[Number(rt.readBigUInt64BE(48))] = 0x80;
    writeFileSync(at('rt-out.qcow2'), rt);
    expect(await expectCheckLikeQemu(at('rt-out.qcow2'))).toBe(1);
    expect((await img('check', at('rt-out.qcow2'))).stdout).toMatch(/31 internal errors have occurred during the check/);
    // Past the end but addressable: qemu-img reads the block as zeros (corruptions, exit 2).
    rt[Number(rt.readBigUInt64BE(48))] = 0x01;
    writeFileSync(at('rt-out2.qcow2'), rt);
    expect(await expectCheckLikeQemu(at('rt-out2.qcow2'))).toBe(2);
    r = await img('check', at('i4.raw'));
    expect(r.status).toBe(63); // as qemu-img's "This image format does not support checks"
    expect(spawnSync('qemu-img', ['check', at('i4.raw')]).status).toBe(63);
    expect(r.stderr).toMatch(/raw format has no metadata to check/);
    r = await img('check', '-r', 'some', at('i1.qcow2'));
    expect(r.status).toBe(2);
    expect((await img('check', '--help')).stdout).toMatch(/-r <what>/);
  });
});

describe('img convert', () => {
  it('converts qemu-made images both ways; qemu-img compares them equal and checks them clean; outputs stay sparse', async () => {
    qemu('qemu-img', ['create', '-f', 'qcow2', '-o', 'cluster_size=4k', at('src.qcow2'), '64M']);
    qemuIo(at('src.qcow2'), ['write -P 0x11 0 100k', 'write -P 0x22 10M 1M', 'write -P 0x33 63M 1k', 'write -z 10M 64k']);
    qemu('qemu-img', ['snapshot', '-c', 'snap', at('src.qcow2')]);
    qemuIo(at('src.qcow2'), ['write -P 0x44 20M 64k']);
    qemu('qemu-img', ['convert', '-c', '-O', 'qcow2', at('src.qcow2'), at('srcc.qcow2')]);
    qemu('qemu-img', ['create', '-f', 'qcow2', '-b', 'srcc.qcow2', '-F', 'qcow2', at('srcb.qcow2')]);
    qemuIo(at('srcb.qcow2'), ['write -P 0x55 30M 3M']);
    qemu('qemu-img', ['convert', '-O', 'raw', at('src.qcow2'), at('src.raw')]);

    for (const [src, fmt, dst] of [
      ['src.qcow2', 'raw', 'o1.raw'],
      ['src.qcow2', 'qcow2', 'o2.qcow2'],
      ['srcc.qcow2', 'qcow2', 'o3.qcow2'],
      ['srcb.qcow2', 'qcow2', 'o4.qcow2'],
      ['src.raw', 'qcow2', 'o5.qcow2'],
      ['o5.qcow2', 'raw', 'o6.raw'],
    ] as const) {
      const r = await img('convert', '-O', fmt, at(src), at(dst));
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toBe('');
      expect([dst, compare(at(src), at(dst))]).toEqual([dst, 0]);
      if (fmt === 'qcow2') {
        expect(qemuCheck(at(dst)).status).toBe(0);
        expect(qemuInfo(at(dst))['virtual-size']).toBe(64 << 20);
      }
      // Only the ~4.2 MiB of non-zero data (plus metadata) is stored.
      expect(statSync(at(dst)).blocks * 512, dst).toBeLessThan(6 << 20);
    }
    expect(statSync(at('o1.raw')).size).toBe(64 << 20);
  });

  it('copies data up to the very end of a disk whose size is not a multiple of the 64 KiB zero-detection piece', async () => {
    const size = (5 << 20) + 1536; // last piece of the last 1 MiB chunk is 1536 bytes
    writeFileSync(at('odd.raw'), new Uint8Array(size));
    qemuIo(at('odd.raw'), ['write -P 0x66 5M 1536', 'write -P 0x77 4M 512'], ['-f', 'raw']);
    for (const [fmt, dst] of [['qcow2', 'odd.qcow2'], ['raw', 'odd-out.raw'], ['vpc', 'odd.vhd']] as const) {
      const r = await img('convert', '-f', 'raw', '-O', fmt, at('odd.raw'), at(dst));
      expect(r.status, r.stderr).toBe(0);
      expect([dst, compare(at('odd.raw'), at(dst))]).toEqual([dst, 0]);
    }
  });

  it('honours -f, -o cluster_size and shows progress with -p', async () => {
    const r = await img('convert', '-p', '-f', 'raw', '-O', 'qcow2', '-o', 'cluster_size=16k', at('src.raw'), at('p.qcow2'));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^ {4}\(0\.00\/100%\)\r/);
    expect(r.stderr).toMatch(/ {4}\(100\.00\/100%\)\n$/);
    expect(r.stderr.split('\r').length).toBeLessThan(110); // throttled
    expect(qemuInfo(at('p.qcow2'))['cluster-size']).toBe(16384);
    expect(compare(at('src.raw'), at('p.qcow2'))).toBe(0);
  });

  it('refuses an existing destination, a missing source, unknown formats and malformed images', async () => {
    let r = await img('convert', '-O', 'raw', at('src.qcow2'), at('o1.raw'));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/o1\.raw already exists\nhint: /);
    r = await img('convert', '-O', 'raw', at('nothing.qcow2'), at('n.raw'));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/nothing\.qcow2: cannot open: no such file/);
    r = await img('convert', '-O', 'vmdk', at('src.qcow2'), at('n.vmdk'));
    expect(r.status).toBe(2);
    r = await img('convert', '-O', 'raw', at('bad.qcow2'), at('n.raw'));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/not a valid qcow2 image/);
    expect(existsSync(at('n.raw'))).toBe(false);
    expect((await img('convert', '--help')).stdout).toMatch(/-p/);
    const help = await img('--help');
    expect(help.stdout).toMatch(/create[\s\S]*info[\s\S]*check[\s\S]*convert/);
  });
});

describe('img check on garbage', () => {
  it('mutated metadata is reported or refused with a TypervisorError, never a crash or a hang; verdicts agree with qemu-img', async () => {
    const bases = ['k1.qcow2', 'k2.qcow2'].map((f) => new Uint8Array(readFileSync(at(f))));
    let compared = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.nat(bases.length - 1),
        fc.array(fc.tuple(fc.nat(8 * 4096 - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
        async (which, edits) => {
          const bytes = bases[which].slice();
          for (const [offset, value] of edits) if (offset < bytes.length) bytes[offset] = value;
          const started = Date.now();
          let status: number | undefined;
          try {
            status = checkExitStatus(await checkQcow2(new MemoryImageFile(bytes, { name: 'fuzz.qcow2' })));
          } catch (e) {
            expect(e).toBeInstanceOf(TypervisorError);
          }
          expect(Date.now() - started).toBeLessThan(10_000); // a hang detector (each case takes milliseconds), with room for a loaded CI machine
          // Where we give a verdict on mutated tables it must be qemu-img's. (Mutated headers are
          // the header parser's business: it refuses some images qemu-img opens — a
          // backing_file_offset past the header cluster with an empty name — and accepts a
          // non-zero length on the end-of-extensions marker, which qemu-img refuses.)
          const tablesOnly = edits.every(([offset]) => offset >= 4096);
          if (status !== undefined && tablesOnly && compared < Number(process.env.IMG_CHECK_FUZZ_COMPARE ?? 60)) {
            compared++;
            const f = at(`fuzz-${compared}.qcow2`);
            writeFileSync(f, bytes);
            expect([edits, status]).toEqual([edits, spawnSync('qemu-img', ['check', f]).status]);
          }
        },
      ),
      { numRuns: Number(process.env.IMG_CHECK_FUZZ_RUNS ?? 300) },
    );
  });
});

describe('img check -r all', () => {
  it('rewrites wrong COPIED flags as qemu-img does', async () => {
    qemu('qemu-img', ['create', '-f', 'qcow2', at('copied.qcow2'), '4M']);
    qemuIo(at('copied.qcow2'), ['write -P 1 0 192k']);
    const c = readFileSync(at('copied.qcow2'));
    const l2 = Number(c.readBigUInt64BE(Number(c.readBigUInt64BE(40))) & 0x00fffffffffffe00n);
    c.writeUInt8(c.readUInt8(l2 + 8) & 0x7f, l2 + 8); // clear COPIED on the second data cluster
    c.writeUInt8(c.readUInt8(Number(c.readBigUInt64BE(40))) & 0x7f, Number(c.readBigUInt64BE(40))); // and on the L1 entry
    writeFileSync(at('copied.qcow2'), c);
    const r0 = await img('check', '--output', 'json', at('copied.qcow2'));
    expect(r0.status).toBe(2);
    expect(JSON.parse(r0.stdout)['corruptions']).toBe(qemuCheck(at('copied.qcow2')).report['corruptions']);
    const r = await img('check', '-r', 'all', at('copied.qcow2'));
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stderr).toMatch(/Repairing OFLAG_COPIED data cluster/);
    expect(r.stdout).toMatch(/0 leaked clusters\n {4}2 corruptions/);
    expect(qemuCheck(at('copied.qcow2')).status).toBe(0);
    qemuIo(at('copied.qcow2'), ['read -P 1 0 192k']);
  });
});

describe('img sizes', () => {
  it('parses sizes as qemu-img and prints them as qemu-img info does', async () => {
    expect(parseImageSize('512')).toBe(512);
    expect(parseImageSize('10k')).toBe(10240);
    expect(parseImageSize('1.5G')).toBe(1.5 * 2 ** 30);
    expect(parseImageSize('2T')).toBe(2 * 2 ** 40);
    expect(parseImageSize('7b')).toBe(7);
    for (const bad of ['-1', '1.5', '', 'G', '1GB', '10 Q', '9E']) expect(() => parseImageSize(bad), bad).toThrow(TypervisorError);
    for (const [bytes, file] of [[1001, 's1.qcow2'], [5 * 2 ** 20 + 4096, 's2.qcow2'], [999 * 2 ** 30, 's3.qcow2'], [1500 * 2 ** 20, 's4.qcow2']] as const) {
      qemu('qemu-img', ['create', '-f', 'qcow2', at(file), String(bytes)]);
      const theirs = /virtual size: (.*)\n/.exec(qemu('qemu-img', ['info', at(file)]))![1];
      const ours = /virtual size: (.*)\n/.exec((await img('info', at(file))).stdout)![1];
      expect(ours).toBe(theirs);
    }
    expect(humanSize(196608)).toBe('192 KiB');
  });
});

describe('img compare', () => {
  it('agrees with qemu-img compare: identical, content mismatch offsets, size mismatch (strict or not), errors', async () => {
    qemu('qemu-img', ['create', '-f', 'qcow2', at('c1.qcow2'), '8M']);
    qemuIo(at('c1.qcow2'), ['write -P 1 64k 100k']);
    qemu('qemu-img', ['convert', '-O', 'raw', at('c1.qcow2'), at('c1.raw')]);
    qemu('qemu-img', ['create', '-f', 'qcow2', '-b', 'c1.qcow2', '-F', 'qcow2', at('c2.qcow2')]);
    qemuIo(at('c2.qcow2'), ['write -P 2 3000k 1']);
    qemu('qemu-img', ['create', '-f', 'qcow2', at('c3.qcow2'), '9M']);
    qemuIo(at('c3.qcow2'), ['write -P 1 64k 100k']);
    qemu('qemu-img', ['create', '-f', 'qcow2', at('c4.qcow2'), '9M']);
    qemuIo(at('c4.qcow2'), ['write -P 1 64k 100k', 'write -P 3 8200k 4k']);
    for (const [x, y, extra] of [
      ['c1.qcow2', 'c1.raw', []],
      ['c1.qcow2', 'c2.qcow2', []],
      ['c2.qcow2', 'c1.raw', []],
      ['c1.qcow2', 'c3.qcow2', []],
      ['c1.qcow2', 'c3.qcow2', ['-s']],
      ['c1.qcow2', 'c4.qcow2', []],
      ['c4.qcow2', 'c1.raw', []],
    ] as const) {
      const theirs = spawnSync('qemu-img', ['compare', ...extra, at(x), at(y)], { encoding: 'utf8' });
      const ours = await img('compare', ...extra, at(x), at(y));
      expect([x, y, ...extra, ours.status, ours.stdout]).toEqual([x, y, ...extra, theirs.status, theirs.stdout]);
    }
    const r = await img('compare', at('c1.qcow2'), at('nothing.qcow2'));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/nothing\.qcow2: cannot open: no such file/);
    expect((await img('compare', '-f', 'vmdk', at('c1.qcow2'), at('c1.raw'))).status).toBe(2);
  });
});
