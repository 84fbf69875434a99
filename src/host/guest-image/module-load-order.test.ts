import { describe, expect, it } from 'vitest';
import type { KernelModuleInfo } from './kernel-module-info.js';
import { moduleLoadOrder } from './module-load-order.js';

const mod = (name: string, depends: string[] = [], softPre: string[] = [], aliases: string[] = []): [string, KernelModuleInfo] => [name, { name, depends, softPre, aliases }];

describe('moduleLoadOrder', () => {
  // The dependencies of Debian 6.12's modules, as their .modinfo states them.
  const debian = new Map([
    mod('virtio_mmio'), mod('failover'), mod('net_failover', ['failover']), mod('virtio_net', ['net_failover']),
    mod('netfs'), mod('9pnet', ['netfs']), mod('9pnet_virtio', ['9pnet']), mod('9p', ['9pnet', 'netfs']),
    mod('crc16'), mod('libcrc32c', [], ['crc32c']), mod('crc32c_generic', [], [], ['crc32c', 'crypto-crc32c', 'crc32c-generic']),
    mod('mbcache'), mod('jbd2', [], ['crypto-crc32c']), mod('ext4', ['jbd2', 'mbcache', 'crc16'], ['crypto-crc32c']),
  ]);

  it('keeps the wanted order where dependencies allow and puts soft pre-dependencies first', () => {
    const plan = moduleLoadOrder(['virtio_mmio', 'virtio_blk', 'virtio_net', 'failover', '9p', 'crc16', 'libcrc32c', 'crc32c_generic', 'ext4'], debian);
    expect(plan.order).toEqual(['virtio_mmio', 'failover', 'net_failover', 'virtio_net', 'netfs', '9pnet', '9p', 'crc16', 'crc32c_generic', 'libcrc32c', 'jbd2', 'mbcache', 'ext4']);
    expect(plan.missing).toEqual(['virtio_blk']);
  });

  it('every module comes after what it needs', () => {
    const plan = moduleLoadOrder([...debian.keys()].reverse(), debian);
    for (const [i, name] of plan.order.entries()) {
      const info = debian.get(name)!;
      for (const dep of info.depends) expect(plan.order.indexOf(dep), `${dep} before ${name}`).toBeLessThan(i);
    }
    expect(plan.order.indexOf('crc32c_generic')).toBeLessThan(plan.order.indexOf('jbd2'));
    expect(new Set(plan.order).size).toBe(plan.order.length);
  });

  it('leaves out a module whose hard dependency is absent, and ignores absent soft ones', () => {
    const m = new Map([mod('a', ['gone']), mod('b', [], ['also-gone']), mod('c', ['a'])]);
    expect(moduleLoadOrder(['a', 'b', 'c', 'virtio-rng'], m)).toEqual({ order: ['b'], missing: ['a', 'c', 'virtio_rng'] });
  });

  it('matches names with - and _ alike and survives a cycle', () => {
    const m = new Map([mod('virtio_rng'), mod('x', ['y']), mod('y', ['x'])]);
    expect(moduleLoadOrder(['virtio-rng', 'x'], m).order).toEqual(['virtio_rng', 'y', 'x']);
  });
});
