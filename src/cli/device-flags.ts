import { TypervisorError } from '../core/errors.js';
import { CONSOLE_KINDS, formatBytes, parseMemorySize, validateDevices, withConsoleDevice, type ConsoleKind, type DeviceConfig } from '../vmm/machine-config.js';

/** The flags that choose virtio devices other than disks. */
export interface DeviceFlags {
  /** `--device TYPE`, repeatable. */
  device?: string[];
  /** `--console ttyS0|hvc0`. */
  console?: string;
  /** `--balloon SIZE`: the balloon's initial target. */
  balloon?: string;
}

/**
 * Turns `--device`, `--console` and `--balloon` into the machine's device list (in the order
 * given; a virtio-console for hvc0 and a balloon for --balloon are added at the end when no
 * `--device` names them) and the console choice (`undefined` for the default, ttyS0).
 */
export function devicesFromFlags(opts: DeviceFlags, memBytes: number): { devices: DeviceConfig[]; console: ConsoleKind | undefined } {
  const console = opts.console === undefined || opts.console === 'ttyS0' ? undefined : consoleKind(opts.console);
  const balloonBytes = opts.balloon !== undefined ? parseMemorySize(opts.balloon) : undefined;
  if (balloonBytes !== undefined && balloonBytes >= memBytes) {
    throw new TypervisorError(`--balloon ${opts.balloon} is not less than the guest's RAM (${formatBytes(memBytes)})`, { hint: 'give --balloon a size below --mem' });
  }
  const requested: Record<string, unknown>[] = (opts.device ?? []).map((type) => ({ type }));
  if (balloonBytes !== undefined) {
    // --balloon sets the target of the first --device virtio-balloon, or adds one.
    const balloon = requested.find((d) => d['type'] === 'virtio-balloon');
    if (balloon) balloon['targetBytes'] = balloonBytes;
    else requested.push({ type: 'virtio-balloon', targetBytes: balloonBytes });
  }
  return { devices: withConsoleDevice(validateDevices(requested), console), console };
}

function consoleKind(name: string): ConsoleKind {
  if ((CONSOLE_KINDS as readonly string[]).includes(name)) return name as ConsoleKind;
  throw new TypervisorError(`unknown console '${name}'`, { hint: `use --console ${CONSOLE_KINDS.join(' or --console ')}` });
}
