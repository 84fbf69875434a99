// Writing qcow2: allocation on first write, copy-on-write from backing files, compressed, zero
// and snapshot-shared clusters. Images we write must pass `qemu-img check` with no errors and no
// leaks and read back, through qemu-img, exactly as our model of the disk says; a process that
// dies between any two of our file writes leaves an image with leaks at worst.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { TypervisorError } from '../../src/core/errors.js';
import { nodeImageFileSystem } from '../../src/host/storage-file.js';
import type { BlockBackend } from '../../src/storage/block-backend.js';
import { MemoryImageFile } from '../../src/storage/memory-image-file.js';
import { openImage } from '../../src/storage/open-image.js';
import { Qcow2Image } from '../../src/storage/qcow2/qcow2-image.js';
import { blockBackendConformance } from './conformance.js';
import { firstDifference, qemu, qemuIo, qemuRaw, tempDir } from './qemu-tools.js';
import { DyingFile } from './dying-file.js';
import { rng, type Write } from './seeded-writes.js';

const tmp = tempDir('qcow2-write-');
afterAll(() => tmp.remove());
const at = (name: string) => path.join(tmp.dir, name);

/** `qemu-img check`: its exit status (0 clean, 2 corruptions, 3 leaks only) and JSON report. */
function check(file: string): { status: number; report: Record<string, unknown> } {
  const r = spawnSync('qemu-img', ['check', '--output=json', file], { encoding: 'utf8' });
  if (r.error) throw r.error;
  let report: Record<string, unknown> = {};
  try {
    report = JSON.parse(r.stdout) as Record<string, unknown>;
  } catch {
    report = { stderr: r.stderr, stdout: r.stdout };
  }
  return { status: r.status ?? -1, report };
}

/**
 * After a simulated kill: `qemu-img check` finds no corruption (leaks allowed), and the image
 * reads back as `model`, except that the write in flight (`died`) may have landed in part —
 * each of its bytes old or new.
 */
function expectSurvivedKill(out: string, budget: number, died: Write | undefined, model: Uint8Array, dir: string): void {
  const { status, report } = check(out);
  expect({ budget, status, corruptions: report['corruptions'] ?? 0 }).toMatchObject({ status: expect.toSatisfy((s: number) => s === 0 || s === 3), corruptions: 0 });
  const got = qemuRaw(out, dir);
  if (died !== undefined) {
    for (let i = 0; i < died.data.length; i++) {
      const b = got[died.offset + i];
      if (b !== died.data[i] && b !== model[died.offset + i]) expect(`budget ${budget}: byte ${died.offset + i} is ${b}`).toBe('old or new');
    }
    got.set(model.subarray(died.offset, died.offset + died.data.length), died.offset);
  }
  expect(firstDifference(got, model), `budget ${budget}`).toBeUndefined();
}

/** `qemu-img check` finds the image clean and qemu reads it as `model`, every byte. */
function expectCleanAs(file: string, model: Uint8Array): void {
  expectClean(file);
  expect(firstDifference(qemuRaw(file, tmp.dir), model)).toBeUndefined();
}

/** The open image reads as `model`, every byte. */
async function expectReadsAs(disk: BlockBackend, model: Uint8Array): Promise<void> {
  const back = new Uint8Array(disk.capacity);
  await disk.read(0, back);
  expect(firstDifference(back, model)).toBeUndefined();
}

function expectClean(file: string): void {
  const { status, report } = check(file);
  expect({ status, report }).toMatchObject({ status: 0 });
  expect(report['corruptions'] ?? 0).toBe(0);
  expect(report['leaks'] ?? 0).toBe(0);
}

/** Writes of every shape: partial and whole clusters, across boundaries, at the very end. */
function writePlan(capacity: number, clusterSize: number, seed: number, count: number): Write[] {
  const r = rng(seed);
  const plan: Write[] = [];
  for (let i = 0; i < count; i++) {
    const shape = i % 4;
    let offset: number;
    let len: number;
    if (shape === 0) {
      offset = Math.floor((r() * capacity) / clusterSize) * clusterSize;
      len = clusterSize;
    } else if (shape === 1) {
      offset = Math.floor(r() * capacity);
      len = 1 + Math.floor(r() * 3 * clusterSize);
    } else if (shape === 2) {
      offset = Math.floor(r() * capacity);
      len = 1 + Math.floor(r() * 700);
    } else {
      len = 1 + Math.floor(r() * 2 * clusterSize);
      offset = capacity - len;
    }
    len = Math.max(1, Math.min(len, capacity - offset));
    const fill = Math.floor(r() * 256);
    plan.push({ offset, data: Uint8Array.from({ length: len }, (_, j) => (fill + j * 7) & 0xff) });
  }
  return plan;
}

/** Applies `plan` in batches of concurrent writes (the backend serialises them in call order). */
async function apply(disk: BlockBackend, model: Uint8Array, plan: Write[]): Promise<void> {
  for (let i = 0; i < plan.length; i += 3) {
    const batch = plan.slice(i, i + 3);
    await Promise.all(batch.map((w) => disk.write(w.offset, w.data)));
    for (const w of batch) model.set(w.data, w.offset);
  }
}

function create(file: string, size: string, opts: string[] = []): string {
  qemu('qemu-img', ['create', '-q', '-f', 'qcow2', ...opts, at(file), size]);
  return at(file);
}

function mixed(size: number, seed: number): Uint8Array {
  const r = rng(seed);
  const out = new Uint8Array(size);
  const text = new TextEncoder().encode('compressible text for a qcow2 image ');
  for (let i = 0; i < size; i++) out[i] = (i >> 15) % 3 === 0 ? Math.floor(r() * 256) : (i >> 15) % 3 === 1 ? text[i % text.length] : 0;
  return out;
}

const scenarios: Record<string, () => string> = {
  'fresh v3, 64 KiB clusters': () => create('w-v3.qcow2', '4M'),
  'fresh v2 (compat=0.10)': () => create('w-v2.qcow2', '2M', ['-o', 'compat=0.10']),
  '512-byte clusters, existing data': () => {
    const f = create('w-512.qcow2', '1M', ['-o', 'cluster_size=512']);
    qemuIo(f, ['write -P 0x10 0 100k']);
    return f;
  },
  '2 MiB clusters, size not a cluster multiple': () => create('w-2m.qcow2', '5243392', ['-o', 'cluster_size=2M']),
  '4 KiB clusters, 1-bit refcounts': () => create('w-rc1.qcow2', '2M', ['-o', 'cluster_size=4096,refcount_bits=1']),
  '64-bit refcounts': () => create('w-rc64.qcow2', '2M', ['-o', 'refcount_bits=64']),
  '8-bit refcounts, 4 KiB clusters, data everywhere': () => {
    const f = create('w-rc8.qcow2', '1M', ['-o', 'cluster_size=4096,refcount_bits=8']);
    qemuIo(f, ['write -P 0x20 0 1M']);
    return f;
  },
  'compressed clusters (convert -c)': () => {
    writeFileSync(at('w-mixed.raw'), mixed(3 * 1024 * 1024, 1));
    qemu('qemu-img', ['convert', '-c', '-O', 'qcow2', '-o', 'cluster_size=4096', at('w-mixed.raw'), at('w-comp.qcow2')]);
    return at('w-comp.qcow2');
  },
  'zero clusters, plain and preallocated': () => {
    const f = create('w-zero.qcow2', '2M');
    qemuIo(f, ['write -P 0x30 0 1M', 'write -z 64k 256k', 'write -z -u 512k 128k', 'write -z 1536k 64k']);
    return f;
  },
  'preallocation=metadata': () => create('w-prealloc.qcow2', '2M', ['-o', 'preallocation=metadata']),
  'overlay of a smaller raw backing file': () => {
    writeFileSync(at('w-base.raw'), mixed(1536 * 1024, 2));
    const f = create('w-over.qcow2', '2M', ['-b', 'w-base.raw', '-F', 'raw', '-o', 'cluster_size=16384']);
    qemuIo(f, ['write -z 32k 16k']);
    return f;
  },
  'qcow2 over qcow2 over raw': () => {
    writeFileSync(at('w-base2.raw'), mixed(2 * 1024 * 1024, 3));
    const mid = create('w-mid.qcow2', '2M', ['-b', 'w-base2.raw', '-F', 'raw']);
    qemuIo(mid, ['write -P 0x40 100k 300k']);
    return create('w-top.qcow2', '2M', ['-b', 'w-mid.qcow2', '-F', 'qcow2', '-o', 'compat=0.10,cluster_size=4096']);
  },
};

describe('qcow2 writes pass qemu-img check and read back through qemu-img', () => {
  for (const [label, make] of Object.entries(scenarios)) {
    it(label, async () => {
      const file = make();
      const model = qemuRaw(file, tmp.dir);
      const disk = (await openImage(nodeImageFileSystem, file)) as Qcow2Image;
      expect(disk.readOnly).toBe(false);
      const plan = writePlan(disk.capacity, disk.header.clusterSize, label.length * 7919, 48);
      await apply(disk, model, plan);
      await expectReadsAs(disk, model);
      await disk.flush();
      await disk.close();
      expectCleanAs(file, model);
      // Rewriting what we allocated goes in place: the file does not grow.
      const size = readFileSync(file).length;
      const again = await openImage(nodeImageFileSystem, file);
      await apply(again, model, plan.map((w) => ({ offset: w.offset, data: w.data.map((b) => b ^ 0x5a) })));
      await again.close();
      expectCleanAs(file, model);
      expect(readFileSync(file).length).toBe(size);
    });
  }

  it('writes after an internal snapshot leave the snapshot as it was', async () => {
    const f = create('w-snap.qcow2', '1M');
    qemuIo(f, ['write -P 0x50 0 512k', 'write -z 512k 64k']);
    qemu('qemu-img', ['snapshot', '-c', 'before', f]);
    const before = qemuRaw(f, tmp.dir);
    const model = before.slice();
    const disk = await openImage(nodeImageFileSystem, f);
    await apply(disk, model, writePlan(disk.capacity, 65536, 42, 30));
    await disk.close();
    expectCleanAs(f, model);
    qemu('qemu-img', ['convert', '-O', 'raw', '-l', 'snapshot.name=before', f, at('snap-before.raw')]);
    expect(firstDifference(new Uint8Array(readFileSync(at('snap-before.raw'))), before)).toBeUndefined();
    qemu('qemu-img', ['snapshot', '-d', 'before', f]);
    expectClean(f);
  });

  it('random write and discard sequences (fast-check) keep images clean', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('cluster_size=512', 'cluster_size=4096,compat=0.10', 'cluster_size=65536,refcount_bits=2'),
        fc.array(
          fc.record({ discard: fc.boolean(), at: fc.double({ min: 0, max: 1, noNaN: true }), len: fc.integer({ min: 1, max: 200_000 }), fill: fc.nat(255) }),
          { minLength: 1, maxLength: 25 },
        ),
        async (opts, ops) => {
          writeFileSync(at('p-base.raw'), mixed(600 * 1024, 9));
          const f = create(`p${run++}.qcow2`, '1M', ['-o', opts, '-b', 'p-base.raw', '-F', 'raw']);
          const model = qemuRaw(f, tmp.dir);
          const disk = (await openImage(nodeImageFileSystem, f)) as Qcow2Image;
          const cs = disk.header.clusterSize;
          for (const op of ops) {
            const offset = Math.min(Math.floor(op.at * disk.capacity), disk.capacity - 1);
            const len = Math.min(op.discard ? op.len : op.len % 20_000, disk.capacity - offset);
            if (op.discard) {
              await disk.discard(offset, len);
              const first = Math.ceil(offset / cs) * cs;
              const last = offset + len === disk.capacity ? disk.capacity : Math.floor((offset + len) / cs) * cs;
              if (disk.header.version === 3 && last > first) model.fill(0, first, last);
            } else {
              const data = new Uint8Array(len).fill(op.fill);
              await disk.write(offset, data);
              model.set(data, offset);
            }
          }
          await disk.close();
          expectCleanAs(f, model);
        },
      ),
      { numRuns: Number(process.env.QCOW2_WRITE_RUNS ?? 12) },
    );
  });
});


describe('qcow2 write ordering', () => {
  it('a process killed between any two file writes leaves an image with leaks at most, and the completed writes', async () => {
    const f = create('kill.qcow2', '1M', ['-o', 'cluster_size=4096']);
    qemuIo(f, ['write -P 0x60 0 64k']);
    qemu('qemu-img', ['snapshot', '-c', 's', f]);
    const initial = new Uint8Array(readFileSync(f));
    const plan = writePlan(1024 * 1024, 4096, 5, 12);
    const start = qemuRaw(f, tmp.dir);
    for (let budget = 0; ; budget++) {
      const mem = new MemoryImageFile(initial, { name: 'kill.qcow2' });
      const file = new DyingFile(mem, budget);
      const disk = await Qcow2Image.open(file, { readOnly: false });
      const model = start.slice();
      let died: Write | undefined;
      for (const w of plan) {
        try {
          await disk.write(w.offset, w.data);
          model.set(w.data, w.offset); // acknowledged: must survive
        } catch (e) {
          expect(e).toBeInstanceOf(TypervisorError);
          died = w;
          break;
        }
      }
      const out = at(`kill-${budget}.qcow2`);
      writeFileSync(out, mem.contents());
      expectSurvivedKill(out, budget, died, model, tmp.dir);
      if (died === undefined) {
        expect(budget).toBeGreaterThan(30); // every step of the plan's writes was cut somewhere
        break;
      }
    }
  });
});

describe('qcow2 refcount table growth', () => {
  it('a full refcount table moves to a bigger one; the image stays clean', async () => {
    // 512-byte clusters, 16-bit refcounts: qemu-img's one-cluster refcount table covers 8 MiB of file.
    const f = create('grow.qcow2', '16M', ['-o', 'cluster_size=512']);
    const model = new Uint8Array(16 * 1024 * 1024);
    const disk = (await openImage(nodeImageFileSystem, f)) as Qcow2Image;
    expect(disk.header.refcountTableClusters).toBe(1);
    const data = Uint8Array.from({ length: 12 * 1024 * 1024 }, (_, i) => (i * 13) >> 9);
    await disk.write(1024, data);
    model.set(data, 1024);
    expect(disk.header.refcountTableClusters).toBeGreaterThan(1);
    await expectReadsAs(disk, model);
    await disk.close();
    expectCleanAs(f, model);
  });

  it('a process killed at any write while the table grows leaves leaks at most', async () => {
    // 512-byte clusters with 64-bit refcounts: 64 clusters per block, the table covers 2 MiB.
    const f = create('grow-kill.qcow2', '4M', ['-o', 'cluster_size=512,refcount_bits=64']);
    const initial = new Uint8Array(readFileSync(f));
    const plan = Array.from({ length: 48 }, (_, k) => ({ offset: k * 65536, data: new Uint8Array(65536).fill(k + 1) }));
    // A first pass finds which file write switches the header to the new table.
    const probe = new DyingFile(new MemoryImageFile(initial), Number.MAX_SAFE_INTEGER);
    const switches: number[] = [];
    const pwrite = probe.pwrite.bind(probe);
    probe.pwrite = async (src, offset) => {
      if (offset === 48 && src.length === 12) switches.push(probe.writes);
      return pwrite(src, offset);
    };
    const whole = await Qcow2Image.open(probe, { readOnly: false });
    for (const w of plan) await whole.write(w.offset, w.data);
    expect(switches.length).toBeGreaterThan(0);
    const total = probe.writes;
    const budgets = new Set<number>();
    for (const sw of switches) for (let b = sw - 30; b <= sw + 12; b++) budgets.add(b);
    for (let b = 0; b < total; b += Math.ceil(total / 12)) budgets.add(b);
    for (const budget of [...budgets].filter((b) => b >= 0 && b <= total).sort((a, b) => a - b)) {
      const mem = new MemoryImageFile(initial, { name: 'grow-kill.qcow2' });
      const disk = await Qcow2Image.open(new DyingFile(mem, budget), { readOnly: false });
      const model = new Uint8Array(4 * 1024 * 1024);
      let died: Write | undefined;
      for (const w of plan) {
        try {
          await disk.write(w.offset, w.data);
          model.set(w.data, w.offset);
        } catch (e) {
          expect(e).toBeInstanceOf(TypervisorError);
          died = w;
          break;
        }
      }
      const out = at(`grow-kill-${budget}.qcow2`);
      writeFileSync(out, mem.contents());
      expectSurvivedKill(out, budget, died, model, tmp.dir);
    }
  });
});

blockBackendConformance('qcow2 writable over a raw backing file', async () => {
  const base = mixed(1024 * 1024, 11);
  writeFileSync(at('c-base.raw'), base);
  const f = path.join(tmp.dir, `c-${Math.random().toString(36).slice(2)}.qcow2`);
  qemu('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', 'c-base.raw', '-F', 'raw', f, '1M']);
  return { backend: await openImage(nodeImageFileSystem, f), expected: base };
});

describe('qcow2 discard', () => {
  const cases: Array<[string, string[], boolean]> = [
    ['v3 without a backing file', [], true],
    ['v3 over a raw backing file (zero flag keeps the backing file hidden)', ['-b', 'd-base.raw', '-F', 'raw'], true],
    ['v2 without a backing file', ['-o', 'compat=0.10,cluster_size=4096'], true],
    ['v2 over a raw backing file (a no-op)', ['-o', 'compat=0.10,cluster_size=4096', '-b', 'd-base.raw', '-F', 'raw'], false],
  ];
  for (const [label, opts, zeroes] of cases) {
    it(`${label}: whole clusters read as zeros, freed clusters are reused, qemu-img check stays clean`, async () => {
      writeFileSync(at('d-base.raw'), mixed(2 * 1024 * 1024, 12));
      const f = create(`d-${label.length}.qcow2`, '2M', [...opts, ...(opts.includes('-o') ? [] : ['-o', 'cluster_size=4096'])]);
      const disk = (await openImage(nodeImageFileSystem, f)) as Qcow2Image;
      const cs = disk.header.clusterSize;
      const model = qemuRaw(f, tmp.dir);
      await apply(disk, model, writePlan(disk.capacity, cs, 77, 30));
      await apply(disk, model, [{ offset: cs * 100, data: new Uint8Array(cs * 16).fill(9) }]);
      // Discard unaligned ranges: only the whole clusters inside change.
      const ranges: Array<[number, number]> = [[1000, 300_000], [cs * 100, cs * 16], [cs * 40 + 1, cs * 3], [disk.capacity - 5000, 5000], [0, 100]];
      for (const [off, len] of ranges) {
        await disk.discard!(off, len);
        if (!zeroes) continue;
        const first = Math.ceil(off / cs) * cs;
        const last = off + len === disk.capacity ? off + len : Math.floor((off + len) / cs) * cs;
        if (last > first) model.fill(0, first, last);
      }
      await expectReadsAs(disk, model);
      await disk.close();
      expectCleanAs(f, model);
      // Freed clusters are allocated again before the file grows.
      const size = readFileSync(f).length;
      const again = await openImage(nodeImageFileSystem, f);
      await apply(again, model, [{ offset: 2 * cs, data: new Uint8Array(cs * 8).fill(3) }]);
      await again.close();
      if (zeroes) expect(readFileSync(f).length).toBe(size);
      expectCleanAs(f, model);
    });
  }

  it('is refused on read-only images and outside the disk', async () => {
    const f = create('d-ro.qcow2', '1M');
    const ro = await openImage(nodeImageFileSystem, f, { readOnly: true });
    await expect(ro.discard!(0, 65536)).rejects.toThrow(/discard refused: the disk is read-only/);
    await ro.close();
    const rw = await openImage(nodeImageFileSystem, f);
    await expect(rw.discard!(65536, 1024 * 1024)).rejects.toThrow(/ends past the end of the disk/);
    await rw.close();
  });
});
