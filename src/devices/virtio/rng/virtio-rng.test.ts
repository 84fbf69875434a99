import { describe, expect, it } from 'vitest';
import { RamGuestMemory } from '../../../core/guest-memory.js';
import { DriverRings } from '../queue/driver-rings.js';
import { SplitVirtqueue } from '../queue/split-virtqueue.js';
import { cryptoEntropy, RNG_MAX_BYTES_PER_REQUEST, VirtioRng } from './virtio-rng.js';

const BASE = 0x8000_0000;
const WRITE = 2;
const NEXT = 1;

function session(entropy?: (dst: Uint8Array) => void) {
  const mem = new RamGuestMemory(new Uint8Array(1 << 20), BASE);
  const q = new SplitVirtqueue(mem, { size: 8, desc: BASE, driver: BASE + 0x1000, device: BASE + 0x2000, indirect: true, eventIdx: false });
  const d = new DriverRings(mem, 8, BASE, BASE + 0x1000, BASE + 0x2000);
  const events: string[] = [];
  const rng = new VirtioRng(entropy);
  rng.activate({
    mem,
    queues: [q],
    features: 0n,
    interrupt: { usedBuffer: () => events.push('used'), configChanged: () => events.push('config'), needsReset: (r) => events.push(`reset: ${r}`) },
  });
  return { mem, d, rng, events };
}

describe('virtio-rng (virtio 1.2 §5.4)', () => {
  it('is device 4 with one queue, no features and no configuration space', () => {
    const rng = new VirtioRng();
    expect([rng.type, rng.features, rng.queueSizes.length, rng.configSize]).toEqual([4, 0n, 1, 0]);
  });

  it('fills every writable buffer of every available chain, then interrupts once', () => {
    const { mem, d, rng, events } = session((dst) => dst.fill(0x5a));
    d.setDesc(0, { addr: BASE + 0x4000, len: 3, flags: WRITE | NEXT, next: 1 });
    d.setDesc(1, { addr: BASE + 0x5000, len: 5, flags: WRITE });
    d.setDesc(2, { addr: BASE + 0x6000, len: 2, flags: WRITE });
    d.offer(0);
    d.offer(2);
    rng.notify(0);
    expect(d.takeUsed()).toEqual([{ id: 0, len: 8 }, { id: 2, len: 2 }]);
    expect([...mem.bytes.subarray(0x4000, 0x4004)]).toEqual([0x5a, 0x5a, 0x5a, 0]);
    expect([...mem.bytes.subarray(0x5000, 0x5006)]).toEqual([0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0]);
    expect(events).toEqual(['used']);
    rng.notify(0); // nothing new: no interrupt
    expect(events).toEqual(['used']);
  });

  it(`gives at most ${RNG_MAX_BYTES_PER_REQUEST} bytes per request (§5.4.6.2 allows less than the buffer)`, () => {
    const { d, rng } = session();
    d.setDesc(0, { addr: BASE + 0x10000, len: 0x80000, flags: WRITE });
    d.offer(0);
    rng.notify(0);
    expect(d.takeUsed()).toEqual([{ id: 0, len: RNG_MAX_BYTES_PER_REQUEST }]);
  });

  it('asks for DEVICE_NEEDS_RESET on a device-readable buffer (§5.4.6.1)', () => {
    const { d, rng, events } = session();
    d.setDesc(0, { addr: BASE + 0x4000, len: 4 });
    d.offer(0);
    rng.notify(0);
    expect(events).toEqual([expect.stringMatching(/^reset: .*device-readable/)]);
    expect(d.takeUsed()).toEqual([]);
  });

  it('does nothing before activation or after reset', () => {
    const { d, rng, events } = session();
    rng.reset();
    d.setDesc(0, { addr: BASE + 0x4000, len: 4, flags: WRITE });
    d.offer(0);
    rng.notify(0);
    expect([d.takeUsed(), events]).toEqual([[], []]);
    new VirtioRng().notify(0);
  });

  it('draws from the Web Crypto RNG in chunks getRandomValues accepts (at most 65536 bytes)', () => {
    const big = new Uint8Array(200_000);
    cryptoEntropy(big);
    // Each 64 KiB chunk was filled: no chunk is all zeros.
    for (let at = 0; at < big.length; at += 65536) expect(big.subarray(at, at + 65536).some((b) => b !== 0)).toBe(true);
  });
});
