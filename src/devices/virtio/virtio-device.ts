import type { GuestMemory } from '../../core/guest-memory.js';
import type { SplitVirtqueue } from './queue/split-virtqueue.js';

// Feature bits every device shares (virtio 1.2 §6 Reserved Feature Bits). The transport offers
// the ring features itself: the queue code implements them once for all devices.

/** §6: indirect descriptor tables (§2.7.5.3). */
export const VIRTIO_F_INDIRECT_DESC = 28n;
/** §6: used_event / avail_event notification suppression (§2.7.7, §2.7.10). */
export const VIRTIO_F_EVENT_IDX = 29n;
/** §6: compliance with virtio 1.x; a version-2 virtio-mmio device has no legacy interface. */
export const VIRTIO_F_VERSION_1 = 32n;

/** Device ids of §5 (the virtio-mmio DeviceID register). */
export const VirtioDeviceId = {
  net: 1,
  block: 2,
  console: 3,
  entropy: 4,
  balloon: 5,
  '9p': 9,
} as const;

/** How a device signals the driver; handed to it at DRIVER_OK. */
export interface VirtioInterrupt {
  /**
   * The device put buffers in `queue`'s used ring: raises the used-buffer interrupt unless the
   * driver suppressed it (§2.7.7, checked by the queue).
   */
  usedBuffer(queue: SplitVirtqueue): void;
  /** The device configuration changed (§2.5.1): bumps ConfigGeneration, raises the interrupt. */
  configChanged(): void;
  /**
   * The driver broke the rules (a malformed descriptor chain, a buffer of the wrong direction):
   * sets DEVICE_NEEDS_RESET (§2.1.2) and raises the configuration-change interrupt; the device
   * gets no more notifications until the driver resets it. `reason` is for logs and tests.
   */
  needsReset(reason: string): void;
}

/** What a device receives at DRIVER_OK. */
export interface VirtioActivation {
  /** Guest RAM; every access is bounds-checked and throws a TypervisorError on holes. */
  readonly mem: GuestMemory;
  /** One entry per `queueSizes` entry; undefined where the driver did not enable the queue. */
  readonly queues: readonly (SplitVirtqueue | undefined)[];
  readonly interrupt: VirtioInterrupt;
  /** The features the driver accepted (FEATURES_OK). */
  readonly features: bigint;
}

/**
 * A virtio device behind a transport (DESIGN.md "Interfaces"). The transport owns the status
 * handshake, feature negotiation, queue setup and interrupts; the device owns what its queues
 * carry and its configuration space.
 *
 * Contract:
 * - `features` are the device-type bits it offers (§5.x); the transport adds VERSION_1,
 *   INDIRECT_DESC and EVENT_IDX.
 * - `activate` is called once per driver session, at DRIVER_OK; `notify(q)` only after that;
 *   `reset()` on a status write of 0 (§2.4) and drops everything `activate` gave.
 * - `notify`, `readConfig` and `writeConfig` run on guest input: they may throw a
 *   TypervisorError (a GuestMemory hole, a VirtqueueError), which the transport turns into
 *   DEVICE_NEEDS_RESET; any other exception is a bug.
 */
export interface VirtioDevice {
  /** The §5 device id. */
  readonly type: number;
  readonly features: bigint;
  /** Maximum size (QueueNumMax) of each queue, a power of 2 ≤ 32768 (§2.7). */
  readonly queueSizes: readonly number[];
  /** Bytes of device configuration space (at 0x100 in virtio-mmio). */
  readonly configSize: number;
  /** `offset + width <= configSize` is guaranteed. */
  readConfig(offset: number, width: 1 | 2 | 4): number;
  writeConfig(offset: number, width: 1 | 2 | 4, value: number): void;
  activate(activation: VirtioActivation): void;
  notify(queue: number): void;
  reset(): void;
}

/**
 * Reads a `width`-byte little-endian field at `offset` of a device's configuration space held
 * as bytes (virtio 1.2 §2.5: the device configuration space is little-endian for VERSION_1
 * devices). The transport guarantees `offset + width <= bytes.length`.
 */
export function readConfigField(bytes: Uint8Array, offset: number, width: 1 | 2 | 4): number {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return width === 1 ? v.getUint8(offset) : width === 2 ? v.getUint16(offset, true) : v.getUint32(offset, true);
}
