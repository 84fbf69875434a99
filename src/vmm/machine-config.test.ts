import { describe, expect, it } from 'vitest';
import { TypervisorError } from '../core/errors.js';
import { thrown } from '../../tests/helpers/thrown.js';
import { DEVICE_TYPES, disksOf, formatBytes, parseMemorySize, validateDevices, validateMachineConfig, virtioSlots, withConsoleDevice } from './machine-config.js';

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

describe('devices', () => {
  it('accepts virtio-rng devices and places them from slot 7 down, as QEMU does', () => {
    const devices = [{ type: 'virtio-rng' }, { type: 'virtio-rng' }];
    const config = validateMachineConfig({ memBytes: 2 ** 27, bios: 'none', kernel, devices });
    expect(config.devices).toEqual(devices);
    expect(virtioSlots(config)).toEqual([7, 6]);
    expect(virtioSlots({})).toEqual([]);
    expect(validateMachineConfig({ memBytes: 2 ** 27, bios: 'none', kernel })).not.toHaveProperty('devices');
  });

  it('names the known devices when given an unknown one', () => {
    const e = thrown(() => validateDevices([{ type: 'virtio-gpu' }]));
    expect(e.message).toBe("unknown device 'virtio-gpu'");
    expect(e.hint).toBe(`known devices: ${DEVICE_TYPES.join(', ')}`);
    expect(DEVICE_TYPES).toEqual(expect.arrayContaining(['virtio-rng', 'virtio-console', 'virtio-balloon']));
    expect(thrown(() => validateDevices([null])).message).toBe('unknown device null');
    expect(thrown(() => validateDevices([{ type: 'virtio-rng', size: 3 }])).message).toBe("device 'virtio-rng' has unknown option size");
    expect(thrown(() => validateDevices('virtio-rng')).message).toMatch(/must be an array/);
  });

  it('takes disks as virtio-blk devices over opened backends, after the other devices', () => {
    const backend = { capacity: 4096, readOnly: false, read: async () => {}, write: async () => {}, flush: async () => {}, close: async () => {} };
    const devices = [{ type: 'virtio-rng' }, { type: 'virtio-blk', backend, readOnly: true, serial: 's1', name: 'a.qcow2' }];
    const config = validateMachineConfig({ memBytes: 2 ** 27, bios: 'none', kernel, devices });
    expect(virtioSlots(config)).toEqual([7, 6]);
    expect(disksOf(config)).toEqual([devices[1]]);
    const e = thrown(() => validateDevices([{ type: 'virtio-blk', name: 'x.img' }]));
    expect([e.message, e.hint]).toEqual(['x.img: a virtio-blk device needs an opened block backend', 'attach disks with --disk PATH']);
    expect(thrown(() => validateDevices([{ type: 'virtio-blk', backend, cache: 'none' }])).message).toBe('disk: unknown disk option cache');
    expect(thrown(() => validateDevices([{ type: 'virtio-blk', backend, serial: 'x'.repeat(21) }])).message).toMatch(/at most 20 bytes/);
    expect(thrown(() => validateDevices([{ type: 'virtio-blk', backend, readOnly: 'yes' }])).message).toMatch(/readOnly must be true or false/);
  });

  it('takes a balloon with a target below the RAM size', () => {
    const config = validateMachineConfig({ memBytes: 2 ** 27, bios: 'none', kernel, devices: [{ type: 'virtio-balloon', targetBytes: 2 ** 25, deflateOnOom: true }] });
    expect(config.devices).toEqual([{ type: 'virtio-balloon', targetBytes: 2 ** 25, deflateOnOom: true }]);
    const big = thrown(() => validateMachineConfig({ memBytes: 2 ** 27, bios: 'none', kernel, devices: [{ type: 'virtio-balloon', targetBytes: 2 ** 28 }] }));
    expect([big.message, big.hint]).toEqual(["the balloon target 256 MiB is more than the guest's RAM (128 MiB)", 'give --balloon a size below --mem']);
    expect(thrown(() => validateDevices([{ type: 'virtio-balloon', targetBytes: -1 }])).message).toMatch(/not a byte count/);
    expect(thrown(() => validateDevices([{ type: 'virtio-balloon', size: 1 }])).message).toBe('virtio-balloon: unknown option size');
    expect(thrown(() => validateDevices([{ type: 'virtio-balloon', deflateOnOom: 1 }])).message).toMatch(/true or false/);
  });

  it('connects the console to hvc0 only with a virtio-console device', () => {
    const devices = withConsoleDevice([{ type: 'virtio-rng' }], 'hvc0');
    expect(devices).toEqual([{ type: 'virtio-rng' }, { type: 'virtio-console' }]);
    expect(withConsoleDevice(devices, 'hvc0')).toEqual(devices); // not twice
    expect(withConsoleDevice([], 'ttyS0')).toEqual([]);
    expect(validateMachineConfig({ memBytes: 2 ** 27, bios: 'none', kernel, devices, console: 'hvc0' }).console).toBe('hvc0');
    expect(validateMachineConfig({ memBytes: 2 ** 27, bios: 'none', kernel })).not.toHaveProperty('console');
    const missing = thrown(() => validateMachineConfig({ memBytes: 2 ** 27, bios: 'none', kernel, console: 'hvc0' }));
    expect(missing.message).toBe('console hvc0 needs a virtio-console device');
    expect(thrown(() => validateMachineConfig({ memBytes: 2 ** 27, bios: 'none', kernel, console: 'ttyAMA0' })).message).toBe("unknown console 'ttyAMA0'");
  });

  it('allows at most one device per virtio-mmio slot', () => {
    expect(validateDevices(Array(8).fill({ type: 'virtio-rng' }))).toHaveLength(8);
    const e = thrown(() => validateDevices(Array(9).fill({ type: 'virtio-rng' })));
    expect(e.message).toBe('9 devices given; the virt board has 8 virtio-mmio slots');
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
