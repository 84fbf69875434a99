import { describe, expect, it } from 'vitest';
import { thrown } from '../../tests/helpers/thrown.js';
import { devicesFromFlags } from './device-flags.js';

const MiB = 2 ** 20;

describe('devicesFromFlags', () => {
  it('keeps --device order and adds the console and balloon devices at the end', () => {
    expect(devicesFromFlags({ device: ['virtio-rng'], console: 'hvc0', balloon: '64M' }, 512 * MiB)).toEqual({
      devices: [{ type: 'virtio-rng' }, { type: 'virtio-balloon', targetBytes: 64 * MiB }, { type: 'virtio-console' }],
      console: 'hvc0',
    });
    expect(devicesFromFlags({ console: 'ttyS0' }, 512 * MiB)).toEqual({ devices: [], console: undefined });
  });

  it('puts --balloon on a --device virtio-balloon, and adds no second console for --device virtio-console', () => {
    expect(devicesFromFlags({ device: ['virtio-balloon', 'virtio-console'], console: 'hvc0', balloon: '1G' }, 2048 * MiB).devices).toEqual([
      { type: 'virtio-balloon', targetBytes: 1024 * MiB },
      { type: 'virtio-console' },
    ]);
    expect(devicesFromFlags({ device: ['virtio-balloon'] }, 512 * MiB).devices).toEqual([{ type: 'virtio-balloon' }]);
  });

  it('refuses a balloon as large as RAM, a bad size and an unknown console', () => {
    const big = thrown(() => devicesFromFlags({ balloon: '512M' }, 512 * MiB));
    expect([big.message, big.hint]).toEqual(["--balloon 512M is not less than the guest's RAM (512 MiB)", 'give --balloon a size below --mem']);
    expect(thrown(() => devicesFromFlags({ balloon: 'lots' }, 512 * MiB)).message).toBe("cannot read memory size 'lots'");
    expect(thrown(() => devicesFromFlags({ console: 'ttyAMA0' }, 512 * MiB)).hint).toBe('use --console ttyS0 or --console hvc0');
  });
});
