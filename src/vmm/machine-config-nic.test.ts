import { describe, expect, it } from 'vitest';
import { createNetPair } from '../network/net-pair.js';
import { nicsOf, validateDevices } from './machine-config.js';

describe('virtio-net in the machine config', () => {
  it('takes an opened backend and a unicast MAC, normalized', () => {
    const [backend] = createNetPair();
    const devices = validateDevices([{ type: 'virtio-rng' }, { type: 'virtio-net', backend, mac: '52:54:00:AB:00:01', name: 'n' }]);
    expect(nicsOf({ devices })).toEqual([{ type: 'virtio-net', backend, mac: '52:54:00:ab:00:01', name: 'n' }]);
  });
  it('refuses a NIC without a backend, with a bad MAC or unknown options', () => {
    const [backend] = createNetPair();
    expect(() => validateDevices([{ type: 'virtio-net', mac: '52:54:00:00:00:01' }])).toThrow(/needs an opened network backend/);
    expect(() => validateDevices([{ type: 'virtio-net', backend, mac: '01:00:00:00:00:01' }])).toThrow(/multicast/);
    expect(() => validateDevices([{ type: 'virtio-net', backend }])).toThrow(/needs a MAC/);
    expect(() => validateDevices([{ type: 'virtio-net', backend, mac: '52:54:00:00:00:01', rate: 5 }])).toThrow(/unknown NIC option rate/);
  });
});
