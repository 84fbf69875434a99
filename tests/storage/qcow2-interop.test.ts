// qcow2 images written by Debian's qemu-img/qemu-io must read back byte-identical to
// `qemu-img convert -O raw` of the same image.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nodeImageFileSystem } from '../../src/host/storage-file.js';
import { openImage } from '../../src/storage/open-image.js';
import { Qcow2Image } from '../../src/storage/qcow2/qcow2-image.js';
import { blockBackendConformance } from './conformance.js';
import { firstDifference, qemu, qemuIo, qemuRaw, tempDir } from './qemu-tools.js';

const tmp = tempDir('qcow2-');
afterAll(() => tmp.remove());
const at = (name: string) => path.join(tmp.dir, name);

/** Text-like (compressible), random (incompressible) and zero stretches. */
function mixedContent(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed >>> 0 || 1;
  const words = new TextEncoder().encode('the quick brown fox jumps over the lazy virtual disk ');
  for (let i = 0; i < size; i += 65536) {
    const kind = ((i / 65536) + seed) % 3;
    const end = Math.min(size, i + 65536 - ((i / 65536) % 5) * 4000);
    for (let j = i; j < end; j++) {
      if (kind === 0) out[j] = words[j % words.length];
      else if (kind === 1) {
        x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
        out[j] = x & 0xff;
      }
    }
  }
  return out;
}

function create(file: string, size: string, opts: string[] = []): string {
  qemu('qemu-img', ['create', '-q', '-f', 'qcow2', ...opts, at(file), size]);
  return at(file);
}

type Scenario = () => string;
/** Cluster kinds a scenario must exercise (Qcow2Image.lookups of the top image), so a test cannot pass by accident. */
const mustSee: Record<string, Array<keyof Qcow2Image['lookups']>> = {
  'v3 zero clusters (write -z, with and without unmap)': ['zero', 'data', 'unallocated'],
  'compressed clusters (convert -c), 64 KiB': ['compressed', 'data', 'unallocated'],
  'compressed clusters, v2, 4 KiB and 512-byte clusters': ['compressed'],
  'compressed clusters, 2 MiB': ['compressed', 'data'],
  'qcow2 over a smaller raw backing file, zero clusters hiding backing data': ['zero', 'data', 'unallocated'],
  'extended L2 entries (subclusters) over a raw backing file': ['subclusters', 'zero', 'unallocated'],
  'extended L2 entries, compressed': ['compressed', 'subclusters'],
  'v2 (compat=0.10) with writes and write -z': ['data', 'unallocated'],
};
const scenarios: Record<string, Scenario> = {
  'v3, 64 KiB clusters, patterns at aligned and unaligned offsets': () => {
    const f = create('v3.qcow2', '4M');
    qemuIo(f, ['write -P 0xab 0 64k', 'write -P 0xcd 100k 3k', 'write -P 0x11 1000001 1', 'write -P 0x22 4194303 1', 'write -P 0x33 2M 300k']);
    return f;
  },
  'v3, 512-byte clusters': () => {
    const f = create('c512.qcow2', '1M', ['-o', 'cluster_size=512']);
    qemuIo(f, ['write -P 0x01 0 1536', 'write -P 0x02 700 100', 'write -P 0x03 300k 70k', 'write -z 310k 5k']);
    return f;
  },
  'v3, 4 KiB clusters, size not a cluster multiple': () => {
    const f = create('c4k.qcow2', '1049088', ['-o', 'cluster_size=4096']);
    qemuIo(f, ['write -P 0x44 1045504 3584', 'write -P 0x45 8191 2']);
    return f;
  },
  'v3, 2 MiB clusters, 5 MiB disk': () => {
    const f = create('c2m.qcow2', '5M', ['-o', 'cluster_size=2M']);
    qemuIo(f, ['write -P 0x66 1M 2M', 'write -P 0x67 4M 1M']);
    return f;
  },
  'v3 with an internal snapshot and writes after it': () => {
    const f = create('snap.qcow2', '2M');
    qemuIo(f, ['write -P 0x70 0 256k']);
    qemu('qemu-img', ['snapshot', '-c', 'before', f]);
    qemuIo(f, ['write -P 0x71 64k 64k', 'write -P 0x72 1M 4k']);
    return f;
  },
  'v3, 1-bit refcounts': () => {
    const f = create('rc1.qcow2', '1M', ['-o', 'refcount_bits=1']);
    qemuIo(f, ['write -P 0x73 0 4k', 'write -P 0x74 500k 100k']);
    return f;
  },
  'v3, 64-bit refcounts': () => {
    const f = create('rc64.qcow2', '1M', ['-o', 'refcount_bits=64']);
    qemuIo(f, ['write -P 0x75 4k 4k']);
    return f;
  },
  'v3 zero clusters (write -z, with and without unmap)': () => {
    const f = create('zero.qcow2', '2M');
    qemuIo(f, ['write -P 0x99 0 1M', 'write -z 64k 128k', 'write -z -u 512k 128k', 'write -z 1536k 64k']);
    return f;
  },
  'v3, preallocation=metadata': () => {
    const f = create('prealloc.qcow2', '2M', ['-o', 'preallocation=metadata']);
    qemuIo(f, ['write -P 0x5a 100k 10k']);
    return f;
  },
  'v2 (compat=0.10) with writes and write -z': () => {
    const f = create('v2.qcow2', '2M', ['-o', 'compat=0.10']);
    qemuIo(f, ['write -P 0xee 0 512k', 'write -z 128k 64k', 'write -P 0xef 1500k 1k']);
    return f;
  },
  'compressed clusters (convert -c), 64 KiB': () => {
    writeFileSync(at('mixed.raw'), mixedContent(3 * 1024 * 1024 + 4096, 1));
    qemu('qemu-img', ['convert', '-c', '-O', 'qcow2', at('mixed.raw'), at('comp.qcow2')]);
    return at('comp.qcow2');
  },
  'compressed clusters, v2, 4 KiB and 512-byte clusters': () => {
    writeFileSync(at('mixed2.raw'), mixedContent(1024 * 1024, 2));
    qemu('qemu-img', ['convert', '-c', '-O', 'qcow2', '-o', 'compat=0.10,cluster_size=4096', at('mixed2.raw'), at('comp-v2.qcow2')]);
    qemu('qemu-img', ['convert', '-c', '-O', 'qcow2', '-o', 'cluster_size=512', at('comp-v2.qcow2'), at('comp-512.qcow2')]);
    return at('comp-512.qcow2');
  },
  'compressed clusters, 2 MiB': () => {
    writeFileSync(at('mixed3.raw'), mixedContent(6 * 1024 * 1024, 3));
    qemu('qemu-img', ['convert', '-c', '-O', 'qcow2', '-o', 'cluster_size=2M', at('mixed3.raw'), at('comp-2m.qcow2')]);
    qemuIo(at('comp-2m.qcow2'), ['write -P 0x12 3M 4k']); // a compressed cluster rewritten to a standard one
    return at('comp-2m.qcow2');
  },
  'qcow2 over a smaller raw backing file, zero clusters hiding backing data': () => {
    writeFileSync(at('base.raw'), mixedContent(2 * 1024 * 1024, 4));
    const f = create('over-raw.qcow2', '3M', ['-b', 'base.raw', '-F', 'raw']);
    qemuIo(f, ['write -P 0x01 60k 8k', 'write -z 512k 64k', 'write -P 0x02 2040k 16k', 'write -P 0x03 2500k 1k']);
    return f;
  },
  'qcow2 over qcow2 over raw, writes at every level': () => {
    writeFileSync(at('base2.raw'), mixedContent(4 * 1024 * 1024, 5));
    const mid = create('mid.qcow2', '4M', ['-b', 'base2.raw', '-F', 'raw']);
    qemuIo(mid, ['write -P 0x10 0 100k', 'write -z 1M 64k']);
    const top = create('top.qcow2', '4M', ['-b', 'mid.qcow2', '-F', 'qcow2', '-o', 'cluster_size=4096']);
    qemuIo(top, ['write -P 0x20 50k 100k', 'write -z 3M 8k']);
    return top;
  },
  'v2 qcow2 over a v2 qcow2 with write -z (zeros written, no zero flag)': () => {
    const base = create('base-v2.qcow2', '1M', ['-o', 'compat=0.10']);
    qemuIo(base, ['write -P 0x77 0 1M']);
    const top = create('top-v2.qcow2', '1M', ['-o', 'compat=0.10', '-b', 'base-v2.qcow2', '-F', 'qcow2']);
    qemuIo(top, ['write -z 64k 64k', 'write -P 0x78 300k 1k']);
    return top;
  },
  'extended L2 entries (subclusters) over a raw backing file': () => {
    writeFileSync(at('base3.raw'), mixedContent(2 * 1024 * 1024, 6));
    const f = create('extl2.qcow2', '2M', ['-o', 'extended_l2=on', '-b', 'base3.raw', '-F', 'raw']);
    qemuIo(f, ['write -P 0x31 1k 1k', 'write -P 0x32 10k 3k', 'write -z 70k 6k', 'write -z 128k 64k', 'write -P 0x33 1M 64k']);
    return f;
  },
  'extended L2 entries, compressed': () => {
    writeFileSync(at('mixed4.raw'), mixedContent(1024 * 1024, 7));
    qemu('qemu-img', ['convert', '-c', '-O', 'qcow2', '-o', 'extended_l2=on', at('mixed4.raw'), at('extl2c.qcow2')]);
    qemuIo(at('extl2c.qcow2'), ['write -P 0x44 200k 5k']);
    return at('extl2c.qcow2');
  },
};

describe('qcow2 images from qemu-img read byte-identical to qemu-img convert -O raw', () => {
  for (const [label, make] of Object.entries(scenarios)) {
    it(label, async () => {
      const file = make();
      const expected = qemuRaw(file, tmp.dir);
      const disk = await openImage(nodeImageFileSystem, file, { readOnly: true });
      try {
        expect(disk).toBeInstanceOf(Qcow2Image);
        expect(disk.capacity).toBe(expected.length);
        const whole = new Uint8Array(disk.capacity);
        await disk.read(0, whole);
        expect(firstDifference(whole, expected)).toBeUndefined();
        for (const kind of mustSee[label] ?? []) expect((disk as Qcow2Image).lookups[kind], kind).toBeGreaterThan(0);
        // Odd-sized pieces cross every cluster and subcluster boundary at other offsets.
        const piece = new Uint8Array(12_345);
        for (let off = 0; off < disk.capacity; off += piece.length) {
          const part = piece.subarray(0, Math.min(piece.length, disk.capacity - off));
          await disk.read(off, part);
          const diff = firstDifference(part, expected.subarray(off, off + part.length));
          if (diff !== undefined) expect(`at ${off}: ${diff}`).toBeUndefined();
        }
      } finally {
        await disk.close();
      }
    });
  }
});

/** Builds a scenario's image once, for the conformance suite's many fresh opens. */
function fixture(name: string): () => Promise<{ file: string; expected: Uint8Array }> {
  let made: { file: string; expected: Uint8Array } | undefined;
  return async () => {
    if (made === undefined) {
      const file = scenarios[name]();
      made = { file, expected: qemuRaw(file, tmp.dir) };
    }
    return made;
  };
}
const chain = fixture('qcow2 over qcow2 over raw, writes at every level');
const compressed = fixture('compressed clusters (convert -c), 64 KiB');
const extl2 = fixture('extended L2 entries (subclusters) over a raw backing file');
for (const [label, f] of [['qcow2 chain (qcow2 -> qcow2 -> raw)', chain], ['qcow2 compressed', compressed], ['qcow2 extended L2', extl2]] as const) {
  blockBackendConformance(label, async () => {
    const { file, expected } = await f();
    return { backend: await openImage(nodeImageFileSystem, file, { readOnly: true, l2CacheBytes: 0 }), expected };
  });
}
