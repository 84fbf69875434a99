import { describe, expect, it } from 'vitest';
import { TypervisorError } from '../../core/errors.js';
import { HOST_QUEUE_LIMIT, Uart16550 } from './uart16550.js';

const RBR = 0, IER = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7;

const setup = () => {
  const out: number[] = [];
  const irq: boolean[] = [];
  const uart = new Uart16550({ tx: (b) => out.push(...b), irq: { set: (l) => irq.push(l) } });
  const r = (o: number) => uart.read(o, 1);
  const w = (o: number, v: number) => uart.write(o, 1, v);
  return { uart, out, irq, r, w, level: () => irq[irq.length - 1] ?? false };
};

// The expected values below are what qemu-system-riscv64 7.2 (-machine virt) returned for the
// same access sequences, recorded with a bare-metal probe program.
describe('Uart16550 compared with QEMU 7.2', () => {
  it('has QEMU reset values', () => {
    const { r } = setup();
    expect([RBR, IER, IIR, LCR, MCR, LSR, MSR, SCR].map(r)).toEqual([0, 0, 0x01, 0, 0x08, 0x60, 0xb0, 0]);
  });

  it('transmits the low byte of wider writes', () => {
    const { uart, out } = setup();
    uart.write(0, 4, 0x4241);
    uart.write(0, 8, 0x4443n);
    expect(String.fromCharCode(...out)).toBe('AC');
    expect(uart.read(4, 4)).toBe(0x08); // a wide read returns the one register
  });

  it('raises and acknowledges THRE like QEMU', () => {
    const { r, w } = setup();
    w(IER, 0);
    expect(r(IIR)).toBe(0x01);
    w(IER, 2);
    expect(r(IIR)).toBe(0x02);
    expect(r(IIR)).toBe(0x01); // reading IIR acknowledged it
    w(IER, 0);
    w(IER, 2);
    expect(r(IIR)).toBe(0x02); // re-enabling raises it again
    w(IER, 2);
    expect(r(IIR)).toBe(0x01); // writing the same IER does not
    w(RBR, 0x78);
    expect(r(IIR)).toBe(0x02); // the transmitted byte left THR empty
    expect(r(IIR)).toBe(0x01);
    w(IER, 0xff);
    expect(r(IER)).toBe(0x0f);
  });

  it('receives in FIFO loopback mode like QEMU', () => {
    const { r, w, out } = setup();
    w(FCR, 0x07);
    w(IER, 0x01);
    w(MCR, 0x10);
    expect(r(LSR)).toBe(0x60);
    expect(r(IIR)).toBe(0xc1);
    w(RBR, 0x61);
    expect(r(LSR)).toBe(0x61);
    expect(r(IIR)).toBe(0xc4);
    w(RBR, 0x62);
    w(RBR, 0x63);
    expect([r(RBR), r(RBR), r(LSR), r(RBR), r(LSR), r(IIR), r(RBR)]).toEqual([0x61, 0x62, 0x61, 0x63, 0x60, 0xc1, 0]);
    w(FCR, 0xc1); // trigger level 14
    w(RBR, 0x71);
    expect(r(IIR)).toBe(0xc1); // below the trigger level: no interrupt yet
    expect(r(RBR)).toBe(0x71);
    for (let i = 0; i < 20; i++) w(RBR, 0x30 + i);
    expect(r(LSR)).toBe(0x63); // overrun
    expect(r(LSR)).toBe(0x61); // cleared by reading LSR
    const got: number[] = [];
    while (r(LSR) & 1) got.push(r(RBR));
    expect(got).toEqual(Array.from({ length: 16 }, (_, i) => 0x30 + i));
    expect(out).toEqual([]); // loopback sends nothing to the host
  });

  it('overruns the holding register with the FIFO off like QEMU', () => {
    const { r, w } = setup();
    w(MCR, 0x10);
    w(FCR, 0x00);
    w(IER, 0x05);
    w(RBR, 0x41);
    w(RBR, 0x42);
    expect(r(IIR)).toBe(0x06); // receiver line status outranks data
    expect(r(LSR)).toBe(0x63);
    expect(r(IIR)).toBe(0x04);
    expect(r(LSR)).toBe(0x61);
    expect(r(RBR)).toBe(0x42);
    expect(r(RBR)).toBe(0x42); // the last byte again
    expect(r(LSR)).toBe(0x60);
  });

  it('loops the modem lines back like QEMU', () => {
    const { r, w } = setup();
    w(MCR, 0x1f);
    expect(r(MSR)).toBe(0xf0);
    expect(r(MCR)).toBe(0x1f);
    w(MCR, 0x11);
    expect(r(MSR)).toBe(0x20);
    w(MCR, 0xff);
    expect(r(MCR)).toBe(0x1f);
    w(MCR, 0x08);
    expect(r(MSR)).toBe(0xb0);
  });

  it('has a divisor latch behind DLAB', () => {
    const { r, w } = setup();
    w(LCR, 0x80);
    expect([r(RBR), r(IER), r(IIR)]).toEqual([0x0c, 0x00, 0x01]);
    w(IER, 0x12);
    w(RBR, 0x34);
    expect([r(RBR), r(IER)]).toEqual([0x34, 0x12]);
    w(LCR, 0x03);
    expect([r(IER), r(LCR)]).toEqual([0, 3]);
    w(LCR, 0xff);
    expect(r(LCR)).toBe(0xff);
  });

  it('shows the FIFO bits in IIR and ignores writes to LSR and MSR', () => {
    const { r, w } = setup();
    w(FCR, 0x01);
    expect(r(IIR)).toBe(0xc1);
    w(FCR, 0x41);
    expect(r(IIR)).toBe(0xc1);
    w(LSR, 0);
    w(MSR, 0);
    expect([r(LSR), r(MSR)]).toEqual([0x60, 0xb0]);
    w(SCR, 0xa5);
    expect(r(SCR)).toBe(0xa5);
  });
});

describe('Uart16550 host side', () => {
  it('feeds host input through the receiver as it drains, without overrun', () => {
    const { uart, r, w } = setup();
    w(FCR, 0x01);
    uart.receive(new TextEncoder().encode('abcdefghijklmnopqrstuvwxyz'));
    let text = '';
    while (r(LSR) & 1) text += String.fromCharCode(r(RBR));
    expect(text).toBe('abcdefghijklmnopqrstuvwxyz');
    expect(r(LSR)).toBe(0x60);
  });

  it('delivers host input one byte at a time with the FIFO off', () => {
    const { uart, r } = setup();
    uart.receive(Uint8Array.of(1, 2, 3));
    expect([r(RBR), r(RBR), r(LSR), r(RBR), r(LSR)]).toEqual([1, 2, 0x61, 3, 0x60]);
  });

  it('holds host input back while looped back', () => {
    const { uart, r, w } = setup();
    w(MCR, 0x10);
    uart.receive(Uint8Array.of(9));
    expect(r(LSR)).toBe(0x60);
    w(MCR, 0x00);
    expect(r(LSR)).toBe(0x61);
    expect(r(RBR)).toBe(9);
  });

  it('drives the interrupt line', () => {
    const { uart, w, r, level } = setup();
    w(IER, 0x01);
    expect(level()).toBe(false);
    uart.receive(Uint8Array.of(1));
    expect(level()).toBe(true);
    r(RBR);
    expect(level()).toBe(false);
    w(IER, 0x02);
    expect(level()).toBe(true);
    r(IIR);
    expect(level()).toBe(false);
  });

  it('raises the character timeout after a quiet tick below the trigger level', () => {
    const { uart, r, w } = setup();
    w(FCR, 0xc1); // FIFO on, trigger 14
    w(IER, 0x01);
    uart.receive(Uint8Array.of(1, 2));
    expect(r(IIR)).toBe(0xc1);
    uart.tick(); // the bytes just arrived
    expect(r(IIR)).toBe(0xc1);
    uart.tick(); // a whole quiet period
    expect(r(IIR)).toBe(0xcc);
    expect(r(RBR)).toBe(1); // reading clears it
    expect(r(IIR)).toBe(0xc1);
    uart.tick();
    uart.tick();
    expect(r(IIR)).toBe(0xcc);
  });

  it('drops host input beyond its queue limit', () => {
    const { uart } = setup();
    uart.receive(new Uint8Array(HOST_QUEUE_LIMIT + 10));
    expect(uart.save().hostQueue.length + uart.save().rx.length).toBe(HOST_QUEUE_LIMIT);
  });

  it('saves and restores its whole state, validated strictly', () => {
    const a = setup();
    a.w(FCR, 0x07);
    a.w(IER, 0x05);
    a.w(SCR, 0x5a);
    a.uart.receive(new TextEncoder().encode('hello, world, and more'));
    a.r(RBR);
    const saved = a.uart.save();
    const b = setup();
    b.uart.restore(JSON.parse(JSON.stringify(saved)));
    expect(b.uart.save()).toEqual(saved);
    let text = '';
    while (b.r(LSR) & 1) text += String.fromCharCode(b.r(RBR));
    expect(text).toBe('ello, world, and more');
    const bad = (patch: object) => () => b.uart.restore({ ...saved, ...patch });
    expect(bad({ ier: 0x10 })).toThrow(TypervisorError);
    expect(bad({ fcr: 0x02 })).toThrow(/fcr/);
    expect(bad({ fcr: 0, rx: [1, 2] })).toThrow(/rx/);
    expect(bad({ rx: new Array(17).fill(0) })).toThrow(TypervisorError);
    expect(bad({ version: 2 })).toThrow(TypervisorError);
    expect(bad({ extra: 1 })).toThrow(TypervisorError);
    expect(() => b.uart.restore(null as never)).toThrow(TypervisorError);
  });
});
