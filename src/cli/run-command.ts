import type { Command } from 'commander';
import { Option } from 'commander';
import { TypervisorError } from '../core/errors.js';
import { attachConsoleInput } from '../host/console-input.js';
import { streamPipeSource } from '../host/stream-pipe-source.js';
import { ConsoleOutput } from '../host/console-output.js';
import { defaultGuestConfig } from '../host/default-guest-config.js';
import { readGuestFile } from '../host/guest-file.js';
import { closeDisks, openDisks, parseDiskSpec } from '../host/disk-image.js';
import { openShares, parseShareSpec } from '../host/share-option.js';
import { Machine, type MachineOptions } from '../vmm/machine.js';
import { CONSOLE_KINDS, DEVICE_TYPES, disksOf, nicsOf, parseMemorySize, validateBios, validateMachineConfig, validateMemBytes, type DeviceConfig, type MachineConfig } from '../vmm/machine-config.js';
import { devicesFromFlags, type DeviceFlags } from './device-flags.js';
import { checkDistinctMacs, closeNets, dhcpInterfaces, openNets, parseNetSpec } from '../host/net-spec.js';
import { VIRTIO_SLOTS } from '../board/memory-map.js';
import type { CliStreams } from './cli-streams.js';

/** Options `run` and `dtb` share: what machine to build. */
export interface MachineFlags extends DeviceFlags {
  bios: string;
  kernel?: string;
  initrd?: string;
  append?: string;
  mem?: string;
  /** `--device TYPE`, repeatable. */
  device?: string[];
  /** `--disk PATH[,format=…][,readonly]`, repeatable. */
  disk?: string[];
  /** `--share HOSTDIR[,tag=T][,readonly]`, repeatable. */
  share?: string[];
  /** `--net user[,hostfwd=…]` / `--net socket:PATH[,mac=…]`, repeatable. */
  net?: string[];
  /** `run -i`: standard input goes to the command through a virtio-pipe port. */
  stdin?: boolean;
}

/** The name of the port that carries `run -i`'s standard input (the default guest's /init looks for it). */
export const STDIN_PORT_NAME = 'typervisor.stdin';

/** Adds the machine-describing options to a command. */
export function addMachineOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--bios <firmware>', 'firmware: `builtin` (the VMM serves SBI; default), `none` (bare metal, M-mode) or a file such as OpenSBI\'s fw_dynamic.bin').default('builtin'),
    )
    .option('--kernel <path>', 'kernel: a RISC-V Linux Image (also gzip/EFI-zboot compressed) or ELF; default: the Debian guest')
    .option('--initrd <path>', 'initial ramdisk (cpio) for the kernel')
    .option('--append <args>', 'kernel command line')
    .option('--mem <size>', 'guest RAM, e.g. 512M or 2G (16M to 3.5G; default 512M, 128M with --bios none)')
    .option('--device <type>', `add a virtio device (repeatable, up to 8): ${DEVICE_TYPES.join(', ')}`, (type: string, all: string[]) => [...all, type], [] as string[])
    .option(
      '--disk <spec>',
      'attach a disk image as virtio-blk (repeatable; /dev/vda, vdb, … in order): PATH[,format=qcow2|raw|vpc|vmdk|vdi][,readonly][,serial=ID] (vmdk, vdi: readonly only); the format is detected when omitted',
      (spec: string, all: string[]) => [...all, spec],
      [] as string[],
    )
    .option(
      '--share <spec>',
      'share a host directory read-write over virtio-9p (repeatable): HOSTDIR[,tag=TAG][,readonly]; tags default to share0, share1, … in order; in the guest: mount -t 9p -o trans=virtio,version=9p2000.L TAG /mnt',
      (spec: string, all: string[]) => [...all, spec],
      [] as string[],
    )
    .addOption(
      new Option('--console <name>', 'the guest console the terminal is connected to: ttyS0 (the UART) or hvc0 (adds a virtio-console)').choices(CONSOLE_KINDS).default('ttyS0'),
    )
    .option('--balloon <size>', 'add a virtio-balloon asking the guest to give back SIZE of its RAM from the start, e.g. 128M (0 = none yet)')
    .option(
      '--net <spec>',
      'attach a virtio-net NIC (repeatable; eth0, eth1, … in order): user[,hostfwd=tcp::HOSTPORT-:GUESTPORT]…[,dns=ADDR]… is user-mode networking through passt (the default guest gets it by DHCP; dns= names its resolver), socket:PATH connects to a QEMU `-netdev stream,server=on,addr.type=unix,addr.path=PATH`, socket:listen:PATH listens there; [,mac=52:54:00:12:34:56] (default: …:56 + NIC index)',
      (spec: string, all: string[]) => [...all, spec],
      [] as string[],
    );
}

/**
 * Turns command-line flags into a machine configuration, reading the files they name (and
 * fetching the default guest when no kernel is given). Cheap checks come first, so a bad flag
 * is reported before any file is read or fetched.
 */
export async function machineConfigFromFlags(opts: MachineFlags, command: string[], streams: CliStreams): Promise<MachineConfig> {
  const word = ['builtin', 'default', 'none'].includes(opts.bios);
  const biosWord = word ? validateBios(opts.bios) : undefined;
  const memBytes = opts.mem !== undefined ? validateMemBytes(parseMemorySize(opts.mem)) : biosWord === 'none' ? 128 << 20 : 512 << 20;
  const { devices, console: consoleKind } = devicesFromFlags(opts, memBytes);
  const diskSpecs = (opts.disk ?? []).map(parseDiskSpec);
  const shareSpecs = (opts.share ?? []).map(parseShareSpec);
  const netSpecs = (opts.net ?? []).map((text, i) => parseNetSpec(text, i));
  checkDistinctMacs(netSpecs);
  if (opts.stdin && command.length === 0) {
    throw new TypervisorError('-i gives standard input to a command, and none was given', { hint: 'e.g. echo hi | typervisor run -i -- cat' });
  }
  if (opts.stdin && opts.kernel !== undefined) {
    throw new TypervisorError('-i works with the default guest only (its /init connects the port)', { hint: 'drop --kernel, or read /dev/vport*p0 named typervisor.stdin in your own guest' });
  }
  const stdinPipe: DeviceConfig[] = opts.stdin ? [{ type: 'virtio-pipe', source: streamPipeSource(streams.stdin), name: STDIN_PORT_NAME }] : [];
  const count = devices.length + diskSpecs.length + shareSpecs.length + netSpecs.length + stdinPipe.length;
  if (count > VIRTIO_SLOTS) {
    throw new TypervisorError(`${count} devices given; the virt board has ${VIRTIO_SLOTS} virtio-mmio slots`, {
      hint: `give at most ${VIRTIO_SLOTS} --device, --disk, --share and --net options together`,
    });
  }
  // Shared folders are checked before anything is fetched or booted (a typo fails at once).
  const shares = await openShares(shareSpecs);
  // Disks are opened last, once everything else checked out; closed again if the config fails.
  const withDisks = async (build: (all: DeviceConfig[]) => Promise<MachineConfig> | MachineConfig): Promise<MachineConfig> => {
    const disks = await openDisks(diskSpecs);
    let nics: Awaited<ReturnType<typeof openNets>> = [];
    try {
      nics = await openNets(netSpecs, { onError: (message) => void streams.stderr.write(`typervisor: ${message}\n`) });
      return await build([...devices, ...disks, ...shares, ...nics, ...stdinPipe]);
    } catch (e) {
      await closeNets(nics);
      await closeDisks(disks).catch(() => undefined);
      throw e;
    }
  };
  if (opts.kernel === undefined && biosWord === 'none') {
    throw new TypervisorError('--bios none needs a --kernel (the default guest boots with SBI firmware)', {
      hint: 'give a bare-metal ELF with --kernel, or drop --bios none',
    });
  }
  const bios = biosWord ?? (await readGuestFile(opts.bios, 'firmware'));
  if (opts.kernel === undefined) {
    const initrd = opts.initrd !== undefined ? await readGuestFile(opts.initrd, 'initrd') : undefined;
    const terminal = streams.stdout as { isTTY?: boolean; columns?: number; rows?: number };
    const config = await defaultGuestConfig({
      memBytes,
      ...(consoleKind ? { console: consoleKind } : {}),
      ...(command.length ? { command } : {}),
      ...(terminal.isTTY && terminal.columns && terminal.rows ? { terminalSize: { columns: terminal.columns, rows: terminal.rows } } : {}),
      ...(opts.append !== undefined ? { append: opts.append } : {}),
      ...(initrd ? { initrd } : {}),
      dhcp: dhcpInterfaces(netSpecs),
      stdinPort: stdinPipe.length > 0,
      progress: (message) => void streams.stderr.write(`typervisor: ${message}\n`),
    });
    return withDisks((all) => validateMachineConfig({ ...config, bios, ...(all.length ? { devices: all } : {}) }));
  }
  if (command.length) {
    throw new TypervisorError('a command after -- runs only in the default guest', {
      hint: 'drop --kernel to use the default guest, or start the command from your own initrd',
    });
  }
  const kernel = await readGuestFile(opts.kernel, 'kernel');
  const initrd = opts.initrd !== undefined ? await readGuestFile(opts.initrd, 'initrd') : undefined;
  // With hvc0 and no --append, the kernel is told to use it; an --append is taken as written.
  const append = opts.append ?? (consoleKind === 'hvc0' ? 'console=hvc0' : undefined);
  return withDisks((all) =>
    validateMachineConfig({
      memBytes,
      bios,
      kernel,
      ...(initrd ? { initrd } : {}),
      ...(append !== undefined ? { append } : {}),
      ...(all.length ? { devices: all } : {}),
      ...(consoleKind === 'hvc0' ? { console: consoleKind } : {}),
    }),
  );
}

/** `typervisor run`: boots the machine on this terminal and returns its exit status. */
export function addRunCommand(program: Command, streams: CliStreams, machineOptions: MachineOptions, done: (status: number) => void): void {
  addMachineOptions(
    program
      .command('run')
      .description('boot a virtual machine (a `virt` board, like qemu-system-riscv64 -machine virt); with no options, the default Debian guest')
      .argument('[command...]', 'after --: run this command in the default guest instead of a shell; its exit status becomes ours')
      .option('-i, --stdin', 'give our standard input to the command (a pipe or file, not the console: no echo, and the command sees EOF when it ends)'),
  )
    .action(async (command: string[], opts: MachineFlags) => {
    const config = await machineConfigFromFlags(opts, command, streams);
    done(await runMachine(config, streams, machineOptions));
  });
}

/**
 * TYPERVISOR_JIT_THRESHOLD: instructions run from a block entry before the JIT translates it (a tuning and
 * debugging knob; the default suits Linux, tests of short programs set it low).
 */
function withTuning(options: MachineOptions): MachineOptions {
  const text = process.env['TYPERVISOR_JIT_THRESHOLD'];
  if (text === undefined || options.createHart) return options;
  const jitThreshold = Number(text);
  if (!Number.isInteger(jitThreshold) || jitThreshold < 1 || jitThreshold > 0xffff_ffff) {
    throw new TypervisorError(`TYPERVISOR_JIT_THRESHOLD='${text}' is not a whole number from 1 to 4294967295`, {
      hint: 'unset it to use the default',
    });
  }
  return { ...options, cpu: { ...options.cpu, jitThreshold } };
}

async function runMachine(config: MachineConfig, streams: CliStreams, machineOptions: MachineOptions): Promise<number> {
  const disks = disksOf(config);
  const output = new ConsoleOutput(streams.stdout);
  let machine: Machine | undefined;
  try {
    machine = await Machine.create(config, { console: (bytes) => output.write(bytes) }, withTuning(machineOptions));
    const running = machine;
    // With -i standard input belongs to the command's port (virtio-pipe), not to the console.
    const pipedStdin = (config.devices ?? []).some((d) => d.type === 'virtio-pipe');
    const closeInput = pipedStdin ? () => {} : attachConsoleInput(streams.stdin, {
      data: (bytes) => running.consoleInput(bytes),
      quit: () => {
        streams.stderr.write('\ntypervisor: terminated\n');
        running.quit(0);
      },
      message: (text) => void streams.stderr.write(text),
    });
    // The terminal's size, now and on every change, for a virtio-console (F_SIZE); the UART ignores it.
    const terminal = streams.stdout as { isTTY?: boolean; columns?: number; rows?: number; on?(e: 'resize', f: () => void): unknown; off?(e: 'resize', f: () => void): unknown };
    const onResize = () => {
      if (terminal.columns && terminal.rows) running.resizeConsole(terminal.columns, terminal.rows);
    };
    if (terminal.isTTY) {
      onResize();
      terminal.on?.('resize', onResize);
    }
    try {
      running.start();
      const exit = await running.exited;
      return exit.code & 0xff; // what the operating system keeps of an exit status, as with QEMU's exit()
    } finally {
      closeInput();
      terminal.off?.('resize', onResize);
    }
  } finally {
    // Requests still in a backend finish first; then every disk is flushed and closed.
    await machine?.disksIdle();
    await closeNets(nicsOf(config));
    await closeDisks(disks);
    await output.drain();
  }
}
