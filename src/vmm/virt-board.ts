import { RamGuestMemory } from '../core/guest-memory.js';
import type { IrqLine } from '../core/irq-line.js';
import { VIRT_MAP } from '../board/memory-map.js';
import { MmioBus } from '../board/mmio-bus.js';
import { SbiServer } from '../board/sbi/index.js';
import { Clint, MtimeClock } from '../devices/clint/index.js';
import { GoldfishRtc } from '../devices/goldfish-rtc/index.js';
import { Plic } from '../devices/plic/index.js';
import { TestFinisher } from '../devices/test-finisher/index.js';
import { Uart16550 } from '../devices/uart16550/index.js';
import { VirtioMmioTransport } from '../devices/virtio/transport/index.js';
import { VirtioRng } from '../devices/virtio/rng/index.js';
import type { VirtioDevice } from '../devices/virtio/virtio-device.js';
import { VirtioBlk } from '../devices/virtio/blk/index.js';
import { Virtio9p } from '../devices/virtio/9p/virtio-9p.js';
import { VirtioConsole, VirtioPipe } from '../devices/virtio/console/index.js';
import { VirtioBalloon } from '../devices/virtio/balloon/index.js';
import { VirtioNet } from '../devices/virtio/net/index.js';
import { parseMac } from '../network/mac-address.js';
import type { HartFactory, MachineHart } from './machine-hart.js';
import { loadBoot, type BootState } from './boot-loader.js';
import { virtioSlotOf, type DeviceConfig, type MachineConfig } from './machine-config.js';
import { setHostTimer } from './event-loop.js';

/** What the board reports to the machine that owns it. */
export interface BoardEvents {
  /** Bytes the guest wrote to its console (UART or SBI debug console). */
  console(bytes: Uint8Array): void;
  /** The guest asked to end the VM with this exit status (finisher, SBI shutdown). */
  exit(code: number, reason: 'finisher' | 'poweroff'): void;
  /** The guest asked for a reset (finisher 0x7777, SBI reboot). */
  reset(): void;
  /** Something outside the CPU loop (an RTC alarm) raised an interrupt: wake an idle hart. */
  wake(): void;
}

/** One boot's worth of `virt` machine: rebuilt from the config on a guest-requested reset. */
export interface VirtBoard {
  readonly hart: MachineHart;
  readonly bus: MmioBus;
  readonly ram: RamGuestMemory;
  readonly uart: Uart16550;
  readonly clint: Clint;
  readonly plic: Plic;
  readonly rtc: GoldfishRtc;
  readonly finisher: TestFinisher;
  readonly clock: MtimeClock;
  readonly sbi: SbiServer;
  /** The virtio-mmio transports, in the order of the config's devices (slot 7 first). */
  readonly virtio: readonly VirtioMmioTransport[];
  /** The virtio-blk devices, in the order of the config's disks. */
  readonly disks: readonly VirtioBlk[];
  /** The virtio-9p devices (shared folders), in config order: closed when the board is done. */
  readonly shares: readonly Virtio9p[];
  /** The first virtio-console device, if the config has one (hvc0 in Linux). */
  readonly console?: VirtioConsole;
  /** The first virtio-balloon device, if the config has one. */
  readonly balloon?: VirtioBalloon;
  /** The virtio-net devices, in the order of the config's NICs (their `stats` count frames). */
  readonly nics: readonly VirtioNet[];
  readonly boot: BootState;
}

/**
 * A fresh device of a configured type. `wake` gets an idle hart going after an asynchronous
 * completion; `console` receives what a virtio-console transmits.
 */
function createVirtioDevice(config: DeviceConfig, wake: () => void, console: (bytes: Uint8Array) => void): VirtioDevice {
  switch (config.type) {
    case 'virtio-rng':
      return new VirtioRng();
    case 'virtio-console':
      return new VirtioConsole({ output: console, wake });
    case 'virtio-balloon':
      return new VirtioBalloon({
        wake,
        ...(config.targetBytes !== undefined ? { targetBytes: config.targetBytes } : {}),
        ...(config.deflateOnOom !== undefined ? { deflateOnOom: config.deflateOnOom } : {}),
      });
    case 'virtio-blk':
      return new VirtioBlk(config.backend, {
        wake,
        ...(config.readOnly !== undefined ? { readOnly: config.readOnly } : {}),
        ...(config.serial !== undefined ? { serial: config.serial } : {}),
      });
    case 'virtio-9p':
      return new Virtio9p(config.fs, { tag: config.tag, wake });
    case 'virtio-net':
      return new VirtioNet(config.backend, { mac: parseMac(config.mac), wake });
    case 'virtio-pipe':
      return new VirtioPipe(config.source, { name: config.name, wake });
  }
}

/**
 * Builds the `virt` board of DESIGN.md's memory map (src/board/memory-map.ts): one hart, RAM,
 * the test finisher/syscon, goldfish RTC, CLINT, PLIC and NS16550A UART, wired to the PLIC as
 * the generated device tree says, plus one virtio-mmio transport per configured device (slots
 * from 7 down, as QEMU: {@link virtioSlotOf}; slot i raises PLIC source 1 + i); then loads firmware, kernel, initrd and device tree and puts
 * the hart in its boot state (src/vmm/boot-loader.ts).
 */
export async function buildVirtBoard(
  config: MachineConfig,
  createHart: HartFactory,
  now: () => number,
  events: BoardEvents,
): Promise<VirtBoard> {
  const clock = new MtimeClock(now);
  const bus = new MmioBus();
  const hart = await createHart({
    ramBytes: config.memBytes,
    ramBase: VIRT_MAP.dram.base,
    bus,
    hartId: 0,
    clock: () => clock.now(),
  });
  const plic = new Plic([hart]);
  const line = (source: number): IrqLine => plic.irqLine(source);
  const uart = new Uart16550({ tx: (bytes) => events.console(bytes), irq: line(VIRT_MAP.uart0.irq) });
  const rtc = new GoldfishRtc({
    nowNs: () => BigInt(Date.now()) * 1_000_000n,
    irq: line(VIRT_MAP.rtc.irq),
    setTimer: (ms, fire) =>
      setHostTimer(ms, () => {
        fire();
        events.wake();
      }),
  });
  const clint = new Clint([hart], clock);
  clint.reset();
  const finisher = new TestFinisher({
    onExit: (code) => {
      events.exit(code, 'finisher');
      hart.requestStop();
    },
    onReset: () => {
      events.reset();
      hart.requestStop();
    },
  });
  bus.map('test', VIRT_MAP.test.base, finisher);
  bus.map('rtc', VIRT_MAP.rtc.base, rtc);
  bus.map('clint', VIRT_MAP.clint.base, clint);
  bus.map('plic', VIRT_MAP.plic.base, plic);
  bus.map('uart0', VIRT_MAP.uart0.base, uart);

  const ram = new RamGuestMemory(hart.ram, hart.ramBase, (gpa, length) => hart.invalidateCode(gpa, length));
  const disks: VirtioBlk[] = [];
  const shares: Virtio9p[] = [];
  let virtioConsole: VirtioConsole | undefined;
  let balloon: VirtioBalloon | undefined;
  const nics: VirtioNet[] = [];
  const virtio = (config.devices ?? []).map((device, i) => {
    const slot = virtioSlotOf(i);
    const model = createVirtioDevice(device, () => events.wake(), (bytes) => events.console(bytes));
    if (model instanceof VirtioBlk) disks.push(model);
    if (model instanceof Virtio9p) shares.push(model);
    if (model instanceof VirtioConsole) virtioConsole ??= model;
    if (model instanceof VirtioBalloon) balloon ??= model;
    if (model instanceof VirtioNet) nics.push(model);
    const transport = new VirtioMmioTransport(model, ram, line(VIRT_MAP.virtio.irq + slot), `virtio${slot}`);
    bus.map(`virtio${slot}`, VIRT_MAP.virtio.base + slot * VIRT_MAP.virtio.size, transport);
    return transport;
  });
  const sbi = new SbiServer([hart], {
    memory: ram,
    consoleWrite: (bytes) => events.console(bytes.slice()),
    consoleRead: (max) => uart.takeInput(max),
    shutdown: (failure) => events.exit(failure ? 1 : 0, 'poweroff'),
    reboot: () => events.reset(),
  });

  const boot = loadBoot(config, ram);
  hart.setX(10, BigInt(boot.args[0]));
  hart.setX(11, BigInt(boot.args[1]));
  hart.setX(12, BigInt(boot.args[2]));
  if (boot.mode === 'S') hart.enterSupervisor(BigInt(boot.pc));
  else hart.pc = BigInt(boot.pc);
  return {
    hart, bus, ram, uart, clint, plic, rtc, finisher, clock, sbi, virtio, disks, shares, nics, boot,
    ...(virtioConsole ? { console: virtioConsole } : {}),
    ...(balloon ? { balloon } : {}),
  };
}
