// `typervisor img map|resize|commit|rebase` against Debian's qemu-img 7.2: the same operation is
// run by qemu-img and by us on two copies of the same qemu-made backing chain, and the results
// are compared — disk contents (qemu-img compare), `qemu-img check`, `qemu-img info`'s size and
// backing fields, and `qemu-img map --output json`. Bad input must leave the image's bytes as
// they were; killed metadata updates must leave images qemu-img check finds clean or leaky.
import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TypervisorError } from '../../src/core/errors.js';
import { mapImage } from '../../src/storage/image-map.js';
import { MemoryImageFile } from '../../src/storage/memory-image-file.js';
import { openImage } from '../../src/storage/open-image.js';
import { setQcow2Backing } from '../../src/storage/qcow2/qcow2-backing-header.js';
import { makeQcow2Empty } from '../../src/storage/qcow2/qcow2-make-empty.js';
import { resizeQcow2 } from '../../src/storage/qcow2/qcow2-resize.js';
import { DyingFile } from './dying-file.js';
import { be, MemoryImageFileSystem, smallImage } from './qcow2-images.js';
import { qemu, qemuIo, tempDir } from './qemu-tools.js';
import { img } from './typervisor-img.js';

const { dir, remove } = tempDir('img-ops-');
afterAll(remove);
let dirs = 0;
/** A fresh directory (chains use relative backing names, so each copy lives in its own). */
function freshDir(): string {
  const d = path.join(dir, `d${dirs++}`);
  mkdirSync(d);
  return d;
}

function run(tool: string, args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(tool, args, { encoding: 'utf8' });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const qemuMap = (file: string, ...extra: string[]) => qemu('qemu-img', ['map', '--output', 'json', ...extra, file]);
const checkStatus = (file: string) => run('qemu-img', ['check', file]).status;
const compare = (a: string, b: string) => run('qemu-img', ['compare', a, b]).status;

function info(file: string): Record<string, unknown> {
  const i = JSON.parse(qemu('qemu-img', ['info', '--output', 'json', file])) as Record<string, unknown>;
  return { size: i['virtual-size'], backing: i['backing-filename'], backingFormat: i['backing-filename-format'], format: i['format'] };
}

/** A map without host offsets (where clusters land may legitimately differ). */
function mapShape(json: string): unknown[] {
  const entries = (JSON.parse(json) as Array<Record<string, unknown>>).map(({ offset: _o, ...rest }) => rest);
  const out: Array<Record<string, unknown>> = [];
  for (const e of entries) {
    const last = out[out.length - 1];
    const same = last && (['depth', 'present', 'zero', 'data'] as const).every((k) => last[k] === e[k]);
    if (same) last.length = (last.length as number) + (e.length as number);
    else out.push({ ...e });
  }
  return out;
}

/**
 * base (4 KiB clusters, 4 MiB) <- mid (4 KiB clusters) <- top (64 KiB clusters) in `d`:
 * patterned data at every level, zero clusters with and without a host cluster, a discard.
 */
function makeChain(d: string): { base: string; mid: string; top: string } {
  const base = path.join(d, 'base.qcow2');
  const mid = path.join(d, 'mid.qcow2');
  const top = path.join(d, 'top.qcow2');
  qemu('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'cluster_size=4k', base, '4M']);
  qemuIo(base, ['write -P 1 0 64k', 'write -P 2 1M 12k', 'write -z 2M 8k', 'write -P 9 3584k 16k']);
  qemu('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'cluster_size=4k', '-b', 'base.qcow2', '-F', 'qcow2', mid]);
  qemuIo(mid, ['write -P 3 16k 8k', 'write -z 1M 4k', 'write -P 5 3M 4k', 'write -P 6 3588k 4k']);
  qemu('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', 'mid.qcow2', '-F', 'qcow2', top]);
  qemuIo(top, ['write -P 7 32k 4k', 'write -z 3M 4k', 'write -P 8 2M 64k', 'write -z 2M 64k', 'write -P 10 1536k 128k', 'discard 1600k 64k']);
  return { base, mid, top };
}

describe('img map', () => {
  it('prints qemu-img map\'s JSON and human output, byte for byte, along a 3-image chain', async () => {
    const c = makeChain(freshDir());
    for (const f of [c.top, c.mid, c.base]) {
      const ours = await img('map', '--output', 'json', f);
      expect(ours.status, ours.stderr).toBe(0);
      const theirs = qemuMap(f);
      expect(JSON.parse(ours.stdout)).toEqual(JSON.parse(theirs));
      expect(ours.stdout).toBe(theirs);
      const human = await img('map', '-f', 'qcow2', f);
      expect(human.stdout).toBe(qemu('qemu-img', ['map', '-f', 'qcow2', f]));
    }
    // The map says something: several depths, zero clusters with and without a host cluster.
    const top = JSON.parse(qemuMap(c.top)) as Array<{ depth: number; zero: boolean; offset?: number }>;
    expect(new Set(top.map((e) => e.depth))).toEqual(new Set([0, 1, 2]));
    expect(top.some((e) => e.zero && e.offset !== undefined)).toBe(true);
    expect(top.some((e) => e.zero && e.offset === undefined && e.depth === 0)).toBe(true);
  });

  it('agrees on raw images, compressed and extended-L2 qcow2, and a backing file shorter than its overlay', async () => {
    const d = freshDir();
    const raw = path.join(d, 'full.raw');
    writeFileSync(raw, new Uint8Array(3 << 20).fill(0x11)); // no holes: Node cannot see them, qemu can
    const comp = path.join(d, 'comp.qcow2');
    const c = makeChain(d);
    qemu('qemu-img', ['convert', '-c', '-O', 'qcow2', c.top, comp]);
    const ext = path.join(d, 'ext.qcow2');
    qemu('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'extended_l2=on,cluster_size=64k', '-b', 'base.qcow2', '-F', 'qcow2', ext, '6M']);
    qemuIo(ext, ['write -P 3 4k 2k', 'write -z 8k 2k', 'write -P 4 64k 64k', 'write -z 5M 4k', 'write -P 5 4100k 8k']);
    const long = path.join(d, 'long.qcow2');
    qemu('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'cluster_size=4k', '-b', 'full.raw', '-F', 'raw', long, '8M']);
    qemuIo(long, ['write -P 3 2M 8k', 'write -z 5M 4k']);
    for (const f of [raw, comp, ext, long]) {
      const ours = await img('map', '--output', 'json', f);
      expect(ours.status, `${f}: ${ours.stderr}`).toBe(0);
      expect(ours.stdout, f).toBe(qemuMap(f));
    }
    // Compressed clusters have no single place: the human format refuses them, as qemu-img.
    const human = await img('map', comp);
    expect(human.status).toBe(1);
    expect(run('qemu-img', ['map', comp]).status).toBe(1);
    expect(human.stderr).toContain('File contains external, encrypted or compressed clusters.');
  });

  it('agrees with qemu-img map after random writes, zero writes and discards on a 2-image chain', async () => {
    const op = fc.record({
      kind: fc.constantFrom('write -P 7', 'write -z', 'discard', 'write -z -u'),
      at: fc.integer({ min: 0, max: 255 }),
      len: fc.integer({ min: 1, max: 24 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 6 }), fc.array(op, { minLength: 1, maxLength: 6 }), async (lower, upper) => {
        const d = freshDir();
        const base = path.join(d, 'b.qcow2');
        const top = path.join(d, 't.qcow2');
        qemu('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'cluster_size=4k', base, '1M']);
        qemuIo(base, lower.map((o) => `${o.kind} ${o.at * 4096} ${Math.min(o.len * 2048, (256 - o.at) * 4096)}`));
        qemu('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'cluster_size=8k', '-b', 'b.qcow2', '-F', 'qcow2', top]);
        qemuIo(top, upper.map((o) => `${o.kind} ${o.at * 4096} ${Math.min(o.len * 2048, (256 - o.at) * 4096)}`));
        expect((await img('map', '--output', 'json', top)).stdout).toBe(qemuMap(top));
      }),
      { numRuns: 12 },
    );
  });
});

describe('img resize', () => {
  it('grows and shrinks raw images as qemu-img does (shrinking only with --shrink)', async () => {
    const d = freshDir();
    // [our arguments, qemu-img's]; FILE stands for the image. A negative size may need "--" here.
    for (const [ours_, theirs_] of [
      [['FILE', '+3M'], ['FILE', '+3M']],
      [['--shrink', 'FILE', '512k'], ['--shrink', 'FILE', '512k']],
      [['-f', 'raw', '--shrink', 'FILE', '1001'], ['-f', 'raw', '--shrink', 'FILE', '1001']],
      [['--shrink', 'FILE', '-4k'], ['--shrink', 'FILE', '-4k']], // qemu-img takes the size from the end
      [['--shrink', 'FILE', '--', '-1k'], ['--shrink', 'FILE', '--', '-1k']],
    ] as const) {
      const ours = path.join(d, 'ours.raw');
      const theirs = path.join(d, 'theirs.raw');
      const bytes = new Uint8Array(1 << 20).map((_, i) => i % 251);
      writeFileSync(ours, bytes);
      writeFileSync(theirs, bytes);
      const r = await img('resize', ...ours_.map((a) => (a === 'FILE' ? ours : a)));
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toBe('Image resized.\n');
      const q = run('qemu-img', ['resize', ...theirs_.map((a) => (a === 'FILE' ? theirs : a))]);
      expect(q.status, q.stderr).toBe(0);
      expect(q.stdout).toBe(r.stdout);
      expect(readFileSync(ours).equals(readFileSync(theirs))).toBe(true);
      expect(statSync(ours).size).toBe(statSync(theirs).size);
    }
  });

  it('grows qcow2 images, with and without a bigger L1 table, like qemu-img', async () => {
    for (const [create, start, grow] of [
      [['-o', 'cluster_size=4k'], '4M', '+1M'], // the L1 table still covers it
      [['-o', 'cluster_size=4k'], '4M', '+10G'], // 2 L1 entries become 5122 (11 clusters)
      [[], '100M', '1T'], // 64 KiB clusters: 1 entry becomes 2048
      [['-o', 'cluster_size=512'], '1M', '64M'],
    ] as const) {
      const d = freshDir();
      const ours = path.join(d, 'ours.qcow2');
      const theirs = path.join(d, 'theirs.qcow2');
      qemu('qemu-img', ['create', '-q', '-f', 'qcow2', ...create, ours, start]);
      qemuIo(ours, ['write -P 1 0 8k', 'write -P 2 900k 100k', 'write -z 200k 4k']);
      copyFileSync(ours, theirs);
      const r = await img('resize', ours, grow);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toBe('Image resized.\n');
      qemu('qemu-img', ['resize', '-q', theirs, grow]);
      expect(info(ours)).toEqual(info(theirs));
      expect(checkStatus(ours)).toBe(0);
      expect(compare(ours, theirs)).toBe(0);
      expect(qemuMap(ours)).toBe(qemuMap(theirs));
      // The L1 table is as big as qemu-img makes it (header bytes 36-39, l1_size).
      expect(readFileSync(ours).readUInt32BE(36)).toBe(readFileSync(theirs).readUInt32BE(36));
      // And the grown image still takes writes at its new end.
      const end = info(ours).size as number;
      qemuIo(ours, [`write -P 5 ${end - 4096} 4k`]);
      expect(checkStatus(ours)).toBe(0);
    }
  });

  it('shrinks qcow2 images with --shrink when nothing is mapped past the new end, freeing L2 tables there', async () => {
    const d = freshDir();
    const ours = path.join(d, 'ours.qcow2');
    const theirs = path.join(d, 'theirs.qcow2');
    // 512-byte clusters: one L2 table covers 32 KiB, so discarded data past the end leaves empty tables.
    qemu('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'cluster_size=512', ours, '1M']);
    qemuIo(ours, ['write -P 1 0 20k', 'write -P 2 600k 100k', 'discard 600k 100k']);
    copyFileSync(ours, theirs);
    const r = await img('resize', '--shrink', ours, '-f', 'qcow2', '256k');
    expect(r.status, r.stderr).toBe(0);
    qemu('qemu-img', ['resize', '-q', '--shrink', theirs, '256k']);
    expect(info(ours)).toEqual(info(theirs));
    expect(run('qemu-img', ['check', ours]).stdout).toMatch(/No errors were found/);
    expect(checkStatus(ours)).toBe(0); // the freed L2 tables are not leaked
    expect(compare(ours, theirs)).toBe(0);
    expect(qemuMap(ours)).toBe(qemuMap(theirs));
  });

  it('refuses bad requests with a clear message and exit status 1, leaving the image as it was', async () => {
    const d = freshDir();
    const c = makeChain(d);
    const raw = path.join(d, 'r.raw');
    writeFileSync(raw, new Uint8Array(65536).fill(3));
    for (const [file, args, message, qemuToo] of [
      [c.base, ['-1M'], /Use the --shrink option/, true],
      [raw, ['32k'], /Use the --shrink option/, true],
      [c.base, ['12Q'], /invalid size '12Q'/, true],
      [c.base, ['abc'], /invalid size 'abc'/, true],
      [c.base, ['+1001'], /multiple of 512/, true],
      [c.base, ['--shrink', '-5M'], /would be -1048576 bytes/, true],
      // qemu-img would delete the data; we refuse and say where it is.
      [c.base, ['--shrink', '3M'], /cannot shrink to 3145728 bytes: the cluster at guest offset 3670016 \(0x380000\) is allocated/, false],
    ] as const) {
      const before = readFileSync(file);
      const size = args[args.length - 1];
      const r = await img('resize', ...args.slice(0, -1), file, ...(size.startsWith('-') ? ['--'] : []), size);
      expect(r.status, `${args.join(' ')}: ${r.stderr}`).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toMatch(/hint: /);
      expect(readFileSync(file).equals(before)).toBe(true);
      if (qemuToo) expect(run('qemu-img', ['resize', ...args.slice(0, -1), file, size]).status).toBe(1);
    }
    const snap = path.join(d, 'snap.qcow2');
    qemu('qemu-img', ['create', '-q', '-f', 'qcow2', snap, '1M']);
    qemu('qemu-img', ['snapshot', '-c', 's', snap]);
    const r = await img('resize', snap, '2M');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/Can't resize an image which has snapshots/);
  });

  it('leaves a clean or merely leaky image of the old or the new size when killed while growing the L1 table', async () => {
    const d = freshDir();
    const src = path.join(d, 'src.qcow2');
    qemu('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'cluster_size=4k', src, '4M']);
    qemuIo(src, ['write -P 1 0 8k', 'write -P 2 3M 100k']);
    const original = new Uint8Array(readFileSync(src));
    const sizes = new Set<number>();
    for (let budget = 0; ; budget++) {
      const mem = new MemoryImageFile(original, { name: 'mem' });
      let finished = true;
      try {
        await resizeQcow2(new DyingFile(mem, budget), () => 8 * 2 ** 30);
      } catch (e) {
        expect(e).toBeInstanceOf(TypervisorError);
        finished = false;
      }
      const out = path.join(d, `kill-${budget}.qcow2`);
      writeFileSync(out, mem.contents());
      expect([0, 3], `killed after ${budget} writes`).toContain(checkStatus(out));
      sizes.add(info(out).size as number);
      expect(run('qemu-img', ['compare', src, out]).stdout).toMatch(/identical/);
      if (finished) {
        expect(checkStatus(out)).toBe(0);
        break;
      }
      expect(budget).toBeLessThan(200);
    }
    expect(sizes).toEqual(new Set([4 << 20, 8 * 2 ** 30]));
  });

  it('leaves a clean or merely leaky image when killed while shrinking past empty L2 tables', async () => {
    const d = freshDir();
    const src = path.join(d, 'src.qcow2');
    qemu('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'cluster_size=512', src, '1M']);
    qemuIo(src, ['write -P 1 0 20k', 'write -P 2 600k 100k', 'discard 600k 100k']);
    const original = new Uint8Array(readFileSync(src));
    const smaller = path.join(d, 'smaller.qcow2');
    copyFileSync(src, smaller);
    qemu('qemu-img', ['resize', '-q', '--shrink', smaller, '256k']);
    for (let budget = 0; ; budget++) {
      const mem = new MemoryImageFile(original, { name: 'mem' });
      let finished = true;
      try {
        await resizeQcow2(new DyingFile(mem, budget), () => 256 << 10);
      } catch (e) {
        expect(e).toBeInstanceOf(TypervisorError);
        finished = false;
      }
      const out = path.join(d, `kill-${budget}.qcow2`);
      writeFileSync(out, mem.contents());
      expect([0, 3], `killed after ${budget} writes`).toContain(checkStatus(out));
      expect(run('qemu-img', ['compare', out, info(out).size === 256 << 10 ? smaller : src]).stdout).toMatch(/identical/);
      if (finished) {
        expect(checkStatus(out)).toBe(0);
        expect(info(out).size).toBe(256 << 10);
        break;
      }
      expect(budget).toBeLessThan(200);
    }
  });
});

describe('img commit', () => {
  it('writes the overlay into its backing file and empties it, exactly as qemu-img commit', async () => {
    const ours = makeChain(freshDir());
    const theirs = makeChain(freshDir());
    const disk = path.join(dir, 'commit-before.raw');
    qemu('qemu-img', ['convert', '-O', 'raw', ours.top, disk]);
    const r = await img('commit', ours.top);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('Image committed.\n');
    expect(qemu('qemu-img', ['commit', theirs.top])).toBe(r.stdout);
    for (const k of ['top', 'mid', 'base'] as const) {
      expect(checkStatus(ours[k]), k).toBe(0);
      expect(compare(ours[k], theirs[k]), k).toBe(0);
      expect(info(ours[k])).toEqual(info(theirs[k]));
      expect(mapShape(qemuMap(ours[k])), k).toEqual(mapShape(qemuMap(theirs[k])));
    }
    // The emptied overlay maps nothing of its own (the shapes above), and the disk reads as before.
    expect(statSync(ours.top).size).toBe(statSync(theirs.top).size);
    expect(compare(ours.top, disk)).toBe(0);
  });

  it('keeps the overlay with -d, shows progress with -p, and grows a smaller raw backing file', async () => {
    const ours = makeChain(freshDir());
    const theirs = makeChain(freshDir());
    const topMap = qemuMap(ours.top);
    const r = await img('commit', '-d', '-p', ours.top);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/\(100\.00\/100%\)\n$/);
    qemu('qemu-img', ['commit', '-q', '-d', theirs.top]);
    expect(qemuMap(ours.top)).toBe(topMap);
    for (const k of ['top', 'mid'] as const) {
      expect(compare(ours[k], theirs[k]), k).toBe(0);
      expect(checkStatus(ours[k])).toBe(0);
    }

    for (const d of [freshDir(), freshDir()]) {
      writeFileSync(path.join(d, 'small.raw'), new Uint8Array(1 << 20).fill(0x42));
      qemu('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', 'small.raw', '-F', 'raw', path.join(d, 'o.qcow2'), '3M']);
      qemuIo(path.join(d, 'o.qcow2'), ['write -P 1 512k 8k', 'write -P 2 2M 64k', 'write -z 0 4k']);
    }
    const [a, b] = [path.join(dir, `d${dirs - 2}`), path.join(dir, `d${dirs - 1}`)];
    expect((await img('commit', path.join(a, 'o.qcow2'))).status).toBe(0);
    qemu('qemu-img', ['commit', '-q', path.join(b, 'o.qcow2')]);
    expect(statSync(path.join(a, 'small.raw')).size).toBe(statSync(path.join(b, 'small.raw')).size);
    expect(readFileSync(path.join(a, 'small.raw')).equals(readFileSync(path.join(b, 'small.raw')))).toBe(true);
    expect(compare(path.join(a, 'o.qcow2'), path.join(b, 'o.qcow2'))).toBe(0);
  });

  it('refuses an image without a backing file, and a missing backing file, changing nothing', async () => {
    const d = freshDir();
    const c = makeChain(d);
    for (const [file, message] of [
      [c.base, /Image does not have a backing file/],
    ] as const) {
      const before = readFileSync(file);
      const r = await img('commit', file);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(readFileSync(file).equals(before)).toBe(true);
      expect(run('qemu-img', ['commit', file]).status).toBe(1);
    }
    copyFileSync(c.top, path.join(d, 'lonely.qcow2'));
    qemu('qemu-img', ['rebase', '-u', '-b', 'gone.qcow2', '-F', 'qcow2', path.join(d, 'lonely.qcow2')]);
    const before = readFileSync(path.join(d, 'lonely.qcow2'));
    const r = await img('commit', path.join(d, 'lonely.qcow2'));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/gone\.qcow2/);
    expect(readFileSync(path.join(d, 'lonely.qcow2')).equals(before)).toBe(true);
    const raw = path.join(d, 'x.raw');
    writeFileSync(raw, new Uint8Array(4096));
    expect((await img('commit', '-f', 'raw', raw)).stderr).toMatch(/Image does not have a backing file/);
  });

  it('empties an image so that a kill at any point leaves it clean or leaky, never corrupt', async () => {
    const c = makeChain(freshDir());
    const original = new Uint8Array(readFileSync(c.top));
    for (let budget = 0; ; budget++) {
      const mem = new MemoryImageFile(original, { name: 'mem' });
      let finished = true;
      try {
        await makeQcow2Empty(new DyingFile(mem, budget));
      } catch (e) {
        expect(e).toBeInstanceOf(TypervisorError);
        finished = false;
      }
      const out = path.join(path.dirname(c.top), `kill-${budget}.qcow2`);
      writeFileSync(out, mem.contents());
      expect([0, 3], `killed after ${budget} writes`).toContain(checkStatus(out));
      if (budget > 0) expect(compare(out, c.mid)).toBe(0); // the first write unmapped everything
      if (finished) {
        expect(checkStatus(out)).toBe(0);
        break;
      }
      expect(budget).toBeLessThan(400);
    }
  });
});

describe('img rebase', () => {
  it('rebases safely onto an older image of the chain, onto nothing, and onto another file, as qemu-img rebase', async () => {
    for (const [backing, format] of [
      ['base.qcow2', 'qcow2'],
      ['', undefined],
      ['other.raw', 'raw'],
    ] as const) {
      const ours = makeChain(freshDir());
      const theirs = makeChain(freshDir());
      for (const c of [ours, theirs]) {
        const other = new Uint8Array(4 << 20).map((_, i) => (i >> 12) % 3 === 0 ? 1 : 0); // some equal to the old chain (ones), some not
        writeFileSync(path.join(path.dirname(c.top), 'other.raw'), other);
      }
      const disk = path.join(dir, `rebase-${dirs}.raw`);
      qemu('qemu-img', ['convert', '-O', 'raw', ours.top, disk]);
      const args = ['-b', backing, ...(format ? ['-F', format] : [])];
      const r = await img('rebase', ...args, ours.top);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toBe('');
      qemu('qemu-img', ['rebase', ...args, theirs.top]);
      expect(compare(ours.top, disk), backing).toBe(0);
      expect(checkStatus(ours.top)).toBe(0);
      expect(info(ours.top)).toEqual(info(theirs.top));
      expect(qemuMap(ours.top), backing).toBe(qemuMap(theirs.top));
    }
  });

  it('-u only rewrites the header; -p shows progress', async () => {
    const c = makeChain(freshDir());
    const before = readFileSync(c.top);
    const r = await img('rebase', '-u', '-b', 'base.qcow2', '-F', 'qcow2', c.top);
    expect(r.status, r.stderr).toBe(0);
    const after = readFileSync(c.top);
    expect(after.subarray(65536).equals(before.subarray(65536))).toBe(true);
    expect(info(c.top)).toMatchObject({ backing: 'base.qcow2', backingFormat: 'qcow2' });
    expect(checkStatus(c.top)).toBe(0);
    // Unsafe: the data the top image did not hold now comes from base, as qemu-img's would.
    const theirs = makeChain(freshDir());
    qemu('qemu-img', ['rebase', '-u', '-b', 'base.qcow2', '-F', 'qcow2', theirs.top]);
    expect(compare(c.top, theirs.top)).toBe(0);
    expect(qemuMap(c.top)).toBe(qemuMap(theirs.top));
    // A long name that needs the header's spare room, then none at all.
    const long = `${'x'.repeat(300)}.qcow2`;
    expect((await img('rebase', '-u', '-b', long, '-F', 'qcow2', c.top)).status).toBe(0);
    expect(info(c.top)).toMatchObject({ backing: long });
    expect((await img('rebase', '-p', '-b', '', c.mid)).stderr).toMatch(/\(100\.00\/100%\)\n$/);
    expect(info(c.mid).backing).toBeUndefined();
    expect(checkStatus(c.mid)).toBe(0);
  });

  it('refuses a missing new backing file, a missing -F and a raw image, changing nothing', async () => {
    const d = freshDir();
    const c = makeChain(d);
    const raw = path.join(d, 'r.raw');
    writeFileSync(raw, new Uint8Array(4096));
    for (const [file, args, message] of [
      [c.top, ['-b', 'nonexistent.qcow2', '-F', 'qcow2'], /Could not open new backing file 'nonexistent\.qcow2'/],
      [c.top, ['-b', 'base.qcow2'], /backing format must be specified/],
      [c.top, ['-u', '-b', 'base.qcow2'], /backing format must be specified/],
      [raw, ['-f', 'raw', '-b', 'base.qcow2', '-F', 'qcow2'], /has no backing file to change/],
    ] as const) {
      const before = readFileSync(file);
      const r = await img('rebase', ...args, file);
      expect(r.status, r.stderr).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toMatch(/hint: /);
      expect(readFileSync(file).equals(before)).toBe(true);
      expect(run('qemu-img', ['rebase', ...args, file]).status).toBe(1);
    }
    expect(existsSync(path.join(d, 'nonexistent.qcow2'))).toBe(false);
    // The old backing file is gone: a safe rebase cannot know what to keep; -u still works.
    const lonely = path.join(d, 'lonely.qcow2');
    copyFileSync(c.top, lonely);
    qemu('qemu-img', ['rebase', '-u', '-b', 'gone.qcow2', '-F', 'qcow2', lonely]);
    const before = readFileSync(lonely);
    const r = await img('rebase', '-b', 'base.qcow2', '-F', 'qcow2', lonely);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/gone\.qcow2/);
    expect(readFileSync(lonely).equals(before)).toBe(true);
    expect(run('qemu-img', ['rebase', '-b', 'base.qcow2', '-F', 'qcow2', lonely]).status).toBe(1);
    expect((await img('rebase', '-u', '-b', 'mid.qcow2', '-F', 'qcow2', lonely)).status).toBe(0);
    expect(compare(lonely, c.top)).toBe(0);
  });
});

describe('img ops on hostile images', () => {
  it('map, resize, empty and backing rewrites of mutated qcow2 images work or throw TypervisorError, in bounded time', async () => {
    const base = smallImage({ clusterSize: 4096 });
    const l1 = be.u64(base, 40);
    const l2 = Number(be.u64n(base, l1) & 0x00ff_ffff_ffff_fe00n);
    const rt = be.u64(base, 48);
    const rb = be.u64(base, rt);
    const spots = [8, 16, 24, 36, 40, 48, 56, 60, l1, l1 + 8, l2, l2 + 8, l2 + 64 * 8, l2 + 128 * 8, rt, rt + 8, rb, rb + 2];
    const mutation = fc.record({
      spot: fc.nat(spots.length - 1),
      delta: fc.nat(7),
      value: fc.oneof(fc.constantFrom(0n, 1n, 0x1000n, 0x8000_0000_0000_1000n, 0x4000_0000_0000_1000n, (1n << 64n) - 1n, 0x2_0000_0000n), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })),
    });
    const ops: Array<[string, (bytes: Uint8Array) => Promise<unknown>]> = [
      ['map', async (bytes) => {
        const disk = await openImage(new MemoryImageFileSystem({ 'img.qcow2': bytes }), 'img.qcow2', { readOnly: true });
        try {
          return await mapImage(disk);
        } finally {
          await disk.close();
        }
      }],
      ['grow', (bytes) => resizeQcow2(new MemoryImageFile(bytes), () => 3 * 2 ** 30)],
      ['shrink', (bytes) => resizeQcow2(new MemoryImageFile(bytes), () => 256 << 10)],
      ['empty', (bytes) => makeQcow2Empty(new MemoryImageFile(bytes))],
      ['rebase -u', (bytes) => setQcow2Backing(new MemoryImageFile(bytes), { name: 'b.raw', format: 'raw' })],
    ];
    const outcomes = { ok: 0, refused: 0 };
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), fc.nat(ops.length - 1), async (ms, op) => {
        const bytes = base.slice();
        for (const m of ms) {
          const at = Math.min(spots[m.spot] + m.delta * 8, bytes.length - 8);
          be.setU64(bytes, at, m.value);
        }
        let timer: ReturnType<typeof setTimeout> | undefined;
        const limit = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${ops[op][0]}: no answer within 3 s`)), 3000)));
        try {
          await Promise.race([ops[op][1](bytes), limit]);
          outcomes.ok++;
        } catch (e) {
          if (!(e instanceof TypervisorError)) throw e;
          outcomes.refused++;
        } finally {
          clearTimeout(timer);
        }
      }),
      { numRuns: Number(process.env.IMG_OPS_FUZZ_RUNS ?? 300) },
    );
    expect(outcomes.ok).toBeGreaterThan(15);
    expect(outcomes.refused).toBeGreaterThan(15);
  });
});
