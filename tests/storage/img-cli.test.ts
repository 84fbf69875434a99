// `typervisor img` against Debian's qemu-img: images we create pass `qemu-img check` and read
// the same in `qemu-img info`; our info/check agree with qemu-img's on qemu-made images;
// converted images equal their source under `qemu-img compare`.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { NodeImageFile } from '../../src/host/storage-file.js';
import { openImage } from '../../src/storage/open-image.js';
import { nodeImageFileSystem } from '../../src/host/storage-file.js';
import { qemu, qemuIo, tempDir } from './qemu-tools.js';

const { dir, remove } = tempDir('img-cli-');
afterAll(remove);
const at = (name: string) => path.join(dir, name);

async function img(...argv: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  const chunks: Uint8Array[] = [];
  const stdout = { write: (b: Uint8Array, cb?: () => void) => (chunks.push(b), cb?.(), true) };
  let stderr = '';
  const status = await main(['img', ...argv], { stdin: process.stdin, stdout, stderr: { write: (t: string) => (stderr += t) } } as never);
  return { status, stdout: Buffer.concat(chunks).toString(), stderr };
}

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
    r = await img('create', '-f', 'qcow2', at('a.qcow2'), '1G');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/a\.qcow2 already exists\nhint: /);
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
    qemu('qemu-img', ['create', '-f', 'qcow2', at('i1.qcow2'), '100M']);
    qemuIo(at('i1.qcow2'), ['write -P 1 0 3M']);
    qemu('qemu-img', ['create', '-f', 'qcow2', '-o', 'compat=0.10,cluster_size=4k', at('i2.qcow2'), '5M']);
    qemu('qemu-img', ['create', '-f', 'qcow2', '-o', 'refcount_bits=64,lazy_refcounts=on', at('i3.qcow2'), '7G']);
    qemu('qemu-img', ['create', '-f', 'raw', at('i4.raw'), '3M']);
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
    const bad = readFileSync(at('i1.qcow2'));
    bad.writeUInt32BE(30, 20); // cluster_bits
    writeFileSync(at('bad.qcow2'), bad);
    r = await img('info', at('bad.qcow2'));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/bad\.qcow2: not a valid qcow2 image: cluster_bits is 30/);
    r = await img('info', '-f', 'vdi', at('i1.qcow2'));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/unknown or unsupported image format 'vdi'[\s\S]*hint: supported formats: qcow2, raw/);
    qemu('qemu-img', ['create', '-f', 'vdi', at('v.vdi'), '1M']);
    r = await img('info', at('v.vdi'));
    expect(r.stderr).toMatch(/the vdi image format is not supported yet/);
    expect((await img('info', '--help')).stdout).toMatch(/--output <fmt>/);
  });
});
