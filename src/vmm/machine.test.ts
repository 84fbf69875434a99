import { describe, expect, it } from 'vitest';
import { FakeHart } from '../../tests/helpers/fake-hart.js';
import { makeElf } from '../../tests/helpers/elf-image.js';
import { TypervisorError } from '../core/errors.js';
import { Irq, RunExit } from '../cpu/hart-api.js';
import { Machine, type MachineOptions } from './machine.js';
import type { MachineConfig } from './machine-config.js';

const RAM = 0x8000_0000;
const MEM = 16 * 2 ** 20;
const TEST = 0x10_0000;
const CLINT = 0x200_0000;

const config = (image = makeElf({ entry: RAM + 0x10, segments: [{ paddr: RAM, data: Uint8Array.of(1, 2, 3) }] })): MachineConfig => ({
  memBytes: MEM,
  bios: 'none',
  kernel: { name: 'prog.elf', bytes: image },
});

/** A machine whose hart runs `script` per slice; collects console output. */
const boot = async (script: (h: FakeHart, slice: number) => RunExit, options: Partial<MachineOptions> & { now?: () => number } = {}) => {
  const harts: FakeHart[] = [];
  const output: string[] = [];
  const decoder = new TextDecoder();
  let slice = 0;
  const machine = await Machine.create(
    config(),
    { console: (b) => output.push(decoder.decode(b)), ...(options.now ? { now: options.now } : {}) },
    {
      ...options,
      createHart: async (o) => {
        const h = new FakeHart(o, (hart) => script(hart, slice++));
        harts.push(h);
        return h;
      },
    },
  );
  return { machine, harts, output };
};

describe('Machine', () => {
  it('loads the kernel and sets up the boot registers', async () => {
    const { machine, harts } = await boot(() => RunExit.Budget);
    const h = harts[0]!;
    expect(h.options.ramBytes).toBe(MEM);
    expect([...h.ram.subarray(0, 4)]).toEqual([1, 2, 3, 0]);
    expect(h.pc).toBe(BigInt(RAM + 0x10));
    expect(machine.entry).toBe(RAM + 0x10);
    expect(h.x[10]).toBe(0n); // a0: hart id
    // a1: the device tree, 2 MiB-aligned near the end of RAM as QEMU places it
    const fdt = Number(h.x[11]);
    expect(fdt % (2 << 20)).toBe(0);
    expect(fdt).toBeGreaterThan(RAM + MEM / 2);
    const dv = new DataView(h.ram.buffer, fdt - RAM);
    expect(dv.getUint32(0)).toBe(0xd00dfeed);
    expect(machine.devices.boot.fdt).toEqual({ address: fdt, size: dv.getUint32(4) });
    expect(h.supervisorEntry).toBeUndefined(); // --bios none: M-mode
    expect(h.mtimecmp).toBe(0n); // the CLINT's reset value on QEMU (the fake starts at all ones)
  });

  it('runs until the finisher passes, flushing console output once per run quantum', async () => {
    const { machine, output, harts } = await boot((h, slice) => {
      h.print(`slice ${slice}\n`);
      if (slice === 2) h.store(TEST, 4, 0x5555);
      return RunExit.Budget;
    });
    machine.start();
    await expect(machine.exited).resolves.toEqual({ reason: 'finisher', code: 0 });
    // Slices run back to back within a quantum, so output arrives in batches of whole slices.
    expect(output.join('')).toBe('slice 0\nslice 1\nslice 2\n');
    expect(output.length).toBeLessThanOrEqual(3);
    expect(harts[0]!.runs).toBe(3);
  });

  it('reports the failure code', async () => {
    const { machine } = await boot((h) => {
      h.store(TEST, 4, (42 << 16) | 0x3333);
      return RunExit.Budget;
    });
    machine.start();
    await expect(machine.exited).resolves.toEqual({ reason: 'finisher', code: 42 });
  });

  it('maps the devices where QEMU virt has them and faults elsewhere', async () => {
    let seen: unknown[] = [];
    const { machine } = await boot((h) => {
      seen = [
        h.load(0x1000_0005, 1), // UART LSR
        h.load(0x1000_0008, 1), // past the UART's registers
        h.load(CLINT + 0xbff8, 8),
        h.load(CLINT, 1), // msip is 32-bit only
        h.load(CLINT + 0xc000, 4),
        h.load(TEST, 4),
        h.load(TEST, 2),
        h.load(TEST, 1),
        h.load(0x0, 4),
        h.load(0x0c00_0000 + 4 * 10, 4), // PLIC priority of the UART's source 10
        h.load(0x0c00_0000, 8), // the PLIC decodes 32-bit accesses only
        h.load(0x0010_1000, 4) !== undefined, // goldfish RTC TIME_LOW
        h.load(0x0010_1000 + 0x24, 4), // past the RTC's registers
      ];
      h.store(CLINT, 4, 1);
      h.store(TEST, 4, 0x5555);
      return RunExit.Budget;
    });
    machine.start();
    await machine.exited;
    expect(seen).toEqual([0x60, undefined, expect.any(BigInt), undefined, undefined, 0, 0, undefined, undefined, 0, undefined, true, undefined]);
  });

  it('drives MSIP through the CLINT', async () => {
    const { machine, harts } = await boot((h) => {
      h.store(CLINT, 4, 1);
      h.store(TEST, 4, 0x5555);
      return RunExit.Budget;
    });
    machine.start();
    await machine.exited;
    expect(harts[0]!.irqLevels).toBe(Irq.MSIP);
  });

  it('sleeps in WFI until the timer deadline', async () => {
    let ms = 0;
    const wakes: number[] = [];
    const started = performance.now();
    const { machine } = await boot(
      (h, slice) => {
        wakes.push(performance.now() - started);
        if (slice === 0) {
          h.deadline = 200_000; // 20 ms of 10 MHz ticks
          return RunExit.WaitForInterrupt;
        }
        h.store(TEST, 4, 0x5555);
        return RunExit.Budget;
      },
      { now: () => ms },
    );
    machine.start();
    ms = 0;
    await machine.exited;
    expect(wakes.length).toBe(2);
    expect(wakes[1]! - wakes[0]!).toBeGreaterThanOrEqual(18);
  });

  it('does not spin when the hart waits past a deadline it cannot take (masked timer)', async () => {
    const { machine, harts } = await boot((h) => {
      h.deadline = 0; // mtimecmp 0: MTIP pending but not enabled, so WFI keeps waiting
      return RunExit.WaitForInterrupt;
    });
    machine.start();
    await new Promise((r) => setTimeout(r, 100));
    machine.quit();
    await machine.exited;
    expect(harts[0]!.runs).toBeLessThanOrEqual(3);
  });

  it('wakes from WFI when console input arrives, and delivers it to the UART', async () => {
    const got: number[] = [];
    const { machine } = await boot((h, slice) => {
      if (slice === 0) return RunExit.WaitForInterrupt; // nothing armed: would sleep a second
      while ((h.load(0x1000_0005, 1) as number) & 1) got.push(h.load(0x1000_0000, 1) as number);
      h.store(TEST, 4, 0x5555);
      return RunExit.Budget;
    });
    machine.start();
    const t0 = performance.now();
    setTimeout(() => machine.consoleInput(Uint8Array.of(0x68, 0x69)), 5);
    await machine.exited;
    expect(performance.now() - t0).toBeLessThan(900); // without the wake-up the idle hart would sleep 1000 ms
    expect(got).toEqual([0x68, 0x69]);
  });

  it('quits from the host, even while the hart waits', async () => {
    const { machine } = await boot(() => RunExit.WaitForInterrupt);
    machine.start();
    setTimeout(() => machine.quit(3), 5);
    await expect(machine.exited).resolves.toEqual({ reason: 'quit', code: 3 });
  });

  it('quits before it was started', async () => {
    const { machine } = await boot(() => RunExit.Budget);
    machine.quit();
    await expect(machine.exited).resolves.toEqual({ reason: 'quit', code: 0 });
  });

  it('reboots on a finisher reset: fresh hart, kernel reloaded', async () => {
    const { machine, harts } = await boot((h, slice) => {
      if (slice === 0) {
        h.ram[0] = 0xff;
        h.store(TEST, 4, 0x7777);
      } else h.store(TEST, 4, 0x5555);
      return RunExit.Budget;
    });
    machine.start();
    await expect(machine.exited).resolves.toEqual({ reason: 'finisher', code: 0 });
    expect(harts.length).toBe(2);
    expect(harts[1]!.ram[0]).toBe(1);
    expect(harts[1]!.pc).toBe(BigInt(RAM + 0x10));
  });

  it('rejects exited when the hart fails', async () => {
    const { machine } = await boot(() => {
      throw new Error('engine bug');
    });
    machine.start();
    await expect(machine.exited).rejects.toThrow('engine bug');
  });

  it('yields to the event loop between slices', async () => {
    let timerFired = false;
    const { machine } = await boot((h, slice) => {
      if (slice === 0) setTimeout(() => (timerFired = true), 0);
      if (timerFired) h.store(TEST, 4, 0x5555);
      return RunExit.Budget;
    });
    machine.start();
    await machine.exited;
    expect(timerFired).toBe(true);
  });

  it('refuses a bad kernel with a TypervisorError', async () => {
    const create = Machine.create(config(new Uint8Array(10)), { console: () => {} }, { createHart: async (o) => new FakeHart(o, () => RunExit.Budget) });
    await expect(create).rejects.toThrow(TypervisorError);
    await expect(create).rejects.toThrow(/prog\.elf: not a kernel: neither an ELF file nor a RISC-V Linux Image/);
  });
});

describe('Machine with a virtio-console and a balloon', () => {
  const create = (extra: Partial<MachineConfig>) =>
    Machine.create({ ...config(), ...extra }, { console: () => {} }, { createHart: async (o) => new FakeHart(o, () => RunExit.Budget) });

  it('sends console input to hvc0 when the config chose it, else to the UART', async () => {
    const hvc = await create({ devices: [{ type: 'virtio-console' }], console: 'hvc0' });
    hvc.consoleInput(Uint8Array.of(1, 2, 3));
    expect(hvc.devices.console!.pendingInput).toBe(3);
    expect(hvc.devices.uart.takeInput(10)).toEqual(new Uint8Array());
    const tty = await create({ devices: [{ type: 'virtio-console' }] });
    tty.consoleInput(Uint8Array.of(1, 2, 3));
    expect(tty.devices.console!.pendingInput).toBe(0);
    expect(tty.devices.uart.takeInput(10)).toEqual(Uint8Array.of(1, 2, 3));
  });

  it('gives the terminal size to the virtio-console (config space cols/rows)', async () => {
    const m = await create({ devices: [{ type: 'virtio-console' }], console: 'hvc0' });
    m.resizeConsole(120, 40);
    expect([m.devices.console!.readConfig(0, 2), m.devices.console!.readConfig(2, 2)]).toEqual([120, 40]);
  });

  it('exposes the balloon, with the configured target, only when there is one', async () => {
    expect((await create({})).balloon).toBeUndefined();
    const m = await create({ devices: [{ type: 'virtio-balloon', targetBytes: 8 << 20 }] });
    expect([m.balloon!.targetBytes, m.balloon!.actualBytes, m.balloon!.stats()]).toEqual([8 << 20, 0, undefined]);
  });
});
