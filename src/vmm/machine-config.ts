import { TypervisorError } from '../core/errors.js';
import { MAX_RAM_BYTES, MIN_RAM_BYTES, VIRTIO_SLOTS } from '../board/memory-map.js';
import type { BlockBackend } from '../storage/block-backend.js';
import type { SharedFileSystem } from '../devices/virtio/9p/shared-file-system.js';
import type { NetBackend } from '../network/net-backend.js';
import type { PipeSource } from '../devices/virtio/console/virtio-pipe.js';
import { formatMac, parseMac } from '../network/mac-address.js';

/** A file given to the machine (kernel, initrd, firmware) and where it came from (for messages).
 *  vmm never reads files itself. */
export interface KernelImage {
  /** Shown in messages, e.g. the path given on the command line. */
  readonly name: string;
  readonly bytes: Uint8Array;
}

/**
 * Firmware choice:
 * - `builtin`: the VMM is the machine mode. The kernel starts in S-mode (a0 = hart id, a1 = the
 *   device tree) and its SBI calls are served by the host (src/board/sbi).
 * - `none`: no firmware; the kernel starts in M-mode at its entry (bare-metal programs), as with
 *   QEMU's `-bios none`.
 * - a file: firmware such as OpenSBI's fw_dynamic.bin / fw_jump.bin (raw, loaded at the start of
 *   RAM, or ELF), started in M-mode with a0 = hart id, a1 = device tree, a2 = fw_dynamic info.
 */
export type BiosKind = 'builtin' | 'none';
export type Firmware = BiosKind | KernelImage;

/** What to build: a `virt` board with one hart. */
export interface MachineConfig {
  /** Guest RAM in bytes: a multiple of 4 KiB in [16 MiB, 3.5 GiB]. */
  readonly memBytes: number;
  readonly bios: Firmware;
  /** ELF, RISC-V Linux Image (optionally gzip or EFI-zboot compressed). */
  readonly kernel: KernelImage;
  /** Initial ramdisk (cpio archives, possibly several concatenated) for Linux. */
  readonly initrd?: KernelImage;
  /** Kernel command line, passed in the device tree's /chosen/bootargs. */
  readonly append?: string;
  /**
   * Virtio devices, at most {@link VIRTIO_SLOTS}; each sits in a virtio-mmio slot
   * ({@link virtioSlotOf}).
   */
  readonly devices?: readonly DeviceConfig[];
  /**
   * Where the host's console input goes: `ttyS0` (the UART, default) or `hvc0` (the
   * virtio-console device, which `devices` must then hold). Output of both always reaches the
   * console sink, so nothing the guest prints on the other one is lost.
   */
  readonly console?: ConsoleKind;
}

/** The guest console the host terminal is connected to (named as Linux names it). */
export const CONSOLE_KINDS = ['ttyS0', 'hvc0'] as const;
export type ConsoleKind = (typeof CONSOLE_KINDS)[number];

/** The device types `devices` may name (the CLI's `--device` values). */
export const DEVICE_TYPES = ['virtio-rng', 'virtio-console', 'virtio-balloon'] as const;
export type DeviceType = (typeof DEVICE_TYPES)[number];

/** One device of the machine: a `--device` type, a balloon with options, a disk, a shared folder, or a NIC. */
export type DeviceConfig = { readonly type: Exclude<DeviceType, 'virtio-balloon'> } | BalloonConfig | DiskConfig | ShareConfig | NicConfig | PipeConfig;

/**
 * A one-way byte stream into the guest that ends in EOF (virtio-console MULTIPORT, one named
 * non-console port: /dev/vportNp0 in Linux), e.g. the host's standard input for `run -i`.
 */
export interface PipeConfig {
  readonly type: 'virtio-pipe';
  readonly source: PipeSource;
  /** The port's name, how the guest finds it (/sys/class/virtio-ports/…/name). */
  readonly name: string;
}

/**
 * A virtio-9p share over an already opened {@link SharedFileSystem} (the host opens the folder,
 * src/host/shared-directory.ts); the guest mounts it with `mount -t 9p -o trans=virtio TAG DIR`.
 */
export interface ShareConfig {
  readonly type: 'virtio-9p';
  readonly fs: SharedFileSystem;
  /** The mount tag (virtio-9p configuration space). */
  readonly tag: string;
  /** For messages, e.g. the path given with --share. */
  readonly name?: string;
}

/** A virtio-balloon device (virtio 1.2 §5.5). */
export interface BalloonConfig {
  readonly type: 'virtio-balloon';
  /** Bytes the guest is asked to give back from the start (the balloon's initial target; default 0). */
  readonly targetBytes?: number;
  /** Offer VIRTIO_BALLOON_F_DEFLATE_ON_OOM (Linux then leaves ballooned pages in MemTotal). */
  readonly deflateOnOom?: boolean;
}

/**
 * A virtio-net NIC over an already opened {@link NetBackend} (the host connects the socket and
 * hands the backend in, and closes it after the machine exits).
 */
export interface NicConfig {
  readonly type: 'virtio-net';
  readonly backend: NetBackend;
  /** The NIC's unicast MAC, `52:54:00:12:34:56` form. */
  readonly mac: string;
  /** For messages, e.g. the spec given with --net. */
  readonly name?: string;
}

/**
 * A virtio-blk disk over an already opened {@link BlockBackend} (vmm opens no files: the host
 * opens the image and hands the backend in, and closes it after the machine exits).
 */
export interface DiskConfig {
  readonly type: 'virtio-blk';
  readonly backend: BlockBackend;
  /** Offer the disk read-only (VIRTIO_BLK_F_RO) even if the backend is writable. */
  readonly readOnly?: boolean;
  /** The GET_ID string, at most 20 bytes. */
  readonly serial?: string;
  /** For messages, e.g. the path given with --disk. */
  readonly name?: string;
}

/**
 * The virtio-mmio slot (0 … VIRTIO_SLOTS − 1) of the `index`-th device. As on QEMU's virt board,
 * devices fill the slots from the top: the first takes slot 7 (0x1000_8000, PLIC source 8), the
 * next slot 6, and so on (QEMU creates the transports so that the first device plugged lands on
 * the highest-addressed one). Linux then numbers them in device-tree order, so the same command
 * line gives the guest the same device names as under QEMU.
 */
export function virtioSlotOf(index: number): number {
  return VIRTIO_SLOTS - 1 - index;
}

/** The slots a config's devices occupy, in device order. */
export function virtioSlots(config: Pick<MachineConfig, 'devices'>): number[] {
  return (config.devices ?? []).map((_, i) => virtioSlotOf(i));
}

/** Checks a device list as it came from a user or a file. */
export function validateDevices(devices: unknown): DeviceConfig[] {
  if (!Array.isArray(devices)) throw new TypervisorError('the device list must be an array');
  if (devices.length > VIRTIO_SLOTS) {
    throw new TypervisorError(`${devices.length} devices given; the virt board has ${VIRTIO_SLOTS} virtio-mmio slots`, {
      hint: `give at most ${VIRTIO_SLOTS} --device and --disk options together`,
    });
  }
  return devices.map((d: unknown): DeviceConfig => {
    const type = typeof d === 'object' && d !== null ? (d as { type?: unknown }).type : undefined;
    if (type === 'virtio-blk') return validateDisk(d as Record<string, unknown>);
    if (type === 'virtio-9p') return validateShare(d as Record<string, unknown>);
    if (type === 'virtio-balloon') return validateBalloon(d as Record<string, unknown>);
    if (type === 'virtio-net') return validateNic(d as Record<string, unknown>);
    if (type === 'virtio-pipe') return validatePipe(d as Record<string, unknown>);
    if (typeof type !== 'string' || !(DEVICE_TYPES as readonly string[]).includes(type)) {
      throw new TypervisorError(`unknown device ${typeof type === 'string' ? `'${type}'` : JSON.stringify(d) ?? String(d)}`, {
        hint: `known devices: ${DEVICE_TYPES.join(', ')}`,
      });
    }
    const extra = Object.keys(d as object).filter((k) => k !== 'type');
    if (extra.length) throw new TypervisorError(`device '${type}' has unknown option${extra.length > 1 ? 's' : ''} ${extra.join(', ')}`);
    return { type: type as Exclude<DeviceType, 'virtio-balloon'> };
  });
}

function validateBalloon(d: Record<string, unknown>): BalloonConfig {
  const extra = Object.keys(d).filter((k) => !['type', 'targetBytes', 'deflateOnOom'].includes(k));
  if (extra.length) throw new TypervisorError(`virtio-balloon: unknown option${extra.length > 1 ? 's' : ''} ${extra.join(', ')}`);
  const target = d['targetBytes'];
  if (target !== undefined && !(Number.isSafeInteger(target) && (target as number) >= 0)) {
    throw new TypervisorError(`virtio-balloon: the target ${String(target)} is not a byte count`, { hint: 'e.g. --balloon 128M' });
  }
  if (d['deflateOnOom'] !== undefined && typeof d['deflateOnOom'] !== 'boolean') throw new TypervisorError('virtio-balloon: deflateOnOom must be true or false');
  return {
    type: 'virtio-balloon',
    ...(target !== undefined ? { targetBytes: target as number } : {}),
    ...(d['deflateOnOom'] !== undefined ? { deflateOnOom: d['deflateOnOom'] as boolean } : {}),
  };
}

function validateDisk(d: Record<string, unknown>): DiskConfig {
  const backend = d['backend'] as Partial<BlockBackend> | undefined;
  const name = typeof d['name'] === 'string' ? d['name'] : 'disk';
  if (typeof backend !== 'object' || backend === null || typeof backend.read !== 'function' || typeof backend.write !== 'function' || !Number.isSafeInteger(backend.capacity)) {
    throw new TypervisorError(`${name}: a virtio-blk device needs an opened block backend`, { hint: 'attach disks with --disk PATH' });
  }
  const extra = Object.keys(d).filter((k) => !['type', 'backend', 'readOnly', 'serial', 'name'].includes(k));
  if (extra.length) throw new TypervisorError(`${name}: unknown disk option${extra.length > 1 ? 's' : ''} ${extra.join(', ')}`);
  if (d['readOnly'] !== undefined && typeof d['readOnly'] !== 'boolean') throw new TypervisorError(`${name}: readOnly must be true or false`);
  const serial = d['serial'];
  if (serial !== undefined && (typeof serial !== 'string' || new TextEncoder().encode(serial).length > 20)) {
    throw new TypervisorError(`${name}: the serial must be a string of at most 20 bytes (VIRTIO_BLK_ID_BYTES)`);
  }
  return {
    type: 'virtio-blk',
    backend: backend as BlockBackend,
    ...(d['readOnly'] !== undefined ? { readOnly: d['readOnly'] as boolean } : {}),
    ...(serial !== undefined ? { serial: serial as string } : {}),
    ...(typeof d['name'] === 'string' ? { name: d['name'] } : {}),
  };
}

function validateShare(d: Record<string, unknown>): ShareConfig {
  const fs = d['fs'] as Partial<SharedFileSystem> | undefined;
  const name = typeof d['name'] === 'string' ? d['name'] : 'share';
  if (typeof fs !== 'object' || fs === null || typeof fs.stat !== 'function' || typeof fs.open !== 'function') {
    throw new TypervisorError(`${name}: a virtio-9p device needs an opened shared file system`, { hint: 'share a host directory with --share DIR' });
  }
  if (typeof d['tag'] !== 'string') throw new TypervisorError(`${name}: a virtio-9p device needs a mount tag`);
  const extra = Object.keys(d).filter((k) => !['type', 'fs', 'tag', 'name'].includes(k));
  if (extra.length) throw new TypervisorError(`${name}: unknown share option${extra.length > 1 ? 's' : ''} ${extra.join(', ')}`);
  return { type: 'virtio-9p', fs: fs as SharedFileSystem, tag: d['tag'], ...(typeof d['name'] === 'string' ? { name: d['name'] } : {}) };
}

function validateNic(d: Record<string, unknown>): NicConfig {
  const backend = d['backend'] as Partial<NetBackend> | undefined;
  const name = typeof d['name'] === 'string' ? d['name'] : 'nic';
  if (typeof backend !== 'object' || backend === null || typeof backend.send !== 'function' || typeof backend.attach !== 'function' || typeof backend.close !== 'function') {
    throw new TypervisorError(`${name}: a virtio-net device needs an opened network backend`, { hint: 'attach NICs with --net socket:PATH' });
  }
  const extra = Object.keys(d).filter((k) => !['type', 'backend', 'mac', 'name'].includes(k));
  if (extra.length) throw new TypervisorError(`${name}: unknown NIC option${extra.length > 1 ? 's' : ''} ${extra.join(', ')}`);
  if (typeof d['mac'] !== 'string') throw new TypervisorError(`${name}: a NIC needs a MAC address`);
  return {
    type: 'virtio-net',
    backend: backend as NetBackend,
    mac: formatMac(parseMac(d['mac'])),
    ...(typeof d['name'] === 'string' ? { name: d['name'] } : {}),
  };
}

function validatePipe(d: Record<string, unknown>): PipeConfig {
  const source = d['source'] as Partial<PipeSource> | undefined;
  if (typeof source !== 'object' || source === null || typeof source.attach !== 'function') {
    throw new TypervisorError('a virtio-pipe device needs a source with attach(sink)');
  }
  if (typeof d['name'] !== 'string') throw new TypervisorError('a virtio-pipe device needs a port name');
  const extra = Object.keys(d).filter((k) => !['type', 'source', 'name'].includes(k));
  if (extra.length) throw new TypervisorError(`virtio-pipe: unknown option${extra.length > 1 ? 's' : ''} ${extra.join(', ')}`);
  return { type: 'virtio-pipe', source: source as PipeSource, name: d['name'] };
}

/** The NICs of a config (its virtio-net devices), in device order. */
export function nicsOf(config: Pick<MachineConfig, 'devices'>): NicConfig[] {
  return (config.devices ?? []).filter((d): d is NicConfig => d.type === 'virtio-net');
}

/** The disks of a config (its virtio-blk devices), in device order. */
export function disksOf(config: Pick<MachineConfig, 'devices'>): DiskConfig[] {
  return (config.devices ?? []).filter((d): d is DiskConfig => d.type === 'virtio-blk');
}

/** QEMU's default for `-machine virt`. */
export const DEFAULT_MEM_BYTES = 128 * 1024 * 1024;

const PAGE = 4096;
const UNITS: Record<string, number> = { K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/**
 * Parses a memory size the way QEMU's `-m` does: a number with an optional binary suffix
 * K, M, G or T (case-insensitive, an optional trailing `iB`/`B` allowed), where a bare number
 * means MiB; fractions are allowed (`1.5G`). Returns bytes; the range is checked by
 * {@link validateMachineConfig}.
 */
export function parseMemorySize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:([kmgt])(?:i?b)?|(b))?\s*$/i.exec(text);
  if (!m) {
    throw new TypervisorError(`cannot read memory size '${text}'`, {
      hint: 'write a number with a unit, e.g. 128M, 512M or 2G (a bare number means MiB, as in QEMU)',
    });
  }
  const unit = m[2] ? UNITS[m[2].toUpperCase()]! : m[3] ? 1 : 2 ** 20;
  return Math.round(Number(m[1]) * unit);
}

/** Formats a byte count for messages: `128 MiB`, `3.5 GiB`, `4096 bytes`. */
export function formatBytes(bytes: number): string {
  for (const [unit, size] of [['GiB', 2 ** 30], ['MiB', 2 ** 20], ['KiB', 2 ** 10]] as const) {
    if (bytes >= size) return `${Number((bytes / size).toFixed(2))} ${unit}`;
  }
  return `${bytes} bytes`;
}

/**
 * Checks a config as it came from a user, a file or another process; returns it typed, or throws
 * a TypervisorError saying what to change.
 */
export function validateMachineConfig(config: {
  memBytes: number;
  bios?: string | KernelImage;
  kernel: KernelImage;
  initrd?: KernelImage;
  append?: string;
  devices?: unknown;
  console?: string;
}): MachineConfig {
  const bios = config.bios === undefined ? 'builtin' : typeof config.bios === 'string' ? validateBios(config.bios) : config.bios;
  if (config.append !== undefined && (typeof config.append !== 'string' || config.append.includes('\0'))) {
    throw new TypervisorError('the kernel command line must be a string without NUL characters');
  }
  if (config.append !== undefined && new TextEncoder().encode(config.append).length > MAX_CMDLINE_BYTES) {
    throw new TypervisorError(`the kernel command line is longer than ${MAX_CMDLINE_BYTES} bytes (COMMAND_LINE_SIZE on RISC-V)`, {
      hint: 'shorten --append',
    });
  }
  const memBytes = validateMemBytes(config.memBytes);
  const devices = config.devices !== undefined ? validateDevices(config.devices) : undefined;
  const console = config.console === undefined ? undefined : validateConsole(config.console, devices ?? []);
  for (const d of devices ?? []) {
    if (d.type === 'virtio-balloon' && (d.targetBytes ?? 0) > memBytes) {
      throw new TypervisorError(`the balloon target ${formatBytes(d.targetBytes!)} is more than the guest's RAM (${formatBytes(memBytes)})`, {
        hint: 'give --balloon a size below --mem',
      });
    }
  }
  return {
    memBytes,
    bios,
    kernel: config.kernel,
    ...(config.initrd ? { initrd: config.initrd } : {}),
    ...(config.append !== undefined ? { append: config.append } : {}),
    ...(devices !== undefined ? { devices } : {}),
    ...(console !== undefined ? { console } : {}),
  };
}

/** `devices` with a virtio-console added at the end when `console` is hvc0 and none is there yet. */
export function withConsoleDevice(devices: readonly DeviceConfig[], console: ConsoleKind | undefined): DeviceConfig[] {
  if (console !== 'hvc0' || devices.some((d) => d.type === 'virtio-console')) return [...devices];
  return [...devices, { type: 'virtio-console' }];
}

/** Checks a console name; `hvc0` needs a virtio-console device among `devices`. */
export function validateConsole(console: string, devices: readonly DeviceConfig[]): ConsoleKind {
  if (!(CONSOLE_KINDS as readonly string[]).includes(console)) {
    throw new TypervisorError(`unknown console '${console}'`, { hint: `use --console ${CONSOLE_KINDS.join(' or --console ')}` });
  }
  if (console === 'hvc0' && !devices.some((d) => d.type === 'virtio-console')) {
    throw new TypervisorError('console hvc0 needs a virtio-console device', { hint: "add { type: 'virtio-console' } to the devices" });
  }
  return console as ConsoleKind;
}

/** Linux's COMMAND_LINE_SIZE on riscv (arch/riscv/include/uapi/asm/setup.h). */
export const MAX_CMDLINE_BYTES = 1024;

/** Checks a firmware name given as a word: `builtin` (alias `default`) or `none`. */
export function validateBios(bios: string): BiosKind {
  if (bios === 'default' || bios === 'builtin') return 'builtin';
  if (bios === 'none') return 'none';
  throw new TypervisorError(`unknown firmware '${bios}'`, {
    hint: 'use --bios builtin (the default: the VMM serves SBI), --bios none (bare metal, M-mode) or --bios PATH to a firmware file such as OpenSBI\'s fw_dynamic.bin',
  });
}

/** Checks a RAM size in bytes: a whole number of 4 KiB pages in [16 MiB, 3.5 GiB]. */
export function validateMemBytes(memBytes: number): number {
  if (!(memBytes >= MIN_RAM_BYTES)) {
    throw new TypervisorError(`RAM size ${formatBytes(memBytes)} is below the minimum of ${formatBytes(MIN_RAM_BYTES)}`, {
      hint: 'use --mem 16M or more',
    });
  }
  if (!(memBytes <= MAX_RAM_BYTES)) {
    throw new TypervisorError(
      `RAM size ${formatBytes(memBytes)} is above the maximum of ${formatBytes(MAX_RAM_BYTES)}: ` +
        'guest RAM lives in one WebAssembly memory, and wasm32 caps a memory at 4 GiB',
      { hint: 'use --mem 3584M or less' },
    );
  }
  if (!Number.isInteger(memBytes) || memBytes % PAGE !== 0) {
    throw new TypervisorError(`RAM size ${memBytes} bytes is not a whole number of 4 KiB pages`, {
      hint: 'use a size in MiB, e.g. --mem 128M',
    });
  }
  return memBytes;
}
