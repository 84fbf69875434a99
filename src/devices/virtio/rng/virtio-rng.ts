import { VirtioDeviceId, type VirtioActivation, type VirtioDevice } from '../virtio-device.js';

// virtio-rng, the entropy device: virtio 1.2 §5.4. One queue (requestq), no feature bits, no
// configuration space. The driver posts device-writable buffers; the device fills them with
// random bytes and returns them.

/** Size of the request queue (QueueNumMax). */
export const RNG_QUEUE_SIZE = 64;
/**
 * Most bytes given for one request: §5.4.6.2 lets the device "use less than the entire buffer
 * length", and a cap keeps a guest from making the host generate gigabytes per notification.
 */
export const RNG_MAX_BYTES_PER_REQUEST = 64 * 1024;
/** crypto.getRandomValues fills at most 65536 bytes per call (Web Crypto API). */
const GET_RANDOM_VALUES_MAX = 65536;

/** Fills `dst` with random bytes. */
export type EntropySource = (dst: Uint8Array) => void;

/** The host's cryptographic RNG (Web Crypto: Node ≥ 20 and browsers, no Node import). */
export const cryptoEntropy: EntropySource = (dst) => {
  const crypto = (globalThis as unknown as { crypto: { getRandomValues(a: Uint8Array): Uint8Array } }).crypto;
  for (let at = 0; at < dst.length; at += GET_RANDOM_VALUES_MAX) {
    crypto.getRandomValues(dst.subarray(at, Math.min(dst.length, at + GET_RANDOM_VALUES_MAX)));
  }
};

/**
 * The virtio entropy device. Stateless between requests (nothing to snapshot beyond the
 * transport): each notification drains the request queue at once.
 */
export class VirtioRng implements VirtioDevice {
  readonly type = VirtioDeviceId.entropy;
  readonly features = 0n; // §5.4.3: none
  readonly queueSizes = [RNG_QUEUE_SIZE];
  readonly configSize = 0; // §5.4.4: none
  private active: VirtioActivation | undefined;

  constructor(private readonly entropy: EntropySource = cryptoEntropy) {}

  readConfig(): number {
    return 0;
  }

  writeConfig(): void {}

  activate(activation: VirtioActivation): void {
    this.active = activation;
  }

  reset(): void {
    this.active = undefined;
  }

  /**
   * §5.4.6: fills every available buffer. A buffer with a device-readable part breaks
   * §5.4.6.1 ("The driver MUST NOT place driver-readable buffers into the queue") and sets
   * DEVICE_NEEDS_RESET.
   */
  notify(queue: number): void {
    const a = this.active;
    const q = a?.queues[queue];
    if (!a || !q || queue !== 0) return;
    let returned = false;
    for (let chain = q.pop(); chain; chain = q.pop()) {
      if (chain.readable.length > 0) {
        a.interrupt.needsReset('virtio-rng: a request has a device-readable buffer');
        return;
      }
      const bytes = new Uint8Array(Math.min(chain.writableBytes, RNG_MAX_BYTES_PER_REQUEST));
      this.entropy(bytes);
      q.push(chain.head, chain.write(a.mem, 0, bytes));
      returned = true;
    }
    if (returned) a.interrupt.usedBuffer(q);
  }
}
