import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RamGuestMemory } from '../../../core/guest-memory.js';
import { DriverRings } from '../queue/driver-rings.js';
import { VirtioRng } from '../rng/virtio-rng.js';
import type { VirtioActivation, VirtioDevice } from '../virtio-device.js';
import { Interrupt, Reg, Status, VirtioMmioTransport, type VirtioMmioState } from './virtio-mmio.js';

const BASE = 0x8000_0000;
const RAM = 64 * 1024;
const DESC = BASE + 0x1000;
const DRIVER = BASE + 0x2000;
const DEVICE = BASE + 0x3000;
const DATA = BASE + 0x8000;
const WRITE = 2;
const { ACKNOWLEDGE, DRIVER: DRV, FEATURES_OK, DRIVER_OK, DEVICE_NEEDS_RESET, FAILED } = Status;

/** A device that records what the transport does to it. */
class RecordingDevice implements VirtioDevice {
  readonly type = 42;
  readonly features = 1n << 3n;
  readonly queueSizes = [16, 8];
  readonly configSize = 8;
  readonly config = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8);
  log: string[] = [];
  activation: VirtioActivation | undefined;
  readConfig(offset: number, width: 1 | 2 | 4): number {
    let v = 0;
    for (let i = width - 1; i >= 0; i--) v = v * 256 + this.config[offset + i]!;
    return v;
  }
  writeConfig(offset: number, width: 1 | 2 | 4, value: number): void {
    this.log.push(`config ${offset}/${width}=${value}`);
  }
  activate(a: VirtioActivation): void {
    this.activation = a;
    this.log.push(`activate ${a.queues.map((q) => (q ? q.size : '-')).join(',')} features=${a.features.toString(16)}`);
  }
  notify(queue: number): void {
    this.log.push(`notify ${queue}`);
  }
  reset(): void {
    this.activation = undefined;
    this.log.push('reset');
  }
}

function setup<D extends VirtioDevice>(device: D) {
  const mem = new RamGuestMemory(new Uint8Array(RAM), BASE);
  const irq = { level: false, set(l: boolean) { this.level = l; } };
  const reasons: string[] = [];
  const t = new VirtioMmioTransport(device, mem, irq, 'virtio7', (r) => reasons.push(r));
  const r = (off: number, width: 1 | 2 | 4 | 8 = 4) => t.read(off, width) as number;
  const w = (off: number, v: number, width: 1 | 2 | 4 | 8 = 4) => t.write(off, width, v);
  const status = () => r(Reg.Status);
  /** The Linux driver's sequence (§3.1.1, §4.2.3): reset, ACK, DRIVER, features, FEATURES_OK. */
  const negotiate = (features: bigint) => {
    w(Reg.Status, 0);
    w(Reg.Status, ACKNOWLEDGE);
    w(Reg.Status, ACKNOWLEDGE | DRV);
    for (const sel of [0, 1]) {
      w(Reg.DriverFeaturesSel, sel);
      w(Reg.DriverFeatures, Number(BigInt.asUintN(32, features >> BigInt(32 * sel))));
    }
    w(Reg.Status, ACKNOWLEDGE | DRV | FEATURES_OK);
    return (status() & FEATURES_OK) !== 0;
  };
  const setupQueue = (sel: number, num: number, desc = DESC, driver = DRIVER, device = DEVICE) => {
    w(Reg.QueueSel, sel);
    w(Reg.QueueNum, num);
    w(Reg.QueueDescLow, desc % 2 ** 32);
    w(Reg.QueueDescHigh, Math.floor(desc / 2 ** 32));
    w(Reg.QueueDriverLow, driver);
    w(Reg.QueueDriverHigh, 0);
    w(Reg.QueueDeviceLow, device);
    w(Reg.QueueDeviceHigh, 0);
    w(Reg.QueueReady, 1);
  };
  const driverOk = () => w(Reg.Status, ACKNOWLEDGE | DRV | FEATURES_OK | DRIVER_OK);
  return { mem, irq, t, r, w, status, negotiate, setupQueue, driverOk, reasons, device };
}

const VERSION_1 = 1n << 32n;
const INDIRECT = 1n << 28n;
const EVENT_IDX = 1n << 29n;

describe('virtio-mmio transport: the register map (virtio 1.2 §4.2.2)', () => {
  it('identifies itself and offers the device features plus VERSION_1, INDIRECT_DESC, EVENT_IDX', () => {
    const { r, w } = setup(new RecordingDevice());
    expect(r(Reg.MagicValue)).toBe(0x74726976);
    expect(r(Reg.Version)).toBe(2);
    expect(r(Reg.DeviceID)).toBe(42);
    expect(r(Reg.VendorID)).toBe(0x554d4551);
    expect(r(Reg.DeviceFeatures)).toBe(Number((1n << 3n) | INDIRECT | EVENT_IDX));
    w(Reg.DeviceFeaturesSel, 1);
    expect(r(Reg.DeviceFeatures)).toBe(1); // bit 32: VIRTIO_F_VERSION_1
    w(Reg.DeviceFeaturesSel, 2);
    expect(r(Reg.DeviceFeatures)).toBe(0);
    expect(r(Reg.QueueNumMax)).toBe(16);
    w(Reg.QueueSel, 1);
    expect(r(Reg.QueueNumMax)).toBe(8);
    w(Reg.QueueSel, 2);
    expect(r(Reg.QueueNumMax)).toBe(0); // no such queue
    expect(r(Reg.QueueReady)).toBe(0);
    expect(r(Reg.InterruptStatus)).toBe(0);
    expect(r(Reg.Status)).toBe(0);
    expect(r(Reg.ConfigGeneration)).toBe(0);
  });

  it('takes only 32-bit accesses to registers, 8/16/32-bit ones to the configuration space (§4.2.2.2)', () => {
    const { t } = setup(new RecordingDevice());
    for (const width of [1, 2, 8] as const) expect(t.accepts(Reg.Status, width)).toBe(false);
    expect(t.accepts(Reg.Status, 4)).toBe(true);
    for (const width of [1, 2, 4] as const) expect(t.accepts(Reg.Config, width)).toBe(true);
    expect(t.accepts(Reg.Config, 8)).toBe(false);
  });

  it('passes configuration space accesses to the device, and reads 0 past its end', () => {
    const { r, w, device } = setup(new RecordingDevice());
    expect(r(Reg.Config + 1, 1)).toBe(2);
    expect(r(Reg.Config + 2, 2)).toBe(0x0403);
    expect(r(Reg.Config + 4, 4)).toBe(0x08070605);
    expect(r(Reg.Config + 8, 4)).toBe(0);
    w(Reg.Config + 2, 0x1234, 2);
    w(Reg.Config + 4, 0xfedc_ba98, 4);
    w(Reg.Config + 1, 0x1ff, 1);
    w(Reg.Config + 8, 1, 1); // past the end: ignored
    expect(device.log).toEqual(['config 2/2=4660', 'config 4/4=4275878552', 'config 1/1=255']);
  });
});

describe('virtio-mmio transport: the handshake (§3.1.1) and feature negotiation (§2.2)', () => {
  it('activates the device at DRIVER_OK with the queues the driver made ready, then forwards notifications', () => {
    const { negotiate, setupQueue, driverOk, device, w, status, r } = setup(new RecordingDevice());
    expect(negotiate(VERSION_1 | INDIRECT | (1n << 3n))).toBe(true);
    setupQueue(0, 16);
    expect(r(Reg.QueueReady)).toBe(1);
    w(Reg.QueueNotify, 0); // before DRIVER_OK: nothing reaches the device
    expect(device.activation).toBeUndefined();
    driverOk();
    expect(status()).toBe(ACKNOWLEDGE | DRV | FEATURES_OK | DRIVER_OK);
    expect(device.log).toEqual(['reset', 'activate 16,- features=110000008']);
    w(Reg.QueueNotify, 0);
    w(Reg.QueueNotify, 1); // not ready: ignored
    w(Reg.QueueNotify, 7); // no such queue: ignored
    expect(device.log.slice(2)).toEqual(['notify 0']);
  });

  it('refuses FEATURES_OK for features never offered, without VERSION_1, or out of order', () => {
    expect(setup(new RecordingDevice()).negotiate(VERSION_1 | (1n << 4n))).toBe(false); // device bit not offered
    expect(setup(new RecordingDevice()).negotiate(VERSION_1 | (1n << 40n))).toBe(false);
    expect(setup(new RecordingDevice()).negotiate(1n << 3n)).toBe(false); // no VERSION_1
    const s = setup(new RecordingDevice());
    s.w(Reg.DriverFeaturesSel, 2);
    s.w(Reg.DriverFeatures, 1); // bit 64: never offered
    s.w(Reg.Status, ACKNOWLEDGE);
    s.w(Reg.Status, ACKNOWLEDGE | DRV);
    s.w(Reg.DriverFeaturesSel, 1);
    s.w(Reg.DriverFeatures, 1);
    s.w(Reg.Status, ACKNOWLEDGE | DRV | FEATURES_OK);
    expect(s.status() & FEATURES_OK).toBe(0);
    const early = setup(new RecordingDevice());
    early.w(Reg.DriverFeaturesSel, 1);
    early.w(Reg.DriverFeatures, 1);
    early.w(Reg.Status, ACKNOWLEDGE | FEATURES_OK); // DRIVER missing
    expect(early.status()).toBe(ACKNOWLEDGE);
  });

  it('fixes the features once FEATURES_OK is set', () => {
    const { negotiate, setupQueue, driverOk, device, w } = setup(new RecordingDevice());
    expect(negotiate(VERSION_1)).toBe(true);
    w(Reg.DriverFeaturesSel, 0);
    w(Reg.DriverFeatures, 0xffff_ffff);
    setupQueue(0, 4);
    driverOk();
    expect(device.activation?.features).toBe(VERSION_1);
  });

  it('resets on a status write of 0 (§2.4): device reset, registers cleared, interrupt lowered', () => {
    const rng = setup(new VirtioRng(() => undefined));
    const d = new DriverRings(rng.mem, 8, DESC, DRIVER, DEVICE);
    rng.negotiate(VERSION_1);
    rng.setupQueue(0, 8);
    rng.driverOk();
    d.setDesc(0, { addr: DATA, len: 16, flags: WRITE });
    d.offer(0);
    rng.w(Reg.QueueNotify, 0);
    expect(rng.r(Reg.InterruptStatus)).toBe(Interrupt.USED_BUFFER);
    expect(rng.irq.level).toBe(true);
    rng.w(Reg.Status, 0);
    expect([rng.status(), rng.r(Reg.InterruptStatus), rng.r(Reg.QueueReady), rng.irq.level]).toEqual([0, 0, 0, false]);
    rng.w(Reg.QueueNotify, 0); // nothing happens: the device has no queues now
    expect(d.takeUsed()).toEqual([{ id: 0, len: 16 }]);
  });

  it('ignores queue register writes after DRIVER_OK', () => {
    const { negotiate, setupQueue, driverOk, w, r, device } = setup(new RecordingDevice());
    negotiate(VERSION_1);
    setupQueue(0, 8);
    driverOk();
    w(Reg.QueueSel, 0);
    w(Reg.QueueReady, 0);
    expect(r(Reg.QueueReady)).toBe(1);
    expect(device.activation?.queues[0]?.size).toBe(8);
  });
});

describe('virtio-mmio transport: interrupts and DEVICE_NEEDS_RESET (§2.1.2)', () => {
  function rngSession() {
    const s = setup(new VirtioRng((dst) => dst.fill(0xab)));
    const d = new DriverRings(s.mem, 8, DESC, DRIVER, DEVICE);
    s.negotiate(VERSION_1 | INDIRECT | EVENT_IDX);
    s.setupQueue(0, 8);
    s.driverOk();
    return { ...s, d };
  }

  it('raises the used-buffer interrupt and lowers it on InterruptACK', () => {
    const s = rngSession();
    s.d.setDesc(0, { addr: DATA, len: 4, flags: WRITE });
    s.d.offer(0);
    s.w(Reg.QueueNotify, 0);
    expect(s.mem.readU32(DATA)).toBe(0xabababab);
    expect([s.r(Reg.InterruptStatus), s.irq.level]).toEqual([1, true]);
    s.w(Reg.InterruptACK, 1);
    expect([s.r(Reg.InterruptStatus), s.irq.level]).toEqual([0, false]);
  });

  it('sets DEVICE_NEEDS_RESET with a configuration-change interrupt for a malformed chain, then ignores the queue until reset', () => {
    const s = rngSession();
    s.d.setDesc(0, { addr: DATA, len: 4, flags: WRITE | 1, next: 0 }); // a loop
    s.d.offer(0);
    s.w(Reg.QueueNotify, 0);
    expect(s.status() & DEVICE_NEEDS_RESET).toBe(DEVICE_NEEDS_RESET);
    expect(s.r(Reg.InterruptStatus)).toBe(Interrupt.CONFIG_CHANGE);
    expect(s.irq.level).toBe(true);
    expect(s.reasons).toEqual([expect.stringMatching(/a loop/)]);
    s.d.setDesc(1, { addr: DATA, len: 4, flags: WRITE });
    s.d.offer(1);
    s.w(Reg.QueueNotify, 0);
    expect(s.d.takeUsed()).toEqual([]);
    // The driver's status writes cannot clear the bit; a reset can.
    s.w(Reg.Status, ACKNOWLEDGE | DRV | FEATURES_OK | DRIVER_OK);
    expect(s.status() & DEVICE_NEEDS_RESET).toBe(DEVICE_NEEDS_RESET);
    s.w(Reg.Status, 0);
    expect(s.status()).toBe(0);
  });

  it('sets DEVICE_NEEDS_RESET when virtio-rng gets a device-readable buffer (§5.4.6.1)', () => {
    const s = rngSession();
    s.d.setDesc(0, { addr: DATA, len: 4 });
    s.d.offer(0);
    s.w(Reg.QueueNotify, 0);
    expect(s.status() & DEVICE_NEEDS_RESET).toBe(DEVICE_NEEDS_RESET);
    expect(s.reasons).toEqual([expect.stringMatching(/device-readable/)]);
  });

  it('sets DEVICE_NEEDS_RESET for DRIVER_OK without FEATURES_OK, a cleared status bit, or a queue it cannot use', () => {
    const a = setup(new RecordingDevice());
    a.w(Reg.Status, ACKNOWLEDGE | DRV | DRIVER_OK);
    expect(a.status() & DEVICE_NEEDS_RESET).toBe(DEVICE_NEEDS_RESET);
    expect(a.device.activation).toBeUndefined();

    const b = setup(new RecordingDevice());
    b.negotiate(VERSION_1);
    b.w(Reg.Status, ACKNOWLEDGE | FEATURES_OK);
    expect(b.status()).toBe(ACKNOWLEDGE | DRV | FEATURES_OK | DEVICE_NEEDS_RESET);

    for (const [num, desc] of [[32, DESC], [3, DESC], [8, BASE + RAM - 64], [8, 0x1000], [8, DESC + 4]] as const) {
      const c = setup(new RecordingDevice());
      c.negotiate(VERSION_1);
      c.setupQueue(0, num, desc);
      c.driverOk();
      expect(c.status() & DEVICE_NEEDS_RESET, `num ${num} desc ${desc.toString(16)}`).toBe(DEVICE_NEEDS_RESET);
      expect(c.r(Reg.InterruptStatus)).toBe(Interrupt.CONFIG_CHANGE);
      expect(c.device.activation).toBeUndefined();
    }
  });

  it('stops serving the queue after FAILED (§2.1)', () => {
    const s = rngSession();
    s.w(Reg.Status, ACKNOWLEDGE | DRV | FEATURES_OK | DRIVER_OK | FAILED);
    s.d.setDesc(0, { addr: DATA, len: 4, flags: WRITE });
    s.d.offer(0);
    s.w(Reg.QueueNotify, 0);
    expect(s.d.takeUsed()).toEqual([]);
  });

  it('bumps ConfigGeneration and raises the interrupt when the device says its configuration changed', () => {
    const s = setup(new RecordingDevice());
    s.negotiate(VERSION_1);
    s.setupQueue(0, 8);
    s.driverOk();
    s.device.activation!.interrupt.configChanged();
    expect([s.r(Reg.ConfigGeneration), s.r(Reg.InterruptStatus)]).toEqual([1, Interrupt.CONFIG_CHANGE]);
  });

  it('survives garbage rings: a hostile driver gets used buffers or DEVICE_NEEDS_RESET, never a host exception (property)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0x4000, maxLength: 0x4000 }),
        fc.constantFrom(1, 2, 4, 8),
        fc.integer({ min: 1, max: 20 }),
        fc.boolean(),
        (garbage, size, notifies, eventIdx) => {
          const s = setup(new VirtioRng());
          s.mem.write(DESC, garbage); // descriptor table, rings and whatever they point at
          s.negotiate(VERSION_1 | INDIRECT | (eventIdx ? EVENT_IDX : 0n));
          s.setupQueue(0, size);
          s.driverOk();
          for (let i = 0; i < notifies; i++) s.w(Reg.QueueNotify, 0);
          const st = s.status();
          expect(st & DRIVER_OK).toBe(DRIVER_OK);
          if (st & DEVICE_NEEDS_RESET) expect(s.r(Reg.InterruptStatus) & Interrupt.CONFIG_CHANGE).toBe(Interrupt.CONFIG_CHANGE);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('never throws on any register access (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ off: fc.integer({ min: 0, max: 0x3ff }).map((o) => o & ~3), v: fc.oneof(fc.integer({ min: 0, max: 0xff }), fc.nat(), fc.constant(0xffff_ffff)), read: fc.boolean() }),
          { maxLength: 60 },
        ),
        (ops) => {
          const s = setup(new VirtioRng(() => undefined));
          for (const op of ops) {
            if (op.read) s.t.read(op.off, 4);
            else s.t.write(op.off, 4, op.v >>> 0);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('virtio-mmio transport: saved state', () => {
  it('round-trips a live session: the restored transport serves the queue where the old one stopped', () => {
    const s = setup(new VirtioRng((dst) => dst.fill(7)));
    const d = new DriverRings(s.mem, 8, DESC, DRIVER, DEVICE);
    s.negotiate(VERSION_1 | EVENT_IDX);
    s.setupQueue(0, 8);
    s.driverOk();
    d.setDesc(0, { addr: DATA, len: 4, flags: WRITE });
    d.offer(0);
    s.w(Reg.QueueNotify, 0);
    const state = s.t.save();
    expect(JSON.parse(JSON.stringify(state))).toEqual(state);

    const irq = { set: () => undefined };
    const copy = new VirtioMmioTransport(new VirtioRng((dst) => dst.fill(9)), s.mem, irq, 'virtio7');
    copy.restore(structuredClone(state));
    expect(copy.save()).toEqual(state);
    d.offer(0);
    copy.write(Reg.QueueNotify, 4, 0);
    expect(d.takeUsed()).toEqual([{ id: 0, len: 4 }, { id: 0, len: 4 }]);
    expect(s.mem.readU32(DATA)).toBe(0x09090909);
  });

  it('refuses damaged state and stays unchanged', () => {
    const s = setup(new RecordingDevice());
    s.negotiate(VERSION_1);
    s.setupQueue(0, 8);
    s.driverOk();
    const good = s.t.save();
    const fresh = setup(new RecordingDevice());
    const before = fresh.t.save();
    const bad: [string, Partial<Record<keyof VirtioMmioState, unknown>> & Record<string, unknown>][] = [
      ['unknown field', { extra: 1 }],
      ['wrong version', { version: 2 }],
      ['status out of range', { status: 256 }],
      ['features never offered', { driverFeatures: [1 << 4, 1] }],
      ['too few queues', { queueNum: [8] }],
      ['queue outside RAM', { queueDesc: [0x1000, 0, 0, 0] }],
      ['queue too big', { queueNum: [32, 0] }],
      ['cursor not 16-bit', { queueCursor: [0x10000, 0, 0, 0, 0, 0] }],
      ['DRIVER_OK without FEATURES_OK', { status: ACKNOWLEDGE | DRV | DRIVER_OK }],
    ];
    for (const [what, patch] of bad) {
      expect(() => fresh.t.restore({ ...good, ...patch } as VirtioMmioState), what).toThrow(/saved state of virtio7/);
      expect(fresh.t.save(), what).toEqual(before);
    }
  });
});
