import { TypervisorError } from '../../../core/errors.js';
import type { DescriptorChain } from '../queue/descriptor-chain.js';
import { VirtioDeviceId, type VirtioActivation, type VirtioDevice, readConfigField } from '../virtio-device.js';
import { CFG_MAX_NR_PORTS, CONSOLE_CONFIG_SIZE, VIRTIO_CONSOLE_F_MULTIPORT } from './virtio-console.js';

// A one-way byte stream from the host into the guest that ends in EOF, such as the standard
// input of `typervisor run -i -- CMD`. A console port cannot carry it: a tty echoes, translates
// and never reaches end of file. So this is a virtio-console device (virtio 1.2 §5.3) with
// VIRTIO_CONSOLE_F_MULTIPORT and a single port that is not a console: Linux shows it as the
// character device /dev/vportNp0, named in /sys/class/virtio-ports/vportNp0/name, and a read
// there returns 0 once the host side is closed and every byte was read (virtio_console.c:
// will_read_block is false when !host_connected). Queues (§5.3.2): 0/1 receiveq/transmitq of
// port 0, 2/3 the control receiveq/transmitq. The control protocol (§5.3.6.2):
//   driver: DEVICE_READY(1) → device: DEVICE_ADD for port 0
//   driver: PORT_READY(0, 1) → device: PORT_NAME(0) + name, then PORT_OPEN(0, 1) (host connected)
//   driver: PORT_OPEN(0, 1) when a guest process opens the port → device: data into receiveq
//   host input ends and every byte is in the guest's buffers → device: PORT_OPEN(0, 0)
// Data waits for the guest to open the port: Linux drops what arrives on a generic port nobody
// holds open (virtio_console.c in_intr: discard_port_data when !guest_connected).
// What the guest writes to the port is consumed and dropped.

/** §5.3.6.2 control events. */
export const CONSOLE_DEVICE_READY = 0;
export const CONSOLE_DEVICE_ADD = 1;
export const CONSOLE_PORT_READY = 3;
export const CONSOLE_PORT_OPEN = 6;
export const CONSOLE_PORT_NAME = 7;
/** struct virtio_console_control: le32 id, le16 event, le16 value. */
export const CONTROL_BYTES = 8;

export const PIPE_QUEUE_SIZE = 64;
/** Host bytes held for the guest before the source is asked to pause… */
export const PIPE_PAUSE_BYTES = 256 * 1024;
/** …and below which it is asked to go on. */
export const PIPE_RESUME_BYTES = 64 * 1024;
/** Control messages waiting for control buffers; a driver that never posts any gets no more. */
const MAX_PENDING_CONTROL = 16;

const DATA_RX = 0;
const DATA_TX = 1;
const CONTROL_RX = 2;
const CONTROL_TX = 3;

/** Where the bytes come from (the host's standard input, a file …); Node-free by contract. */
export interface PipeSource {
  /** Starts delivery to `sink`: data in order, then `end` once. */
  attach(sink: { data(bytes: Uint8Array): void; end(): void }): void;
  /** Optional flow control: deliver no more for now (a little already read may still come). */
  pause?(): void;
  resume?(): void;
}

export interface VirtioPipeOptions {
  /** The port's name (PORT_NAME), e.g. `typervisor.stdin`: how the guest finds it. */
  readonly name: string;
  /** Called after an interrupt raised outside any MMIO access (wakes an idle hart). */
  readonly wake?: () => void;
}

export class VirtioPipe implements VirtioDevice {
  readonly type = VirtioDeviceId.console;
  readonly features = 1n << VIRTIO_CONSOLE_F_MULTIPORT;
  readonly queueSizes = [PIPE_QUEUE_SIZE, PIPE_QUEUE_SIZE, PIPE_QUEUE_SIZE, PIPE_QUEUE_SIZE];
  readonly configSize = CONSOLE_CONFIG_SIZE;
  readonly name: string;
  private active: VirtioActivation | undefined;
  /** Host bytes not yet in the guest's buffers: chunks, the first consumed up to `head`. */
  private chunks: Uint8Array[] = [];
  private head = 0;
  private bytes = 0;
  private ended = false;
  private paused = false;
  /** Per driver session: the port was announced open to the guest, and closed. */
  private portReady = false;
  /** A guest process holds the port open (PORT_OPEN from the driver). */
  private guestOpen = false;
  private closedSent = false;
  private control: Uint8Array[] = [];

  constructor(private readonly source: PipeSource, private readonly options: VirtioPipeOptions) {
    if (options.name.length === 0 || options.name.length > 64 || /[^\x21-\x7e]/.test(options.name)) {
      throw new TypervisorError(`virtio pipe port name '${options.name}' must be 1–64 printable ASCII characters without spaces`);
    }
    this.name = options.name;
    source.attach({ data: (b) => this.data(b), end: () => this.end() });
  }

  /** Bytes held for the guest. */
  get pendingBytes(): number {
    return this.bytes;
  }

  readConfig(offset: number, width: 1 | 2 | 4): number {
    const config = new Uint8Array(CONSOLE_CONFIG_SIZE);
    new DataView(config.buffer).setUint32(CFG_MAX_NR_PORTS, 1, true); // port 0 only
    return readConfigField(config, offset, width);
  }

  /** emerg_wr (the only writable field) is not offered: ignored. */
  writeConfig(): void {}

  activate(activation: VirtioActivation): void {
    this.active = activation;
    this.portReady = false;
    this.guestOpen = false;
    this.closedSent = false;
    this.control = [];
    this.guarded(() => this.service());
  }

  /** §2.4: the driver starts over; the host bytes not yet delivered stay for the next one. */
  reset(): void {
    this.active = undefined;
    this.control = [];
  }

  notify(_queue: number): void {
    this.guarded(() => this.service());
  }

  private data(b: Uint8Array): void {
    if (this.ended || b.length === 0) return;
    this.chunks.push(b.slice());
    this.bytes += b.length;
    if (!this.paused && this.bytes >= PIPE_PAUSE_BYTES) {
      this.paused = true;
      this.source.pause?.();
    }
    this.fromHost();
  }

  private end(): void {
    this.ended = true;
    this.fromHost();
  }

  /** Host activity outside any MMIO access: serve the rings, then wake the hart. */
  private fromHost(): void {
    if (!this.active) return;
    this.guarded(() => this.service());
    this.options.wake?.();
  }

  /** Runs `fn`; a malformed ring or buffer sets DEVICE_NEEDS_RESET (never a host exception). */
  private guarded(fn: () => void): void {
    const a = this.active;
    if (!a) return;
    try {
      fn();
    } catch (e) {
      if (!(e instanceof TypervisorError)) throw e;
      this.active = undefined;
      a.interrupt.needsReset(e.message);
    }
  }

  /** Everything the rings allow, in the order that keeps EOF after the data. */
  private service(): void {
    const a = this.active!;
    this.takeControl(a);
    this.drainTransmit(a);
    const delivered = this.deliverData(a);
    if (this.portReady && this.guestOpen && this.ended && this.bytes === 0 && !this.closedSent) {
      // Every byte is in the used ring before the driver hears the host side closed.
      this.closedSent = true;
      this.queueControl(CONSOLE_PORT_OPEN, 0);
    }
    const sent = this.sendControl(a);
    if (delivered) a.interrupt.usedBuffer(a.queues[DATA_RX]!);
    if (sent) a.interrupt.usedBuffer(a.queues[CONTROL_RX]!);
  }

  /** Messages from the driver (control transmitq). */
  private takeControl(a: VirtioActivation): void {
    const q = a.queues[CONTROL_TX];
    if (!q) return;
    let used = false;
    for (let chain = q.pop(); chain; chain = q.pop()) {
      used = true;
      const msg = new Uint8Array(CONTROL_BYTES);
      if (chain.readableBytes >= CONTROL_BYTES) {
        chain.read(a.mem, 0, msg);
        const v = new DataView(msg.buffer);
        const id = v.getUint32(0, true);
        const event = v.getUint16(4, true);
        const value = v.getUint16(6, true);
        if (event === CONSOLE_DEVICE_READY && value === 1) this.queueControl(CONSOLE_DEVICE_ADD, 1);
        else if (event === CONSOLE_PORT_READY && id === 0 && value === 1 && !this.portReady) {
          this.portReady = true;
          this.queueControl(CONSOLE_PORT_NAME, 1, new TextEncoder().encode(`${this.name}\0`));
          // Host connected unless there is nothing left to read: reads then return EOF at once.
          if (!(this.ended && this.bytes === 0)) this.queueControl(CONSOLE_PORT_OPEN, 1);
          else this.closedSent = true;
        }
        else if (event === CONSOLE_PORT_OPEN && id === 0 && this.portReady) this.guestOpen = value === 1;
        // Anything else: nothing to do.
      }
      q.push(chain.head, 0);
    }
    if (used) a.interrupt.usedBuffer(q);
  }

  private queueControl(event: number, value: number, extra?: Uint8Array): void {
    if (this.control.length >= MAX_PENDING_CONTROL) return;
    const msg = new Uint8Array(CONTROL_BYTES + (extra?.length ?? 0));
    const v = new DataView(msg.buffer);
    v.setUint32(0, 0, true); // port 0
    v.setUint16(4, event, true);
    v.setUint16(6, value, true);
    if (extra) msg.set(extra, CONTROL_BYTES);
    this.control.push(msg);
  }

  /** Pending control messages into the driver's control buffers (one message per buffer). */
  private sendControl(a: VirtioActivation): boolean {
    const q = a.queues[CONTROL_RX];
    if (!q) return false;
    let used = false;
    while (this.control.length > 0) {
      const chain = q.pop();
      if (!chain) break;
      this.checkWritable(chain, 'control');
      const msg = this.control.shift()!;
      q.push(chain.head, chain.write(a.mem, 0, msg.subarray(0, Math.min(msg.length, chain.writableBytes))));
      used = true;
    }
    return used;
  }

  /** What the guest writes to the port: consumed and dropped (the stream is one-way). */
  private drainTransmit(a: VirtioActivation): void {
    const q = a.queues[DATA_TX];
    if (!q) return;
    let used = false;
    for (let chain = q.pop(); chain; chain = q.pop()) {
      q.push(chain.head, 0);
      used = true;
    }
    if (used) a.interrupt.usedBuffer(q);
  }

  /** Host bytes into the port's receive buffers, once the port was announced. */
  private deliverData(a: VirtioActivation): boolean {
    const q = a.queues[DATA_RX];
    if (!q || !this.portReady || !this.guestOpen) return false;
    let used = false;
    while (this.bytes > 0) {
      const chain = q.pop();
      if (!chain) break;
      this.checkWritable(chain, 'receive');
      let at = 0;
      while (at < chain.writableBytes && this.chunks.length > 0) {
        const first = this.chunks[0]!;
        const part = first.subarray(this.head, this.head + (chain.writableBytes - at));
        at += chain.write(a.mem, at, part);
        this.head += part.length;
        if (this.head === first.length) {
          this.chunks.shift();
          this.head = 0;
        }
      }
      this.bytes -= at;
      q.push(chain.head, at);
      used = true;
    }
    if (this.paused && this.bytes <= PIPE_RESUME_BYTES) {
      this.paused = false;
      this.source.resume?.();
    }
    return used;
  }

  private checkWritable(chain: DescriptorChain, which: string): void {
    if (chain.readable.length > 0 || chain.writableBytes === 0) {
      throw new TypervisorError(`virtio pipe: a ${which} buffer is device-readable or empty`);
    }
  }
}
