import type { GuestMemory } from '../../../core/guest-memory.js';
import { TypervisorError } from '../../../core/errors.js';
import type { IrqLine } from '../../../core/irq-line.js';
import type { Snapshotable } from '../../../core/snapshotable.js';
import { StateReader } from '../../../core/state-reader.js';
import type { AccessWidth } from '../../../cpu/hart-api.js';
import { low32, type MmioDevice } from '../../../board/mmio-device.js';
import { SplitVirtqueue } from '../queue/split-virtqueue.js';
import { VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC, VIRTIO_F_VERSION_1, type VirtioDevice, type VirtioInterrupt } from '../virtio-device.js';

// The virtio-mmio transport, version 2 ("modern"), virtio 1.2 §4.2.2 (register layout) and
// §4.2.3 (initialization and operation). Control registers (offsets < 0x100) are 32-bit only
// (§4.2.2.2: "The driver MUST only use 32 bit wide and aligned reads and writes"); the device
// configuration space at 0x100 takes 8-, 16- and 32-bit accesses (§4.2.2.2 again; 64-bit fields
// are read as two 32-bit halves, §2.5.1).
//   0x000 MagicValue "virt"    0x004 Version 2         0x008 DeviceID       0x00c VendorID
//   0x010 DeviceFeatures       0x014 DeviceFeaturesSel 0x020 DriverFeatures 0x024 DriverFeaturesSel
//   0x030 QueueSel             0x034 QueueNumMax       0x038 QueueNum       0x044 QueueReady
//   0x050 QueueNotify          0x060 InterruptStatus   0x064 InterruptACK   0x070 Status
//   0x080/84 QueueDescLow/High 0x090/94 QueueDriverLow/High 0x0a0/a4 QueueDeviceLow/High
//   0x0fc ConfigGeneration     0x100+ device configuration space
// Other offsets below 0x100 (shared memory regions, QueueReset — features we do not offer) read
// 0 and ignore writes.

export const VIRTIO_MMIO_MAGIC = 0x74726976; // "virt", little-endian
export const VIRTIO_MMIO_VERSION = 2;
/** VendorID: QEMU's ("QEMU" little-endian), which Linux does not look at; no PCI vendor applies. */
export const VIRTIO_MMIO_VENDOR = 0x554d4551;

export const Reg = {
  MagicValue: 0x000,
  Version: 0x004,
  DeviceID: 0x008,
  VendorID: 0x00c,
  DeviceFeatures: 0x010,
  DeviceFeaturesSel: 0x014,
  DriverFeatures: 0x020,
  DriverFeaturesSel: 0x024,
  QueueSel: 0x030,
  QueueNumMax: 0x034,
  QueueNum: 0x038,
  QueueReady: 0x044,
  QueueNotify: 0x050,
  InterruptStatus: 0x060,
  InterruptACK: 0x064,
  Status: 0x070,
  QueueDescLow: 0x080,
  QueueDescHigh: 0x084,
  QueueDriverLow: 0x090,
  QueueDriverHigh: 0x094,
  QueueDeviceLow: 0x0a0,
  QueueDeviceHigh: 0x0a4,
  ConfigGeneration: 0x0fc,
  Config: 0x100,
} as const;

/** Device status bits, §2.1. */
export const Status = {
  ACKNOWLEDGE: 1,
  DRIVER: 2,
  DRIVER_OK: 4,
  FEATURES_OK: 8,
  DEVICE_NEEDS_RESET: 64,
  FAILED: 128,
} as const;

/** InterruptStatus bits, §4.2.2. */
export const Interrupt = { USED_BUFFER: 1, CONFIG_CHANGE: 2 } as const;

/** The features the transport implements for every device (the queue code does them). */
const TRANSPORT_FEATURES = (1n << VIRTIO_F_VERSION_1) | (1n << VIRTIO_F_INDIRECT_DESC) | (1n << VIRTIO_F_EVENT_IDX);
const WINDOW = 0x1000;

interface QueueRegs {
  num: number;
  ready: boolean;
  desc: [number, number];
  driver: [number, number];
  device: [number, number];
}

/** Saved transport state. Addresses are [low, high] 32-bit words, as the registers hold them. */
export interface VirtioMmioState {
  version: 1;
  status: number;
  deviceFeaturesSel: number;
  driverFeaturesSel: number;
  /** DriverFeatures bits 0–31 and 32–63. */
  driverFeatures: number[];
  /** The driver wrote a non-zero DriverFeatures word past bit 63 (never offered). */
  driverFeaturesBeyond64: boolean;
  queueSel: number;
  interruptStatus: number;
  configGeneration: number;
  /** Per queue, by index: QueueNum, QueueReady (0/1), and the three areas as low/high pairs. */
  queueNum: number[];
  queueReady: number[];
  queueDesc: number[];
  queueDriver: number[];
  queueDevice: number[];
  /** Per queue, the device's ring counters (meaningful after DRIVER_OK): lastAvail, usedIdx, signalledUsed. */
  queueCursor: number[];
}

/** Why the device last set DEVICE_NEEDS_RESET, for tests and logs. */
export type NeedsResetListener = (reason: string) => void;

/**
 * One virtio-mmio slot: the registers of §4.2.2 in front of a {@link VirtioDevice}. It owns the
 * status handshake (§3.1.1), feature negotiation (§2.2; features never offered are refused at
 * FEATURES_OK), queue setup, notifications, interrupts and reset, once for all devices. Guest
 * memory and the queues reach the device only at DRIVER_OK.
 *
 * The interrupt line is high while InterruptStatus is non-zero (level-triggered, as the PLIC
 * source of the slot expects).
 */
export class VirtioMmioTransport implements MmioDevice, Snapshotable<VirtioMmioState> {
  readonly size = WINDOW;
  /** Everything offered to the driver: the device's features plus the transport's. */
  readonly offered: bigint;
  private status = 0;
  private deviceFeaturesSel = 0;
  private driverFeaturesSel = 0;
  private driverFeatures = 0n;
  private driverFeaturesBeyond64 = false;
  private queueSel = 0;
  private interruptStatus = 0;
  private configGeneration = 0;
  private queueRegs: QueueRegs[];
  private queues: (SplitVirtqueue | undefined)[] = [];
  /** True between a successful DRIVER_OK and the next reset, DEVICE_NEEDS_RESET or FAILED. */
  private live = false;
  private readonly interrupt: VirtioInterrupt;

  /**
   * @param device the device behind the slot; it sees guest memory only from DRIVER_OK on.
   * @param mem guest RAM, for the queues.
   * @param irq the slot's interrupt wire (PLIC source 1 + slot on the virt board).
   * @param id the component id in snapshots, e.g. `virtio7`.
   * @param onNeedsReset called with the reason whenever the driver broke a rule.
   */
  constructor(
    private readonly device: VirtioDevice,
    private readonly mem: GuestMemory,
    private readonly irq: IrqLine,
    readonly id: string,
    private readonly onNeedsReset?: NeedsResetListener,
  ) {
    this.offered = device.features | TRANSPORT_FEATURES;
    this.queueRegs = device.queueSizes.map(emptyQueue);
    this.interrupt = {
      usedBuffer: (queue) => {
        if (this.live && queue.needsNotification()) this.raise(Interrupt.USED_BUFFER);
      },
      configChanged: () => {
        this.configGeneration = (this.configGeneration + 1) >>> 0;
        if (this.status & Status.DRIVER_OK) this.raise(Interrupt.CONFIG_CHANGE);
      },
      needsReset: (reason) => this.needsReset(reason),
    };
  }

  /** The status register's value (for tests and monitors). */
  get deviceStatus(): number {
    return this.status;
  }

  accepts(offset: number, width: AccessWidth): boolean {
    if (offset < Reg.Config) return width === 4;
    return width !== 8;
  }

  read(offset: number, width: AccessWidth): number {
    if (offset >= Reg.Config) {
      const at = offset - Reg.Config;
      if (width === 8 || at + width > this.device.configSize) return 0;
      try {
        return this.device.readConfig(at, width);
      } catch (e) {
        return this.guestFault(e), 0;
      }
    }
    const q = this.queueRegs[this.queueSel];
    switch (offset) {
      case Reg.MagicValue: return VIRTIO_MMIO_MAGIC;
      case Reg.Version: return VIRTIO_MMIO_VERSION;
      case Reg.DeviceID: return this.device.type;
      case Reg.VendorID: return VIRTIO_MMIO_VENDOR;
      case Reg.DeviceFeatures:
        return this.deviceFeaturesSel < 2 ? Number(BigInt.asUintN(32, this.offered >> BigInt(32 * this.deviceFeaturesSel))) : 0;
      // §4.2.2: QueueNumMax reads 0 for a queue that does not exist.
      case Reg.QueueNumMax: return this.device.queueSizes[this.queueSel] ?? 0;
      case Reg.QueueReady: return q?.ready ? 1 : 0;
      case Reg.InterruptStatus: return this.interruptStatus;
      case Reg.Status: return this.status;
      case Reg.ConfigGeneration: return this.configGeneration;
      // Write-only registers and the rest read 0 (QEMU logs and returns 0 for them too).
      default: return 0;
    }
  }

  write(offset: number, width: AccessWidth, value: number | bigint): void {
    const v = low32(value);
    if (offset >= Reg.Config) {
      const at = offset - Reg.Config;
      if (width === 8 || at + width > this.device.configSize) return;
      try {
        this.device.writeConfig(at, width, width === 4 ? v : v & ((1 << (8 * width)) - 1));
      } catch (e) {
        this.guestFault(e);
      }
      return;
    }
    switch (offset) {
      case Reg.DeviceFeaturesSel: this.deviceFeaturesSel = v; return;
      case Reg.DriverFeatures: return this.writeDriverFeatures(v);
      case Reg.DriverFeaturesSel: this.driverFeaturesSel = v; return;
      case Reg.QueueSel: this.queueSel = v; return;
      case Reg.QueueNum: return this.writeQueue((q) => (q.num = v));
      case Reg.QueueReady: return this.writeQueue((q) => (q.ready = (v & 1) === 1));
      case Reg.QueueDescLow: return this.writeQueue((q) => (q.desc[0] = v));
      case Reg.QueueDescHigh: return this.writeQueue((q) => (q.desc[1] = v));
      case Reg.QueueDriverLow: return this.writeQueue((q) => (q.driver[0] = v));
      case Reg.QueueDriverHigh: return this.writeQueue((q) => (q.driver[1] = v));
      case Reg.QueueDeviceLow: return this.writeQueue((q) => (q.device[0] = v));
      case Reg.QueueDeviceHigh: return this.writeQueue((q) => (q.device[1] = v));
      case Reg.QueueNotify: return this.notify(v);
      case Reg.InterruptACK:
        this.interruptStatus &= ~v;
        this.irq.set(this.interruptStatus !== 0);
        return;
      case Reg.Status: return this.writeStatus(v & 0xff);
      default: return; // read-only and reserved registers ignore writes
    }
  }

  save(): VirtioMmioState {
    const pairs = (k: 'desc' | 'driver' | 'device') => this.queueRegs.flatMap((q) => [q[k][0], q[k][1]]);
    return {
      version: 1,
      status: this.status,
      deviceFeaturesSel: this.deviceFeaturesSel,
      driverFeaturesSel: this.driverFeaturesSel,
      driverFeatures: [Number(BigInt.asUintN(32, this.driverFeatures)), Number(this.driverFeatures >> 32n)],
      driverFeaturesBeyond64: this.driverFeaturesBeyond64,
      queueSel: this.queueSel,
      interruptStatus: this.interruptStatus,
      configGeneration: this.configGeneration,
      queueNum: this.queueRegs.map((q) => q.num),
      queueReady: this.queueRegs.map((q) => (q.ready ? 1 : 0)),
      queueDesc: pairs('desc'),
      queueDriver: pairs('driver'),
      queueDevice: pairs('device'),
      queueCursor: this.queueRegs.flatMap((_, i) => {
        const c = this.queues[i]?.cursor();
        return c ? [c.lastAvail, c.usedIdx, c.signalledUsed] : [0, 0, 0];
      }),
    };
  }

  /**
   * Restores a saved transport. The state is checked as strictly as guest input; a transport
   * saved after DRIVER_OK gets its queues rebuilt and its device re-activated (the device's own
   * state, if any, is restored separately by its owner).
   */
  restore(state: VirtioMmioState): void {
    const n = this.device.queueSizes.length;
    const U32 = 0xffff_ffff;
    const r = new StateReader(this.id, state, 1);
    const status = r.int('status', 0, 0xff);
    const deviceFeaturesSel = r.int('deviceFeaturesSel', 0, U32);
    const driverFeaturesSel = r.int('driverFeaturesSel', 0, U32);
    const features = r.ints('driverFeatures', 0, U32, 2, true);
    const beyond = r.bool('driverFeaturesBeyond64');
    const queueSel = r.int('queueSel', 0, U32);
    const interruptStatus = r.int('interruptStatus', 0, 3);
    const configGeneration = r.int('configGeneration', 0, U32);
    const queueNum = r.ints('queueNum', 0, U32, n, true);
    const queueReady = r.ints('queueReady', 0, 1, n, true);
    const queueDesc = r.ints('queueDesc', 0, U32, 2 * n, true);
    const queueDriver = r.ints('queueDriver', 0, U32, 2 * n, true);
    const queueDevice = r.ints('queueDevice', 0, U32, 2 * n, true);
    const queueCursor = r.ints('queueCursor', 0, 0xffff, 3 * n, true);
    r.done();
    const driverFeatures = (BigInt(features[1]!) << 32n) | BigInt(features[0]!);
    const featuresOk = (status & Status.FEATURES_OK) !== 0;
    r.check(!featuresOk || (!beyond && (driverFeatures & ~this.offered) === 0n), 'accepts features the device never offered');
    const regs: QueueRegs[] = queueNum.map((num, i) => ({
      num,
      ready: queueReady[i] === 1,
      desc: [queueDesc[2 * i]!, queueDesc[2 * i + 1]!],
      driver: [queueDriver[2 * i]!, queueDriver[2 * i + 1]!],
      device: [queueDevice[2 * i]!, queueDevice[2 * i + 1]!],
    }));
    const live = (status & Status.DRIVER_OK) !== 0 && (status & (Status.DEVICE_NEEDS_RESET | Status.FAILED)) === 0;
    let queues: (SplitVirtqueue | undefined)[] = [];
    if (live) {
      r.check(featuresOk, 'has DRIVER_OK without FEATURES_OK');
      try {
        queues = regs.map((q, i) =>
          q.ready ? this.makeQueue(q, driverFeatures, i, { lastAvail: queueCursor[3 * i]!, usedIdx: queueCursor[3 * i + 1]!, signalledUsed: queueCursor[3 * i + 2]! }) : undefined,
        );
      } catch (e) {
        if (!(e instanceof TypervisorError)) throw e;
        r.check(false, `has a queue the device cannot use (${e.message})`);
      }
    }
    this.device.reset();
    this.status = status;
    this.deviceFeaturesSel = deviceFeaturesSel;
    this.driverFeaturesSel = driverFeaturesSel;
    this.driverFeatures = driverFeatures;
    this.driverFeaturesBeyond64 = beyond;
    this.queueSel = queueSel;
    this.interruptStatus = interruptStatus;
    this.configGeneration = configGeneration;
    this.queueRegs = regs;
    this.queues = queues;
    this.live = false;
    if (live) this.activate();
    this.irq.set(this.interruptStatus !== 0);
  }

  private writeDriverFeatures(v: number): void {
    // §3.1.1 step 5: the features are fixed once FEATURES_OK is set.
    if (this.status & Status.FEATURES_OK) return;
    const sel = this.driverFeaturesSel;
    if (sel >= 2) {
      if (v !== 0) this.driverFeaturesBeyond64 = true;
      return;
    }
    const shift = BigInt(32 * sel);
    this.driverFeatures = (this.driverFeatures & ~(0xffff_ffffn << shift)) | (BigInt(v) << shift);
  }

  /**
   * Queue registers apply to the queue QueueSel names. Writes to a queue that does not exist, or
   * after DRIVER_OK (queues are set up before it, §4.2.3.2; changing a live queue needs
   * VIRTIO_F_RING_RESET, which we do not offer), are ignored.
   */
  private writeQueue(set: (q: QueueRegs) => void): void {
    const q = this.queueRegs[this.queueSel];
    if (!q || this.status & Status.DRIVER_OK) return;
    set(q);
  }

  /** §4.2.3.1 / §3.1.1: the status handshake, one bit at a time. */
  private writeStatus(v: number): void {
    if (v === 0) return this.reset(); // §2.4, §4.2.2: writing 0 resets the device
    // DEVICE_NEEDS_RESET belongs to the device: the driver's copy of it is ignored.
    const old = this.status;
    let next = (v & ~Status.DEVICE_NEEDS_RESET) | (old & Status.DEVICE_NEEDS_RESET);
    // §2.1.1: "The driver MUST NOT clear a device status bit."
    if ((old & ~next) !== 0) return this.needsReset(`the driver cleared status bits ${(old & ~next).toString(2)}`);
    const added = next & ~old;
    if (added & Status.FEATURES_OK) {
      // §3.1.1 steps 1–5: ACKNOWLEDGE and DRIVER come first. §2.2.1: the driver MUST NOT accept
      // a feature the device did not offer; §2.2.2: the device then fails to set FEATURES_OK.
      const ordered = (next & (Status.ACKNOWLEDGE | Status.DRIVER)) === (Status.ACKNOWLEDGE | Status.DRIVER);
      const subset = !this.driverFeaturesBeyond64 && (this.driverFeatures & ~this.offered) === 0n;
      // A version-2 device has no legacy interface: VIRTIO_F_VERSION_1 is required (§6, §4.2.4).
      const modern = (this.driverFeatures >> VIRTIO_F_VERSION_1) & 1n;
      if (!ordered || !subset || !modern) next &= ~Status.FEATURES_OK;
    }
    this.status = next;
    if (added & Status.DRIVER_OK && !(next & Status.DEVICE_NEEDS_RESET)) {
      if (!(next & Status.FEATURES_OK)) return this.needsReset('DRIVER_OK without FEATURES_OK'); // §3.1.1
      try {
        this.queues = this.queueRegs.map((q, i) => (q.ready ? this.makeQueue(q, this.driverFeatures, i) : undefined));
      } catch (e) {
        return this.guestFault(e);
      }
      this.activate();
    }
    if (added & Status.FAILED) this.live = false; // §2.1: the driver gave up
  }

  private activate(): void {
    this.live = true;
    this.device.activate({ mem: this.mem, queues: this.queues, interrupt: this.interrupt, features: this.driverFeatures });
  }

  private makeQueue(q: QueueRegs, features: bigint, index: number, cursor?: ConstructorParameters<typeof SplitVirtqueue>[2]): SplitVirtqueue {
    const max = this.device.queueSizes[index]!;
    if (q.num === 0 || q.num > max) throw new TypervisorError(`queue ${index}: QueueNum ${q.num} is not in 1..${max}`);
    const addr = (p: [number, number]) => p[1] * 2 ** 32 + p[0];
    return new SplitVirtqueue(
      this.mem,
      {
        size: q.num,
        desc: addr(q.desc),
        driver: addr(q.driver),
        device: addr(q.device),
        indirect: ((features >> VIRTIO_F_INDIRECT_DESC) & 1n) === 1n,
        eventIdx: ((features >> VIRTIO_F_EVENT_IDX) & 1n) === 1n,
      },
      cursor,
    );
  }

  /** §4.2.2 QueueNotify: the value is the queue index (no VIRTIO_F_NOTIFICATION_DATA). */
  private notify(queue: number): void {
    if (!this.live || !this.queues[queue]) return;
    try {
      this.device.notify(queue);
    } catch (e) {
      this.guestFault(e);
    }
  }

  /** A TypervisorError out of the device or queue code is the guest's fault; anything else is a bug. */
  private guestFault(e: unknown): void {
    if (!(e instanceof TypervisorError)) throw e;
    this.needsReset(e.message);
  }

  /**
   * §2.1.2: the device SHOULD set DEVICE_NEEDS_RESET when it needs a reset, and then, if
   * DRIVER_OK is set, MUST send a configuration-change notification.
   */
  private needsReset(reason: string): void {
    this.onNeedsReset?.(reason);
    if (this.status & Status.DEVICE_NEEDS_RESET) return;
    this.live = false;
    this.status |= Status.DEVICE_NEEDS_RESET;
    if (this.status & Status.DRIVER_OK) this.raise(Interrupt.CONFIG_CHANGE);
  }

  /** §2.4: back to the state after power-on; the device forgets memory, queues and interrupt. */
  private reset(): void {
    this.device.reset();
    this.live = false;
    this.status = 0;
    this.deviceFeaturesSel = 0;
    this.driverFeaturesSel = 0;
    this.driverFeatures = 0n;
    this.driverFeaturesBeyond64 = false;
    this.queueSel = 0;
    this.queueRegs = this.device.queueSizes.map(emptyQueue);
    this.queues = [];
    this.interruptStatus = 0;
    this.irq.set(false);
  }

  private raise(bit: number): void {
    this.interruptStatus |= bit;
    this.irq.set(true);
  }
}

function emptyQueue(): QueueRegs {
  return { num: 0, ready: false, desc: [0, 0], driver: [0, 0], device: [0, 0] };
}
