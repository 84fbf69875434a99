import { concatBytes } from '../core/concat-bytes.js';
import { TypervisorError } from '../core/errors.js';
import { withConsoleDevice, type ConsoleKind, type KernelImage, type MachineConfig } from '../vmm/machine-config.js';
import { commandInitramfs, ensureDefaultGuest, type GuestProgress } from './guest-image/index.js';
import { readGuestFile } from './guest-file.js';

/** RAM of the default guest unless the caller says otherwise. */
export const DEFAULT_GUEST_MEM_BYTES = 512 * 1024 * 1024;

/** Kernel command line of the default guest: the UART console. */
export const DEFAULT_GUEST_APPEND = 'console=ttyS0';
/** …and when it runs one command: the kernel keeps quiet so stdout is the command's output. */
export const COMMAND_GUEST_APPEND = 'console=ttyS0 quiet loglevel=0';

export interface DefaultGuestOptions {
  readonly memBytes?: number;
  /** Run this command (argv) instead of an interactive shell; its exit status ends the VM. */
  readonly command?: readonly string[];
  /**
   * The guest console: `ttyS0` (the UART, default) or `hvc0` (adds a virtio-console device and
   * makes it the kernel's console and the host's console input).
   */
  readonly console?: ConsoleKind;
  /** Replaces the default kernel command line. */
  readonly append?: string;
  /** The host terminal's size, passed to the guest's console (ignored with `append`). */
  readonly terminalSize?: { readonly columns: number; readonly rows: number };
  /**
   * Interfaces (`eth0`, …) the guest's /init configures by DHCP before anything else runs
   * (`--net user` NICs: passt answers at once); passed as `typervisor.dhcp=eth0,…`, ignored
   * with `append`.
   */
  readonly dhcp?: readonly string[];
  /**
   * The command's standard input comes from a `virtio-pipe` device named `typervisor.stdin`
   * (which the caller adds to the devices): passed as `typervisor.stdin=1` for /init, ignored
   * with `append`.
   */
  readonly stdinPort?: boolean;
  /** Replaces the built initramfs. */
  readonly initrd?: KernelImage;
  /** Told what the first run is fetching and building. */
  readonly progress?: GuestProgress;
  /** Where guests are cached (default: $TYPERVISOR_CACHE, $XDG_CACHE_HOME/typervisor or ~/.cache/typervisor). */
  readonly cacheDir?: string;
}

/**
 * The machine configuration of the default guest: Debian trixie's riscv64 kernel and the
 * initramfs typervisor builds from busybox (fetched and cached on first use), booted with the
 * built-in SBI. Node only (it reads the cache and may run apt-get).
 */
export async function defaultGuestConfig(o: DefaultGuestOptions = {}): Promise<MachineConfig> {
  const guest = await ensureDefaultGuest({
    ...(o.cacheDir !== undefined ? { cacheDir: o.cacheDir } : {}),
    ...(o.progress ? { progress: o.progress } : {}),
  });
  const kernel = await readGuestFile(guest.kernelPath, 'kernel');
  let initrd = o.initrd ?? (await readGuestFile(guest.initramfsPath, 'initrd'));
  if (o.command) {
    if (o.command.length === 0) throw new TypervisorError('no command given after --', { hint: "e.g. typervisor run -- uname -a" });
    if (o.initrd) {
      throw new TypervisorError('a command cannot run with a custom --initrd', {
        hint: 'the command is carried in typervisor\'s own initramfs; drop --initrd, or run the command from your initrd\'s init',
      });
    }
    // Linux unpacks concatenated cpio archives one after the other (Documentation/driver-api/early-userspace/buffer-format.rst).
    initrd = { name: `${initrd.name} + command`, bytes: concatBytes([initrd.bytes, commandInitramfs([...o.command])]) };
  }
  return {
    memBytes: o.memBytes ?? DEFAULT_GUEST_MEM_BYTES,
    bios: 'builtin',
    kernel,
    initrd,
    append: o.append ?? consoleArgument(o.command ? COMMAND_GUEST_APPEND : DEFAULT_GUEST_APPEND, o.console) + sizeArgument(o.terminalSize) + dhcpArgument(o.dhcp) + (o.stdinPort && o.command ? ' typervisor.stdin=1' : ''),
    ...(o.console === 'hvc0' ? { console: 'hvc0', devices: withConsoleDevice([], 'hvc0') } : {}),
  };
}

/** The default command line with `console=ttyS0` replaced by the chosen console. */
function consoleArgument(append: string, console: ConsoleKind | undefined): string {
  return console && console !== 'ttyS0' ? append.replace('console=ttyS0', `console=${console}`) : append;
}

/** ` typervisor.size=COLSxROWS` for the guest's /init, or nothing for a size that is not sane. */
function sizeArgument(size: DefaultGuestOptions['terminalSize']): string {
  if (!size) return '';
  const ok = (n: number) => Number.isInteger(n) && n > 0 && n < 10_000;
  return ok(size.columns) && ok(size.rows) ? ` typervisor.size=${size.columns}x${size.rows}` : '';
}

/** ` typervisor.dhcp=eth0,eth1` for the guest's /init, or nothing. */
function dhcpArgument(interfaces: DefaultGuestOptions['dhcp']): string {
  const names = (interfaces ?? []).filter((n) => /^[a-z0-9]{1,15}$/.test(n));
  return names.length ? ` typervisor.dhcp=${names.join(',')}` : '';
}
