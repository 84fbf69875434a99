import { TypervisorError } from '../../../core/errors.js';
import type { Snapshotable } from '../../../core/snapshotable.js';
import { StateReader } from '../../../core/state-reader.js';
import { VirtioDeviceId, type VirtioActivation, type VirtioDevice, readConfigField } from '../virtio-device.js';

// virtio-console, virtio 1.2 §5.3: one port (no VIRTIO_CONSOLE_F_MULTIPORT), so two queues:
// receiveq (0, device → driver) and transmitq (1, driver → device) of port 0. Linux names it
// hvc0. Offers F_SIZE (§5.3.3: cols/rows in the configuration space, a configuration-change
// notification when they change) and F_EMERG_WRITE (§5.3.4: one byte written to emerg_wr is
// output at once, usable before the queues are set up).

/** §5.3.3 feature bits. */
export const VIRTIO_CONSOLE_F_SIZE = 0n;
export const VIRTIO_CONSOLE_F_MULTIPORT = 1n;
export const VIRTIO_CONSOLE_F_EMERG_WRITE = 2n;

/** Queue size of receiveq and transmitq (QueueNumMax). Linux fills receiveq with one page per buffer. */
export const CONSOLE_QUEUE_SIZE = 64;
/** Host input waiting for the guest to post receive buffers; more than this is dropped (as the UART does). */
export const CONSOLE_INPUT_LIMIT = 64 * 1024;
/**
 * Most bytes taken from one transmit buffer: a guest cannot make the host copy gigabytes per
 * notification; the rest of an oversized buffer is skipped (the driver sees the buffer used).
 */
export const CONSOLE_MAX_TX_BYTES = 64 * 1024;

const RECEIVEQ = 0;
const TRANSMITQ = 1;

// §5.3.4 struct virtio_console_config: le16 cols, le16 rows, le32 max_nr_ports, le32 emerg_wr.
const CFG_COLS = 0;
const CFG_ROWS = 2;
export const CFG_MAX_NR_PORTS = 4;
const CFG_EMERG_WR = 8;
export const CONSOLE_CONFIG_SIZE = 12;

export interface VirtioConsoleOptions {
  /** Receives what the guest writes (transmitq, emerg_wr); the array is the sink's to keep. */
  readonly output: (bytes: Uint8Array) => void;
  /**
   * Called after host input was delivered (an interrupt raised outside any MMIO access): gets an
   * idle hart going again.
   */
  readonly wake?: () => void;
  /** The console's initial size in character cells, for F_SIZE (0×0: unknown). */
  readonly size?: { readonly columns: number; readonly rows: number };
  /** Key in a snapshot (default `virtio-console`). */
  readonly id?: string;
}

/** The device's own state (the queues' state belongs to the transport). */
export interface VirtioConsoleState {
  version: 1;
  columns: number;
  rows: number;
  /** Host input not yet given to the guest. */
  input: number[];
}

/**
 * The virtio console device with one port. Host input ({@link receive}) waits in a bounded
 * queue until the driver posts receive buffers; transmit buffers go to `output` as soon as the
 * driver notifies. Neither direction throws to the host for anything the guest does: a bad
 * buffer sets DEVICE_NEEDS_RESET.
 */
export class VirtioConsole implements VirtioDevice, Snapshotable<VirtioConsoleState> {
  readonly type = VirtioDeviceId.console;
  readonly id: string;
  readonly features = (1n << VIRTIO_CONSOLE_F_SIZE) | (1n << VIRTIO_CONSOLE_F_EMERG_WRITE);
  readonly queueSizes = [CONSOLE_QUEUE_SIZE, CONSOLE_QUEUE_SIZE];
  readonly configSize = CONSOLE_CONFIG_SIZE;
  private active: VirtioActivation | undefined;
  private columns: number;
  private rows: number;
  /** Pending host input: chunks, the first one partly consumed up to `inputHead`. */
  private input: Uint8Array[] = [];
  private inputHead = 0;
  private inputBytes = 0;

  constructor(private readonly options: VirtioConsoleOptions) {
    this.id = options.id ?? 'virtio-console';
    this.columns = clampU16(options.size?.columns ?? 0);
    this.rows = clampU16(options.size?.rows ?? 0);
  }

  /** Bytes of host input not yet given to the guest. */
  get pendingInput(): number {
    return this.inputBytes;
  }

  /** Host input (keyboard, pipe) for the guest; beyond {@link CONSOLE_INPUT_LIMIT} pending bytes the rest is dropped. */
  receive(bytes: Uint8Array): void {
    const take = Math.min(bytes.length, CONSOLE_INPUT_LIMIT - this.inputBytes);
    if (take <= 0) return;
    this.input.push(bytes.slice(0, take));
    this.inputBytes += take;
    this.deliver();
  }

  /**
   * The host terminal changed size: §5.3.4 cols/rows, and with F_SIZE negotiated a
   * configuration-change notification (§5.3.6.2: the driver then reads the new size).
   */
  resize(columns: number, rows: number): void {
    const c = clampU16(columns);
    const r = clampU16(rows);
    if (c === this.columns && r === this.rows) return;
    this.columns = c;
    this.rows = r;
    if (this.active && this.negotiated(VIRTIO_CONSOLE_F_SIZE)) {
      this.active.interrupt.configChanged();
      this.options.wake?.();
    }
  }

  save(): VirtioConsoleState {
    const input: number[] = [];
    this.input.forEach((chunk, i) => input.push(...chunk.subarray(i === 0 ? this.inputHead : 0)));
    return { version: 1, columns: this.columns, rows: this.rows, input };
  }

  /**
   * Restores the size and pending input (checked like guest input). Call it after the
   * transport's restore, which resets and re-activates the device.
   */
  restore(state: VirtioConsoleState): void {
    const r = new StateReader(this.id, state, 1);
    const columns = r.int('columns', 0, 0xffff);
    const rows = r.int('rows', 0, 0xffff);
    const input = r.ints('input', 0, 0xff, CONSOLE_INPUT_LIMIT);
    r.done();
    this.columns = columns;
    this.rows = rows;
    this.input = input.length ? [Uint8Array.from(input)] : [];
    this.inputHead = 0;
    this.inputBytes = input.length;
    this.deliver();
  }

  readConfig(offset: number, width: 1 | 2 | 4): number {
    const bytes = new Uint8Array(CONSOLE_CONFIG_SIZE);
    const view = new DataView(bytes.buffer);
    view.setUint16(CFG_COLS, this.columns, true);
    view.setUint16(CFG_ROWS, this.rows, true);
    view.setUint32(CFG_MAX_NR_PORTS, 1, true); // only meaningful with MULTIPORT, which we do not offer
    // emerg_wr reads as 0.
    return readConfigField(bytes, offset, width);
  }

  /**
   * §5.3.4: emerg_wr is the only writable field; "the device outputs the low 8 bits" of what
   * is written there. Writes elsewhere are ignored (the fields are read-only).
   */
  writeConfig(offset: number, _width: 1 | 2 | 4, value: number): void {
    if (offset === CFG_EMERG_WR) this.options.output(new Uint8Array([value & 0xff]));
  }

  activate(activation: VirtioActivation): void {
    this.active = activation;
    // The driver reads the size on a configuration change only (Linux: config_work_handler), so
    // a size known before it started is announced once now (delivered after its probe).
    if (this.negotiated(VIRTIO_CONSOLE_F_SIZE) && (this.columns || this.rows)) activation.interrupt.configChanged();
    // Buffers the driver made available before DRIVER_OK (their notification reached no device).
    try {
      this.transmit();
    } catch (e) {
      if (!(e instanceof TypervisorError)) throw e;
      activation.interrupt.needsReset(e.message);
      return;
    }
    this.deliver();
  }

  /** §2.4: forgets the driver's queues; pending host input stays for the next driver. */
  reset(): void {
    this.active = undefined;
  }

  notify(queue: number): void {
    if (queue === RECEIVEQ) this.deliver();
    else if (queue === TRANSMITQ) this.transmit();
  }

  /** §5.3.6.1: the driver put bytes in transmitq. They go to the host, the buffers back used (0 bytes written). */
  private transmit(): void {
    const a = this.active;
    const q = a?.queues[TRANSMITQ];
    if (!a || !q) return;
    let returned = false;
    for (let chain = q.pop(); chain; chain = q.pop()) {
      if (chain.writable.length > 0) {
        a.interrupt.needsReset('virtio-console: a transmit buffer is device-writable');
        return;
      }
      const bytes = new Uint8Array(Math.min(chain.readableBytes, CONSOLE_MAX_TX_BYTES));
      chain.read(a.mem, 0, bytes);
      if (bytes.length) this.options.output(bytes);
      q.push(chain.head, 0);
      returned = true;
    }
    if (returned) a.interrupt.usedBuffer(q);
  }

  /**
   * §5.3.6.1: fills the driver's receive buffers with pending host input. Runs from host input
   * too (not only from a notification), so a malformed ring found here is reported as
   * DEVICE_NEEDS_RESET by the device itself rather than thrown.
   */
  private deliver(): void {
    const a = this.active;
    const q = a?.queues[RECEIVEQ];
    if (!a || !q || this.inputBytes === 0) return;
    let returned = false;
    try {
      while (this.inputBytes > 0) {
        const chain = q.pop();
        if (!chain) break;
        if (chain.readable.length > 0) {
          a.interrupt.needsReset('virtio-console: a receive buffer is device-readable');
          return;
        }
        let written = 0;
        while (this.inputBytes > 0 && written < chain.writableBytes) {
          const chunk = this.input[0]!;
          const n = chain.write(a.mem, written, chunk.subarray(this.inputHead));
          written += n;
          this.inputHead += n;
          this.inputBytes -= n;
          if (this.inputHead === chunk.length) {
            this.input.shift();
            this.inputHead = 0;
          }
        }
        q.push(chain.head, written);
        returned = true;
      }
    } catch (e) {
      if (!(e instanceof TypervisorError)) throw e;
      a.interrupt.needsReset(e.message);
      return;
    } finally {
      if (returned && this.active === a) a.interrupt.usedBuffer(q);
    }
    if (returned) this.options.wake?.();
  }

  private negotiated(bit: bigint): boolean {
    return ((this.active?.features ?? 0n) >> bit) & 1n ? true : false;
  }
}

function clampU16(n: number): number {
  return Number.isInteger(n) && n > 0 ? Math.min(n, 0xffff) : 0;
}
