import type { IrqLine } from '../../core/irq-line.js';
import type { Snapshotable } from '../../core/snapshotable.js';
import { StateReader } from '../../core/state-reader.js';
import type { AccessWidth } from '../../cpu/hart-api.js';
import { low32, type MmioDevice } from '../../board/mmio-device.js';

// NS16550A register offsets (one byte each; DLAB = LCR bit 7 switches offsets 0 and 1 to the
// divisor latch). Behaviour follows the datasheet and, where it is silent, QEMU 7.2's
// hw/char/serial.c, checked against qemu-system-riscv64 (see uart16550.test.ts).
const RBR_THR_DLL = 0;
const IER_DLM = 1;
const IIR_FCR = 2;
const LCR = 3;
const MCR = 4;
const LSR = 5;
const MSR = 6;
const SCR = 7;

const LCR_DLAB = 0x80;
const IER_RDI = 0x01; // received data available (and character timeout)
const IER_THRI = 0x02; // transmitter holding register empty
const IER_RLSI = 0x04; // receiver line status
const IIR_NONE = 0x01;
const IIR_THRI = 0x02;
const IIR_RDI = 0x04;
const IIR_RLSI = 0x06;
const IIR_CTI = 0x0c;
const IIR_FIFO_ENABLED = 0xc0;
const FCR_ENABLE = 0x01;
const FCR_CLEAR_RX = 0x02;
const FCR_CLEAR_TX = 0x04;
const FCR_KEEP = 0xc9; // enable, DMA mode, trigger level: what the register remembers
const LSR_DR = 0x01;
const LSR_OE = 0x02;
const LSR_THRE_TEMT = 0x60; // transmission is instantaneous, so both are always set
const MCR_LOOP = 0x10;
const MCR_MASK = 0x1f;
const MCR_RESET = 0x08; // OUT2, as QEMU resets it
const MSR_IDLE = 0xb0; // DCD, DSR, CTS asserted: a host terminal without modem lines
const FIFO_SIZE = 16;
const TRIGGER_LEVELS = [1, 4, 8, 14] as const;
/** Host input waiting for room in the receive FIFO; more than this is dropped. */
export const HOST_QUEUE_LIMIT = 64 * 1024;

export interface Uart16550Options {
  /** Receives transmitted bytes. The UART reuses the array: the sink must copy what it keeps. */
  tx: (bytes: Uint8Array) => void;
  /** Interrupt output (to the PLIC); optional until the PLIC exists. */
  irq?: IrqLine;
  id?: string;
}

export interface Uart16550State {
  version: 1;
  ier: number;
  lcr: number;
  mcr: number;
  scr: number;
  dll: number;
  dlm: number;
  fcr: number;
  /** Last byte moved out of the receiver (RBR reads it again when no new byte came, FIFO off). */
  rbr: number;
  /** Receive FIFO (at most 1 entry with the FIFO off), oldest first. */
  rx: number[];
  overrun: boolean;
  thrPending: boolean;
  timeoutPending: boolean;
  rxActivity: boolean;
  /** Host input not yet in the receive FIFO. */
  hostQueue: number[];
}

/**
 * NS16550A UART: transmit goes straight to the host sink, received bytes wait in a 16-byte FIFO
 * (the host's surplus in a host queue, as QEMU's character backend holds back input while the
 * FIFO is full), interrupts per IER/IIR rules: line status, received data, character timeout,
 * THR empty. Modem status never changes (no modem lines), so its interrupt never fires.
 *
 * The character timeout needs time to pass: the board calls {@link tick} periodically (each CPU
 * slice); data that sat in the FIFO below the trigger level for a whole tick raises it.
 */
export class Uart16550 implements MmioDevice, Snapshotable<Uart16550State> {
  readonly size = 8;
  readonly id: string;
  private readonly tx: (bytes: Uint8Array) => void;
  private readonly irq: IrqLine | undefined;
  private readonly txByte = new Uint8Array(1);
  private s: Uart16550State = Uart16550.resetState();
  /** Bytes of s.hostQueue already moved into the receiver (dropped lazily to keep pump O(1)). */
  private hostHead = 0;

  constructor(options: Uart16550Options) {
    this.tx = options.tx;
    this.irq = options.irq;
    this.id = options.id ?? 'uart0';
  }

  private static resetState(): Uart16550State {
    return {
      version: 1,
      ier: 0,
      lcr: 0,
      mcr: MCR_RESET,
      scr: 0,
      dll: 0x0c,
      dlm: 0,
      fcr: 0,
      rbr: 0,
      rx: [],
      overrun: false,
      thrPending: false,
      timeoutPending: false,
      rxActivity: false,
      hostQueue: [],
    };
  }

  /** Bytes from the host (keyboard, pipe) for the guest to read. */
  receive(bytes: Uint8Array): void {
    const room = HOST_QUEUE_LIMIT - (this.s.hostQueue.length - this.hostHead);
    for (let i = 0; i < bytes.length && i < room; i++) this.s.hostQueue.push(bytes[i]!);
    this.pump();
    this.update();
  }

  /**
   * Takes up to `max` bytes of pending input out of the receiver, as if the guest had read them
   * from RBR: for firmware consoles (SBI getchar, DBCN read) that share the terminal.
   */
  takeInput(max: number): Uint8Array {
    const out: number[] = [];
    const s = this.s;
    while (out.length < max && s.rx.length > 0 && !(s.mcr & MCR_LOOP)) {
      out.push(s.rx.shift()!);
      this.pump();
    }
    this.update();
    return Uint8Array.from(out);
  }

  /** Advances the character-timeout clock by one period. */
  tick(): void {
    const s = this.s;
    if (s.fcr & FCR_ENABLE && s.rx.length > 0 && !s.rxActivity && !s.timeoutPending) {
      s.timeoutPending = true;
      this.update();
    }
    s.rxActivity = false;
  }

  read(offset: number, _width: AccessWidth): number {
    const s = this.s;
    switch (offset) {
      case RBR_THR_DLL:
        return s.lcr & LCR_DLAB ? s.dll : this.readRbr();
      case IER_DLM:
        return s.lcr & LCR_DLAB ? s.dlm : s.ier;
      case IIR_FCR: {
        const iir = this.iir();
        if ((iir & 0x0f) === IIR_THRI) {
          s.thrPending = false; // reading IIR acknowledges THRE
          this.update();
        }
        return iir;
      }
      case LCR:
        return s.lcr;
      case MCR:
        return s.mcr;
      case LSR: {
        const lsr = (s.rx.length > 0 ? LSR_DR : 0) | (s.overrun ? LSR_OE : 0) | LSR_THRE_TEMT;
        if (s.overrun) {
          s.overrun = false;
          this.update();
        }
        return lsr;
      }
      case MSR:
        // In loopback the modem outputs feed the inputs: DTR→DSR, RTS→CTS, OUT1→RI, OUT2→DCD.
        return s.mcr & MCR_LOOP
          ? ((s.mcr & 0x0c) << 4) | ((s.mcr & 0x02) << 3) | ((s.mcr & 0x01) << 5)
          : MSR_IDLE;
      case SCR:
        return s.scr;
      default:
        return 0;
    }
  }

  write(offset: number, _width: AccessWidth, value: number | bigint): void {
    const s = this.s;
    const v = low32(value) & 0xff; // wider accesses reach the register with their low byte
    switch (offset) {
      case RBR_THR_DLL:
        if (s.lcr & LCR_DLAB) s.dll = v;
        else this.transmit(v);
        return;
      case IER_DLM:
        if (s.lcr & LCR_DLAB) {
          s.dlm = v;
          return;
        }
        this.writeIer(v & 0x0f);
        return;
      case IIR_FCR:
        this.writeFcr(v);
        return;
      case LCR:
        s.lcr = v;
        return;
      case MCR: {
        s.mcr = v & MCR_MASK;
        this.pump(); // leaving loopback reconnects the host
        this.update();
        return;
      }
      case SCR:
        s.scr = v;
        return;
      default:
        return; // LSR and MSR are read-only
    }
  }

  save(): Uart16550State {
    const s = this.s;
    return { ...s, rx: [...s.rx], hostQueue: s.hostQueue.slice(this.hostHead) };
  }

  restore(state: Uart16550State): void {
    const r = new StateReader(this.id, state, 1);
    const next: Uart16550State = {
      version: 1,
      ier: r.int('ier', 0, 0x0f),
      lcr: r.int('lcr', 0, 0xff),
      mcr: r.int('mcr', 0, MCR_MASK),
      scr: r.int('scr', 0, 0xff),
      dll: r.int('dll', 0, 0xff),
      dlm: r.int('dlm', 0, 0xff),
      fcr: r.int('fcr', 0, 0xff),
      rbr: r.int('rbr', 0, 0xff),
      rx: r.ints('rx', 0, 0xff, FIFO_SIZE),
      overrun: r.bool('overrun'),
      thrPending: r.bool('thrPending'),
      timeoutPending: r.bool('timeoutPending'),
      rxActivity: r.bool('rxActivity'),
      hostQueue: r.ints('hostQueue', 0, 0xff, HOST_QUEUE_LIMIT),
    };
    r.done();
    r.check((next.fcr & ~FCR_KEEP) === 0, `field 'fcr' has bits outside ${FCR_KEEP.toString(16)}`);
    r.check(next.rx.length <= this.capacity(next.fcr), "field 'rx' holds more bytes than the receiver can");
    this.s = next;
    this.hostHead = 0;
    this.update();
  }

  /** IIR value: the highest-priority pending interrupt, plus the FIFO-enabled bits. */
  private iir(): number {
    const s = this.s;
    let id = IIR_NONE;
    if (s.ier & IER_RLSI && s.overrun) id = IIR_RLSI;
    else if (s.ier & IER_RDI && s.timeoutPending) id = IIR_CTI;
    else if (s.ier & IER_RDI && s.rx.length > 0 && (!(s.fcr & FCR_ENABLE) || s.rx.length >= TRIGGER_LEVELS[s.fcr >> 6]!)) {
      id = IIR_RDI;
    } else if (s.ier & IER_THRI && s.thrPending) id = IIR_THRI;
    return id | (s.fcr & FCR_ENABLE ? IIR_FIFO_ENABLED : 0);
  }

  private update(): void {
    this.irq?.set((this.iir() & 0x0f) !== IIR_NONE);
  }

  private readRbr(): number {
    const s = this.s;
    const next = s.rx.shift();
    if (next !== undefined) {
      s.rbr = next;
      s.rxActivity = true;
    }
    s.timeoutPending = false;
    this.pump();
    this.update();
    // With the FIFO on, reading an empty receiver gives 0; with it off, the last byte again.
    return next ?? (s.fcr & FCR_ENABLE ? 0 : s.rbr);
  }

  private transmit(byte: number): void {
    const s = this.s;
    if (s.mcr & MCR_LOOP) this.receiveByte(byte);
    else {
      this.txByte[0] = byte;
      this.tx(this.txByte);
    }
    s.thrPending = true; // the byte left at once, so THR is empty again
    this.update();
  }

  private writeIer(ier: number): void {
    const s = this.s;
    const changed = s.ier ^ ier;
    s.ier = ier;
    // Enabling THRI while THR is empty raises THRE again, even if IIR acknowledged it before
    // (QEMU does so; drivers such as Windows' rely on it).
    if (changed & IER_THRI && ier & IER_THRI) s.thrPending = true;
    this.update();
  }

  private writeFcr(fcr: number): void {
    const s = this.s;
    // Switching the FIFOs on or off empties them.
    if ((fcr ^ s.fcr) & FCR_ENABLE) fcr |= FCR_CLEAR_RX | FCR_CLEAR_TX;
    if (fcr & FCR_CLEAR_RX) {
      s.rx = [];
      s.timeoutPending = false;
    }
    if (fcr & FCR_CLEAR_TX) s.thrPending = true;
    s.fcr = fcr & FCR_KEEP;
    this.pump();
    this.update();
  }

  /** A byte arriving at the receiver (loopback): a full receiver overruns. */
  private receiveByte(byte: number): void {
    const s = this.s;
    s.rxActivity = true;
    if (s.rx.length < this.capacity(s.fcr)) {
      s.rx.push(byte);
      return;
    }
    s.overrun = true;
    if (!(s.fcr & FCR_ENABLE)) s.rx[0] = byte; // the holding register is overwritten
  }

  /** Moves host input into the receiver while it has room (never while looped back). */
  private pump(): void {
    const s = this.s;
    if (s.mcr & MCR_LOOP) return;
    const q = s.hostQueue;
    const capacity = this.capacity(s.fcr);
    if (this.hostHead === q.length || s.rx.length >= capacity) return;
    while (s.rx.length < capacity && this.hostHead < q.length) s.rx.push(q[this.hostHead++]!);
    s.rxActivity = true;
    if (this.hostHead === q.length) {
      s.hostQueue = [];
      this.hostHead = 0;
    } else if (this.hostHead >= 4096) {
      s.hostQueue = q.slice(this.hostHead);
      this.hostHead = 0;
    }
  }

  private capacity(fcr: number): number {
    return fcr & FCR_ENABLE ? FIFO_SIZE : 1;
  }
}
