// qcow2 internal snapshots against Debian's qemu-img: snapshots we take are listed, applied and
// deleted by qemu-img (and `qemu-img check` stays clean); snapshots qemu-img takes are listed,
// applied and deleted by us with the same results as qemu-img's own operations; writes after a
// snapshot leave its bytes alone; a process killed at any write of an operation leaves a clean
// image in the old or the new state; malformed snapshot tables are refused precisely.
import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { TypervisorError } from '../../src/core/errors.js';
import { NodeImageFile } from '../../src/host/storage-file.js';
import { MemoryImageFile } from '../../src/storage/memory-image-file.js';
import { parseQcow2Header } from '../../src/storage/qcow2/qcow2-header.js';
import { Qcow2Image } from '../../src/storage/qcow2/qcow2-image.js';
import { parseSnapshotTable, serializeSnapshotTable } from '../../src/storage/qcow2/qcow2-snapshot-table.js';
import { applySnapshot, createSnapshot, deleteSnapshot, readQcow2Snapshots } from '../../src/storage/qcow2/qcow2-snapshots.js';
import { DyingFile } from './dying-file.js';
import { be } from './qcow2-images.js';
import { firstDifference, qemu, qemuIo, qemuRaw, tempDir } from './qemu-tools.js';
import { img } from './typervisor-img.js';

const tmp = tempDir('qcow2-snap-');
afterAll(() => tmp.remove());
const at = (name: string) => path.join(tmp.dir, name);

/** `qemu-img check --output json`: exit status and report. */
function qemuCheck(file: string): { status: number; report: Record<string, unknown> } {
  const r = spawnSync('qemu-img', ['check', '--output', 'json', file], { encoding: 'utf8' });
  let report: Record<string, unknown>;
  try {
    report = JSON.parse(r.stdout) as Record<string, unknown>;
  } catch {
    report = { stdout: r.stdout, stderr: r.stderr };
  }
  return { status: r.status ?? -1, report };
}

function expectClean(file: string): void {
  const { status, report } = qemuCheck(file);
  expect({ status, leaks: report['leaks'] ?? 0, corruptions: report['corruptions'] ?? 0 }).toEqual({ status: 0, leaks: 0, corruptions: 0 });
}

/** qemu-img's snapshot list: [id, name] pairs. */
function qemuSnapshots(file: string): [string, string][] {
  const info = JSON.parse(qemu('qemu-img', ['info', '--output', 'json', file])) as { snapshots?: { id: string; name: string }[] };
  return (info.snapshots ?? []).map((s) => [s.id, s.name]);
}

/** A 4 MiB image with 4 KiB clusters (several L2 tables, refcount blocks) and data in places. */
function base(name: string, extra: string[] = []): string {
  const f = at(name);
  qemu('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'cluster_size=4096', ...extra, f, '4M']);
  qemuIo(f, ['write -P 0x11 0 64k', 'write -P 0x22 1M 40k', 'write -P 0x33 3M 4k', 'write -z 2M 8k']);
  return f;
}

describe('snapshots we take, read by qemu-img', () => {
  it('are listed by qemu-img exactly as qemu-img lists its own, with check clean', async () => {
    const f = base('ours.qcow2');
    expect((await img('snapshot', '-c', 'first', f)).status).toBe(0);
    qemuIo(f, ['write -P 0x44 0 4k']);
    expect((await img('snapshot', '-c', 'second one', f)).status).toBe(0);
    expectClean(f);
    expect(qemuSnapshots(f)).toEqual([['1', 'first'], ['2', 'second one']]);
    // Our list and info are qemu-img's, byte for byte (same file, so same dates).
    expect((await img('snapshot', '-l', f)).stdout).toBe(qemu('qemu-img', ['snapshot', '-l', f]));
    const ours = JSON.parse((await img('info', '--output', 'json', f)).stdout) as Record<string, unknown>;
    const theirs = JSON.parse(qemu('qemu-img', ['info', '--output', 'json', f])) as Record<string, unknown>;
    expect(ours['snapshots']).toEqual(theirs['snapshots']);
    const text = (await img('info', f)).stdout;
    const qtext = qemu('qemu-img', ['info', f]);
    const list = (t: string) => t.slice(t.indexOf('Snapshot list:'), t.indexOf('Format specific'));
    expect(list(text)).toBe(list(qtext));
    expect(list(text)).toContain('second one');
  });

  it('are restored by qemu-img snapshot -a after writes through qemu-io and through our writer', async () => {
    const f = base('restore.qcow2');
    const before = qemuRaw(f, tmp.dir);
    expect((await img('snapshot', '-c', 'snap', f)).status).toBe(0);
    qemuIo(f, ['write -P 0x55 0 8k', 'write -P 0x66 1M 4k', 'discard 3M 4k', 'write -P 0x77 3584k 64k']);
    const disk = await Qcow2Image.open(await NodeImageFile.open(f, { writable: true }), { readOnly: false });
    for (let i = 0; i < 40; i++) await disk.write(((i * 97) % 1000) * 4096 + (i % 3) * 100, new Uint8Array(5000).fill(i + 1));
    await disk.close();
    expectClean(f);
    const after = qemuRaw(f, tmp.dir);
    expect(firstDifference(after, before)).toBeDefined();
    const copy = at('restore-copy.qcow2');
    copyFileSync(f, copy);
    qemu('qemu-img', ['snapshot', '-a', 'snap', copy]);
    expect(firstDifference(qemuRaw(copy, tmp.dir), before)).toBeUndefined();
    expectClean(copy);
    // Ours too; and the snapshot survives being applied.
    expect((await img('snapshot', '-a', 'snap', f)).status).toBe(0);
    expect(firstDifference(qemuRaw(f, tmp.dir), before)).toBeUndefined();
    expectClean(f);
    expect(qemuSnapshots(f)).toEqual([['1', 'snap']]);
    // qemu-img deletes our snapshot cleanly.
    qemu('qemu-img', ['snapshot', '-d', 'snap', f]);
    expectClean(f);
    expect(firstDifference(qemuRaw(f, tmp.dir), before)).toBeUndefined();
  });

  it('keep their bytes under random writes of our writer (copy-on-write of shared clusters and L2 tables)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.record({ offset: fc.nat(4 * 1024 * 1024 - 1), len: fc.integer({ min: 1, max: 20000 }), byte: fc.integer({ min: 1, max: 255 }) }), { minLength: 1, maxLength: 12 }), async (writes) => {
        const f = base('prop.qcow2');
        const before = qemuRaw(f, tmp.dir);
        expect((await img('snapshot', '-c', 'p', f)).status).toBe(0);
        const disk = await Qcow2Image.open(await NodeImageFile.open(f, { writable: true }), { readOnly: false });
        const model = before.slice();
        for (const w of writes) {
          const len = Math.min(w.len, model.length - w.offset);
          const data = new Uint8Array(len).fill(w.byte);
          await disk.write(w.offset, data);
          model.set(data, w.offset);
        }
        await disk.close();
        expectClean(f);
        expect(firstDifference(qemuRaw(f, tmp.dir), model)).toBeUndefined();
        qemu('qemu-img', ['snapshot', '-a', 'p', f]);
        expect(firstDifference(qemuRaw(f, tmp.dir), before)).toBeUndefined();
        expectClean(f);
      }),
      { numRuns: 8 },
    );
  });
});

describe('snapshots across layouts', () => {
  // 512-byte clusters: hundreds of L2 tables and refcount blocks; v2; 1- to 64-bit refcounts.
  const layouts: [string, string[]][] = [
    ['512-byte clusters', ['-o', 'cluster_size=512']],
    ['v2, 64 KiB clusters', ['-o', 'compat=0.10']],
    ['8-bit refcounts', ['-o', 'cluster_size=4096,refcount_bits=8']],
    ['64-bit refcounts', ['-o', 'cluster_size=4096,refcount_bits=64']],
    ['2-bit refcounts', ['-o', 'cluster_size=4096,refcount_bits=2']],
  ];
  for (const [what, opts] of layouts) {
    it(`${what}: take, write, take, apply both, delete both; qemu-img agrees at each step`, async () => {
      const f = at(`layout-${what.replace(/\W+/g, '-')}.qcow2`);
      qemu('qemu-img', ['create', '-q', '-f', 'qcow2', ...opts, f, '3M']);
      qemuIo(f, ['write -P 1 0 300k', 'write -P 2 1M 100k', 'write -P 3 2900k 4k']);
      const s1 = qemuRaw(f, tmp.dir);
      expect((await img('snapshot', '-c', 'a', f)).status).toBe(0);
      expectClean(f);
      qemuIo(f, ['write -P 4 100k 600k', 'write -P 5 2M 512']);
      const s2 = qemuRaw(f, tmp.dir);
      expect((await img('snapshot', '-c', 'b', f)).status).toBe(0);
      expectClean(f);
      qemuIo(f, ['write -P 6 0 3M']);
      expect((await img('snapshot', '-a', 'a', f)).status).toBe(0);
      expectClean(f);
      expect(firstDifference(qemuRaw(f, tmp.dir), s1)).toBeUndefined();
      // QEMU raises the snapshot's refcounts before it lowers the old state's, which overflows
      // 2-bit refcounts (3 references + 1) here; ours switches to the final counts at once.
      if (what.startsWith('2-bit')) expect((await img('snapshot', '-a', 'b', f)).status).toBe(0);
      else qemu('qemu-img', ['snapshot', '-a', 'b', f]);
      expect(firstDifference(qemuRaw(f, tmp.dir), s2)).toBeUndefined();
      expectClean(f);
      expect((await img('snapshot', '-d', 'a', f)).status).toBe(0);
      expectClean(f);
      expect((await img('snapshot', '-d', 'b', f)).status).toBe(0);
      expectClean(f);
      expect(qemuSnapshots(f)).toEqual([]);
      expect(firstDifference(qemuRaw(f, tmp.dir), s2)).toBeUndefined();
    });
  }

  it('a 0-byte disk (no L1 table): take, apply, delete stay clean', async () => {
    const f = at('zero-size.qcow2');
    qemu('qemu-img', ['create', '-q', '-f', 'qcow2', f, '0']);
    expect((await img('snapshot', '-c', 'a', f)).status).toBe(0);
    expectClean(f);
    qemu('qemu-img', ['snapshot', '-c', 'b', f]);
    expect((await img('snapshot', '-a', 'b', f)).status).toBe(0);
    expectClean(f);
    expect((await img('snapshot', '-d', 'a', f)).status).toBe(0);
    expect((await img('snapshot', '-d', 'b', f)).status).toBe(0);
    expectClean(f);
  });

  it('1-bit refcounts cannot hold a shared cluster: refused before anything is written', async () => {
    const f = at('refcount1.qcow2');
    qemu('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'cluster_size=4096,refcount_bits=1', f, '1M']);
    qemuIo(f, ['write -P 1 0 8k']);
    const before = readFileSync(f);
    const r = await img('snapshot', '-c', 'x', f);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/would be referenced 2 times, more than 1-bit refcounts hold/);
    expect(Buffer.compare(readFileSync(f), before)).toBe(0);
  });
});

describe('random sequences of snapshot operations and writes', () => {
  /** Each step is done by us or by qemu-img/qemu-io, so the two take turns on one image. */
  type Step = { qemu: boolean } & ({ op: 'write'; offset: number; len: number; byte: number } | { op: 'create' } | { op: 'apply' | 'delete'; pick: number });
  const step: fc.Arbitrary<Step> = fc.oneof(
    fc.record({ qemu: fc.boolean(), op: fc.constant('write' as const), offset: fc.nat(1024 * 1024 - 1), len: fc.integer({ min: 1, max: 12000 }), byte: fc.integer({ min: 1, max: 255 }) }),
    fc.record({ qemu: fc.boolean(), op: fc.constant('create' as const) }),
    fc.record({ qemu: fc.boolean(), op: fc.constantFrom('apply' as const, 'delete' as const), pick: fc.nat(10) }),
  );
  it('by us and by qemu-img in turns, match a model of the disk and its snapshots; qemu-img agrees with every snapshot left', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 14 }), async (steps) => {
        const f = at(`seq-${run++}.qcow2`);
        qemu('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'cluster_size=4096', f, '1M']);
        let disk = qemuRaw(f, tmp.dir);
        const snaps = new Map<string, Uint8Array>();
        let n = 0;
        for (const s of steps) {
          const names = [...snaps.keys()];
          if (s.op === 'write' && s.qemu) {
            const len = Math.min(s.len, disk.length - s.offset);
            qemuIo(f, [`write -P ${s.byte} ${s.offset} ${len}`]);
            disk.fill(s.byte, s.offset, s.offset + len);
          } else if (s.op === 'write') {
            const q = await Qcow2Image.open(await NodeImageFile.open(f, { writable: true }), { readOnly: false });
            const data = new Uint8Array(Math.min(s.len, disk.length - s.offset)).fill(s.byte);
            await q.write(s.offset, data);
            await q.close();
            disk.set(data, s.offset);
          } else if (s.op === 'create') {
            const name = `s${n++}`;
            if (s.qemu) qemu('qemu-img', ['snapshot', '-c', name, f]);
            else expect((await img('snapshot', '-c', name, f)).status).toBe(0);
            snaps.set(name, disk.slice());
          } else if (names.length > 0) {
            const name = names[s.pick % names.length];
            if (s.qemu) qemu('qemu-img', ['snapshot', s.op === 'apply' ? '-a' : '-d', name, f]);
            else expect((await img('snapshot', s.op === 'apply' ? '-a' : '-d', name, f)).status).toBe(0);
            if (s.op === 'apply') disk = snaps.get(name)!.slice();
            else snaps.delete(name);
          }
        }
        expectClean(f);
        expect(firstDifference(qemuRaw(f, tmp.dir), disk)).toBeUndefined();
        expect(qemuSnapshots(f).map(([, name]) => name)).toEqual([...snaps.keys()]);
        for (const [name, bytes] of snaps) {
          const copy = at('seq-copy.qcow2');
          copyFileSync(f, copy);
          qemu('qemu-img', ['snapshot', '-a', name, copy]);
          expect(firstDifference(qemuRaw(copy, tmp.dir), bytes)).toBeUndefined();
        }
      }),
      { numRuns: Number(process.env['QCOW2_SNAPSHOT_RUNS'] ?? 12) },
    );
  });
});

describe('images with refcount problems', () => {
  /** A qemu-made image's bytes, its first refcount block's offset and its first data cluster index. */
  function image(): { b: Buffer; block: number; data: number } {
    const f = base('rc.qcow2');
    const b = readFileSync(f);
    const block = be.u64(b, be.u64(b, 48));
    const l2 = Number(be.u64n(b, be.u64(b, 40)) & 0xffffffffffe00n);
    const data = Number(be.u64n(b, l2) & 0xffffffffffe00n) / 4096;
    return { b, block, data };
  }

  it('leaked clusters are reclaimed (refcounts are recounted)', async () => {
    const { b, block } = image();
    const grown = Buffer.concat([b.subarray(0, Math.ceil(b.length / 4096) * 4096), Buffer.alloc(b.length % 4096 === 0 ? 4096 : Math.ceil(b.length / 4096) * 4096 - b.length + 4096)]);
    const extra = Math.floor(b.length / 4096) + (b.length % 4096 === 0 ? 0 : 1);
    grown.writeUInt16BE(1, block + 2 * extra); // an unreferenced cluster with refcount 1: a leak
    const f = at('leaky.qcow2');
    writeFileSync(f, grown);
    expect(qemuCheck(f).report['leaks']).toBe(1);
    expect((await img('snapshot', '-c', 's', f)).status).toBe(0);
    expectClean(f);
  });

  it('an image with a too-low refcount is refused and left as it was', async () => {
    const { b, block, data } = image();
    b.writeUInt16BE(0, block + 2 * data);
    const f = at('corrupt.qcow2');
    writeFileSync(f, b);
    expect(qemuCheck(f).status).toBe(2);
    const r = await img('snapshot', '-c', 's', f);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/refcount or table errors \(ERROR cluster \d+ refcount=0 reference=1\); snapshots are not changed/);
    expect(r.stderr).toMatch(/check -r all/);
    expect(Buffer.compare(readFileSync(f), b)).toBe(0);
  });
});

describe('our writer and COPIED flags that lie', () => {
  it('a COPIED flag set on a cluster and L2 table shared with a snapshot does not let a write reach them', async () => {
    const f = base('liar.qcow2');
    const before = qemuRaw(f, tmp.dir);
    qemu('qemu-img', ['snapshot', '-c', 's', f]);
    const b = readFileSync(f);
    const l1 = be.u64(b, 40);
    const l2 = Number(be.u64n(b, l1) & 0xffffffffffe00n);
    be.setU64(b, l1, be.u64n(b, l1) | (1n << 63n));
    be.setU64(b, l2, be.u64n(b, l2) | (1n << 63n));
    writeFileSync(f, b);
    expect(qemuCheck(f).status).toBe(2); // the flags disagree with the refcounts
    const disk = await Qcow2Image.open(await NodeImageFile.open(f, { writable: true }), { readOnly: false });
    await disk.write(100, new Uint8Array(1000).fill(0xee));
    await disk.close();
    qemu('qemu-img', ['snapshot', '-a', 's', f]);
    expect(firstDifference(qemuRaw(f, tmp.dir), before)).toBeUndefined();
  });
});

describe('snapshots qemu-img takes, changed by us', () => {
  /** An image with two qemu-made snapshots between qemu-io writes; returns the raw disk at each. */
  function qemuMade(name: string, extra: string[] = []): { f: string; at1: Uint8Array; at2: Uint8Array; now: Uint8Array } {
    const f = base(name, extra);
    const at1 = qemuRaw(f, tmp.dir);
    qemu('qemu-img', ['snapshot', '-c', 'one', f]);
    qemuIo(f, ['write -P 0x88 0 12k', 'write -P 0x99 2M 4k', 'write -P 0xaa 3M 4k']);
    const at2 = qemuRaw(f, tmp.dir);
    qemu('qemu-img', ['snapshot', '-c', 'two', f]);
    qemuIo(f, ['write -P 0xbb 4k 4k', 'discard 1M 8k']);
    return { f, at1, at2, now: qemuRaw(f, tmp.dir) };
  }

  for (const compat of ['1.1', '0.10']) {
    it(`are listed, applied and deleted as qemu-img does (compat=${compat})`, async () => {
      const { f, at1, at2, now } = qemuMade(`q-${compat}.qcow2`, ['-o', `compat=${compat}`]);
      expect((await img('snapshot', '-l', f)).stdout).toBe(qemu('qemu-img', ['snapshot', '-l', f]));
      // Apply by name and by ID; qemu-img check stays clean and the disk is the snapshot's.
      expect((await img('snapshot', '-a', 'one', f)).status).toBe(0);
      expectClean(f);
      expect(firstDifference(qemuRaw(f, tmp.dir), at1)).toBeUndefined();
      expect((await img('snapshot', '-a', '2', f)).status).toBe(0);
      expectClean(f);
      expect(firstDifference(qemuRaw(f, tmp.dir), at2)).toBeUndefined();
      void now;
      // Delete: qemu-img no longer lists it, the other one still applies (through qemu-img).
      expect((await img('snapshot', '-d', 'one', f)).status).toBe(0);
      expectClean(f);
      expect(qemuSnapshots(f)).toEqual([['2', 'two']]);
      qemuIo(f, ['write -P 0xcc 0 64k']);
      qemu('qemu-img', ['snapshot', '-a', 'two', f]);
      expect(firstDifference(qemuRaw(f, tmp.dir), at2)).toBeUndefined();
      expect((await img('snapshot', '-d', '2', f)).status).toBe(0);
      expectClean(f);
      expect(qemuSnapshots(f)).toEqual([]);
      expect(firstDifference(qemuRaw(f, tmp.dir), at2)).toBeUndefined();
      expect((await img('snapshot', '-l', f)).stdout).toBe(qemu('qemu-img', ['snapshot', '-l', f]));
      expect((await img('info', f)).stdout).not.toContain('Snapshot list');
    });
  }

  it('deleting frees the clusters only the snapshot used (the same allocation as qemu-img\'s delete)', async () => {
    const { f } = qemuMade('free.qcow2');
    const theirs = at('free-qemu.qcow2');
    copyFileSync(f, theirs);
    expect((await img('snapshot', '-d', 'one', f)).status).toBe(0);
    expect((await img('snapshot', '-d', 'two', f)).status).toBe(0);
    qemu('qemu-img', ['snapshot', '-d', 'one', theirs]);
    qemu('qemu-img', ['snapshot', '-d', 'two', theirs]);
    expectClean(f);
    expectClean(theirs);
    // The data clusters in use are the same count; ours holds no more metadata than a few tables.
    const used = (file: string) => {
      const r = qemuCheck(file).report;
      return { allocated: r['allocated-clusters'], end: r['image-end-offset'] as number };
    };
    expect(used(f).allocated).toBe(used(theirs).allocated);
    expect(compare(f, theirs)).toBe(0);
    // Every cluster below the end is referenced (check: no leaks) and the file was cut there.
    expect(statSync(f).size).toBeLessThanOrEqual(used(f).end);
  });

  it('refuses unknown snapshots and a bad command line, naming what exists', async () => {
    const { f } = qemuMade('refuse.qcow2');
    const r = await img('snapshot', '-a', 'nope', f);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/no snapshot with ID or name "nope"/);
    expect(r.stderr).toMatch(/1 \(one\), 2 \(two\)/);
    expect((await img('snapshot', '-l', '-c', 'x', f)).stderr).toMatch(/exactly one of -l, -c/);
    const raw = at('refuse.raw');
    writeFileSync(raw, new Uint8Array(65536));
    expect((await img('snapshot', '-l', raw)).stderr).toMatch(/raw images have no internal snapshots/);
  });
});

function compare(a: string, b: string): number {
  return spawnSync('qemu-img', ['compare', a, b], { encoding: 'utf8' }).status ?? -1;
}

describe('crash safety', () => {
  type Op = { what: string; run: (file: DyingFile | MemoryImageFile) => Promise<unknown> };
  const ops: Op[] = [
    { what: 'create', run: (file) => createSnapshot(file, 'new', { dateMs: 1_700_000_000_000 }) },
    { what: 'apply', run: (file) => applySnapshot(file, 'one') },
    { what: 'delete', run: (file) => deleteSnapshot(file, 'one') },
  ];
  for (const op of ops) {
    it(`a process killed at any write of snapshot ${op.what} leaves a clean image, in the old state or the new`, async () => {
      const f = base(`kill-${op.what}.qcow2`);
      qemu('qemu-img', ['snapshot', '-c', 'one', f]);
      qemuIo(f, ['write -P 0x5a 8k 20k', 'write -P 0x5b 2M 4k']);
      const initial = new Uint8Array(readFileSync(f));
      const oldRaw = qemuRaw(f, tmp.dir);
      const oldList = qemuSnapshots(f);
      // The complete operation, for the new state.
      const done = new MemoryImageFile(initial, { name: 'done' });
      await op.run(done);
      const full = at(`kill-${op.what}-done.qcow2`);
      writeFileSync(full, done.contents());
      expectClean(full);
      const newRaw = qemuRaw(full, tmp.dir);
      const newList = qemuSnapshots(full).map(([id, name]) => [id, name]);
      let completed = false;
      for (let budget = 0; !completed; budget++) {
        const mem = new MemoryImageFile(initial, { name: `kill-${budget}` });
        try {
          await op.run(new DyingFile(mem, budget));
          completed = true;
        } catch (e) {
          expect(e).toBeInstanceOf(TypervisorError);
          expect((e as Error).message).toBe('killed');
        }
        const out = at(`kill-${op.what}-${budget}.qcow2`);
        writeFileSync(out, mem.contents());
        const { status, report } = qemuCheck(out);
        expect({ budget, status, report: { leaks: report['leaks'], corruptions: report['corruptions'] } }).toEqual({ budget, status: 0, report: { leaks: undefined, corruptions: undefined } });
        const raw = qemuRaw(out, tmp.dir);
        const list = qemuSnapshots(out);
        const isOld = firstDifference(raw, oldRaw) === undefined && JSON.stringify(list) === JSON.stringify(oldList);
        const isNew = firstDifference(raw, newRaw) === undefined && JSON.stringify(list) === JSON.stringify(newList);
        expect({ budget, oldOrNew: isOld || isNew }).toEqual({ budget, oldOrNew: true });
        if (completed) expect(isNew).toBe(true);
        expect(budget).toBeLessThan(200);
      }
    });
  }
});

describe('malformed snapshot tables', () => {
  /** qemu-made image bytes with two snapshots, and the offset of its snapshot table. */
  function twoSnapshots(compat = '1.1'): { bytes: Uint8Array; table: number } {
    const f = base(`m-${compat}.qcow2`, ['-o', `compat=${compat}`]);
    qemu('qemu-img', ['snapshot', '-c', 'alpha', f]);
    qemuIo(f, ['write -P 1 0 4k']);
    qemu('qemu-img', ['snapshot', '-c', 'beta', f]);
    const bytes = new Uint8Array(readFileSync(f));
    return { bytes, table: be.u64(bytes, 64) };
  }
  async function openFails(bytes: Uint8Array): Promise<string> {
    let msg = 'opened';
    await Qcow2Image.open(new MemoryImageFile(bytes, { name: 'bad.qcow2', writable: false })).then(
      (d) => d.close(),
      (e: unknown) => {
        expect(e).toBeInstanceOf(TypervisorError);
        msg = (e as Error).message;
      },
    );
    // The snapshot operations see the same error.
    await readQcow2Snapshots(new MemoryImageFile(bytes, { name: 'bad.qcow2' })).then(
      () => expect('listed').toBe(msg),
      (e: unknown) => expect((e as Error).message).toBe(msg),
    );
    return msg;
  }
  const cases: [string, (b: Uint8Array, t: number) => void, RegExp][] = [
    ['extra data over 1 KiB', (b, t) => be.setU32(b, t + 36, 2000), /snapshot entry 0 .*extra_data_size is 2000; the limit is 1024/],
    ['v3 extra data too small', (b, t) => be.setU32(b, t + 36, 8), /extra_data_size is 8; version 3 images need at least 16/],
    ['L1 of a snapshot past the end', (b, t) => be.setU64(b, t, 0x100000000), /snapshot entry 0 .*\("alpha"\): its L1 table \(0x100000000, \d+ entries\) ends past the end of the file/],
    ['L1 misaligned', (b, t) => be.setU64(b, t, be.u64(b, t) + 512), /\("alpha"\): l1_table_offset 0x[0-9a-f]+ is not a cluster-aligned offset/],
    ['L1 absurdly large', (b, t) => be.setU32(b, t + 8, 0x1000000), /l1_size is 16777216 entries \(134217728 bytes\), beyond the 32 MiB limit/],
    ['L1 too small for the disk size', (b, t) => be.setU32(b, t + 8, 0), /l1_size is 0 entries, too small for its disk size 4194304/],
    ['more entries than the table holds', (b) => be.setU32(b, 60, 3), /snapshot entry 2 .*lies past the end of the file/],
    ['absurd count', (b) => be.setU32(b, 60, 65537), /nb_snapshots is 65537; the limit is 65536/],
    ['a name running past the end', (b, t) => be.setU32(b, t + 12, 0x0001ffff), /snapshot entry 0 .*the entry \(\d+ bytes\) ends past the end of the file/],
    ['a name that is not UTF-8', (b, t) => { b[t + 40 + 24 + 1] = 0xff; }, /snapshot entry 0 .*not valid UTF-8/],
    ['an empty ID', (b, t) => be.setU32(b, t + 12, 0x00000005), /snapshot entry 0 .*the ID string is empty/],
  ];
  for (const [what, patch, message] of cases) {
    it(`refuses ${what}`, async () => {
      const { bytes, table } = twoSnapshots();
      patch(bytes, table);
      expect(await openFails(bytes)).toMatch(message);
    });
  }

  it('any mutation of the table is parsed or refused with a TypervisorError; what parses round-trips', async () => {
    const { bytes, table } = twoSnapshots();
    const h = parseQcow2Header('m', bytes.subarray(0, 4096), bytes.length);
    const region = bytes.length - table;
    fc.assert(
      fc.property(fc.array(fc.record({ at: fc.nat(region - 1), value: fc.nat(255) }), { minLength: 1, maxLength: 6 }), (muts) => {
        const b = bytes.slice();
        for (const m of muts) b[table + m.at] = m.value;
        try {
          const { snapshots } = parseSnapshotTable('m', h, b.subarray(table), b.length);
          for (const s of snapshots) {
            expect(s.l1Size === 0 || (s.l1TableOffset % 4096 === 0 && s.l1TableOffset + s.l1Size * 8 <= b.length)).toBe(true);
          }
          const again = parseSnapshotTable('m', h, serializeSnapshotTable(snapshots), Number.MAX_SAFE_INTEGER);
          expect(again.snapshots.map((s) => [s.id, s.name, s.l1TableOffset, s.l1Size, s.diskSize, s.dateSec])).toEqual(
            snapshots.map((s) => [s.id, s.name, s.l1TableOffset, s.l1Size, s.diskSize, s.dateSec]),
          );
        } catch (e) {
          if (!(e instanceof TypervisorError)) throw e;
          expect(e.message).toMatch(/^m: corrupt qcow2 snapshot table: snapshot entry \d+/);
        }
      }),
      { numRuns: 400 },
    );
  });

  it('our parse of qemu-made tables agrees with qemu-img (v2 and v3)', async () => {
    for (const compat of ['0.10', '1.1']) {
      const { bytes } = twoSnapshots(compat);
      const f = at(`agree-${compat}.qcow2`);
      writeFileSync(f, bytes);
      const { snapshots } = await readQcow2Snapshots(new MemoryImageFile(bytes));
      const info = JSON.parse(qemu('qemu-img', ['info', '--output', 'json', f])) as { snapshots: Record<string, unknown>[] };
      expect(snapshots.map((s) => ({ id: s.id, name: s.name, 'date-sec': s.dateSec, 'date-nsec': s.dateNsec, 'vm-state-size': s.vmStateSize }))).toEqual(
        info.snapshots.map((s) => ({ id: s['id'], name: s['name'], 'date-sec': s['date-sec'], 'date-nsec': s['date-nsec'], 'vm-state-size': s['vm-state-size'] })),
      );
    }
  });
});
