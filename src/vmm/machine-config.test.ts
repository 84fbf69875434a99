import { describe, expect, it } from 'vitest';
import { TypervisorError } from '../core/errors.js';
import { formatBytes, parseMemorySize, validateMachineConfig } from './machine-config.js';

const kernel = { name: 'k.elf', bytes: new Uint8Array(1) };

describe('parseMemorySize', () => {
  it.each([
    ['128M', 128 * 2 ** 20],
    ['128m', 128 * 2 ** 20],
    ['128MiB', 128 * 2 ** 20],
    ['128MB', 128 * 2 ** 20],
    ['128', 128 * 2 ** 20], // a bare number is MiB, as in QEMU
    ['1G', 2 ** 30],
    ['1.5G', 1.5 * 2 ** 30],
    ['3584M', 3584 * 2 ** 20],
    ['65536K', 64 * 2 ** 20],
    ['16777216B', 16 * 2 ** 20],
    [' 2g ', 2 * 2 ** 30],
  ])('%s', (text, bytes) => expect(parseMemorySize(text)).toBe(bytes));

  it.each(['', 'M', '-1M', '12Q', '1e3M', 'lots', '0x100M'])('rejects %j', (text) => {
    expect(() => parseMemorySize(text)).toThrow(TypervisorError);
  });
});

describe('validateMachineConfig', () => {
  it('accepts a bare-metal config', () => {
    expect(validateMachineConfig({ memBytes: 2 ** 27, bios: 'none', kernel })).toEqual({ memBytes: 2 ** 27, bios: 'none', kernel });
  });

  it('explains the RAM limits', () => {
    const check = (memBytes: number) => () => validateMachineConfig({ memBytes, bios: 'none', kernel });
    expect(check(8 * 2 ** 20)).toThrow(/8 MiB is below the minimum of 16 MiB/);
    expect(check(4 * 2 ** 30)).toThrow(/4 GiB is above the maximum of 3\.5 GiB: .*wasm32 caps a memory at 4 GiB/);
    expect(check(Number.POSITIVE_INFINITY)).toThrow(/above the maximum/);
    expect(check(Number.NaN)).toThrow(/below the minimum/);
    expect(check(16 * 2 ** 20 + 1)).toThrow(/4 KiB pages/);
    expect(check(3584 * 2 ** 20)).not.toThrow();
    expect(check(16 * 2 ** 20)).not.toThrow();
  });

  it('knows the firmware words and defaults to the built-in SBI', () => {
    expect(validateMachineConfig({ memBytes: 2 ** 27, kernel }).bios).toBe('builtin');
    expect(validateMachineConfig({ memBytes: 2 ** 27, bios: 'default', kernel }).bios).toBe('builtin');
    expect(validateMachineConfig({ memBytes: 2 ** 27, bios: 'none', kernel }).bios).toBe('none');
    expect(() => validateMachineConfig({ memBytes: 2 ** 27, bios: 'opensbi', kernel })).toThrow(/unknown firmware 'opensbi'/);
  });

  it('checks the kernel command line', () => {
    expect(validateMachineConfig({ memBytes: 2 ** 27, kernel, append: 'console=ttyS0' }).append).toBe('console=ttyS0');
    expect(() => validateMachineConfig({ memBytes: 2 ** 27, kernel, append: 'a\0b' })).toThrow(/without NUL/);
    expect(() => validateMachineConfig({ memBytes: 2 ** 27, kernel, append: 'x'.repeat(1025) })).toThrow(/longer than 1024 bytes/);
  });
});

describe('formatBytes', () => {
  it('uses binary units', () => {
    expect([formatBytes(512), formatBytes(2048), formatBytes(3 * 2 ** 20), formatBytes(3.5 * 2 ** 30)]).toEqual([
      '512 bytes',
      '2 KiB',
      '3 MiB',
      '3.5 GiB',
    ]);
  });
});
