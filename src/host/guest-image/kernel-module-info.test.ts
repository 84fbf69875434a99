import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TypervisorError } from '../../core/errors.js';
import { fakeModule } from '../../../tests/guest/fake-module.js';
import { normalizeModuleName, readKernelModuleInfo } from './kernel-module-info.js';

describe('readKernelModuleInfo', () => {
  it('reads name, depends, soft pre-dependencies and aliases', () => {
    const elf = fakeModule(['license=GPL', 'softdep=pre: crypto-crc32c post: foo', 'alias=fs-ext4', 'alias=ext3', 'depends=jbd2,mbcache,crc16', 'intree=Y', 'name=ext4', 'vermagic=6.12 SMP'], 13);
    expect(readKernelModuleInfo(elf)).toEqual({ name: 'ext4', depends: ['jbd2', 'mbcache', 'crc16'], softPre: ['crypto-crc32c'], aliases: ['fs-ext4', 'ext3'] });
  });

  it('an empty depends= means no dependencies', () => {
    expect(readKernelModuleInfo(fakeModule(['depends=', 'name=virtio_mmio'])).depends).toEqual([]);
  });

  it('rejects files that are not modules', () => {
    expect(() => readKernelModuleInfo(new TextEncoder().encode('#!/bin/sh\n'.repeat(10)))).toThrow(/not an ELF/);
    const noModinfo = fakeModule(['name=x']);
    const shoff = Number(new DataView(noModinfo.buffer).getBigUint64(0x28, true));
    new DataView(noModinfo.buffer).setUint32(shoff + 2 * 64, 20, true); // rename .modinfo to .text
    expect(() => readKernelModuleInfo(noModinfo)).toThrow(/no .modinfo/);
  });

  it('never throws anything but a TypervisorError on damaged input', () => {
    const good = fakeModule(['name=x', 'depends=a'], 7);
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), fc.nat(good.length), (edits, cut) => {
        const bad = good.slice(0, Math.max(cut, 1));
        for (const [at, value] of edits) if (at < bad.length) bad[at] = value;
        try {
          readKernelModuleInfo(bad);
        } catch (e) {
          expect(e).toBeInstanceOf(TypervisorError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('normalizes - to _ as the kernel does', () => {
    expect(normalizeModuleName('virtio-rng')).toBe('virtio_rng');
  });
});
