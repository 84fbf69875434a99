// NICs for `typervisor run --net`: the option's syntax, and opening the backends on the host
// (vmm opens no sockets; it gets the NetBackends from here).
import { TypervisorError } from '../core/errors.js';
import { defaultMac, formatMac, parseMac } from '../network/mac-address.js';
import { RateLimitedBackend, type RateLimit } from '../network/rate-limited-backend.js';
import type { NicConfig } from '../vmm/machine-config.js';
import { connectNetSocket, listenNetSocket, type NetSocketOptions } from './net-socket.js';
import { connectSwitch } from './net-switch-client.js';
import { checkSwitchName } from './net-switch-paths.js';
import { parseRateLimit, RATE_KEYS } from './net-rate-option.js';
import { checkTapName, TapBackend } from './net-tap.js';

/** One `--net` value, parsed. */
export interface NetSpec {
  readonly kind: 'socket' | 'switch' | 'tap';
  /** The UNIX socket's path (socket:), the switch's name (switch:) or the interface (tap:). */
  readonly path: string;
  /** `socket:listen:PATH`: typervisor is the server. */
  readonly listen: boolean;
  /** Normalized; the default (by NIC index) when not given. */
  readonly mac: string;
  /** As given, for messages. */
  readonly text: string;
  /** rate=, burst=, pps=: a token-bucket limit on both directions. */
  readonly rate?: RateLimit;
}

const SYNTAX = '--net socket:PATH[,mac=52:54:00:xx:xx:xx][,rate=BYTES_PER_S[,burst=BYTES]][,pps=N] or --net socket:listen:PATH[,…] or --net switch:NAME[,…] or --net tap:IFNAME[,…] (write ",," for a comma in PATH)';

/**
 * Parses `socket:PATH[,mac=…]` / `socket:listen:PATH[,mac=…]` for the `index`-th NIC (whose
 * default MAC is 52:54:00:12:34:(56 + index), as QEMU numbers its default NICs).
 */
export function parseNetSpec(text: string, index: number): NetSpec {
  const parts: string[] = [''];
  for (let i = 0; i < text.length; i++) {
    if (text[i] === ',') {
      if (text[i + 1] === ',') {
        parts[parts.length - 1] += ',';
        i++;
      } else parts.push('');
    } else parts[parts.length - 1] += text[i];
  }
  const head = parts[0]!;
  const colon = head.indexOf(':');
  const kind = colon < 0 ? head : head.slice(0, colon);
  if (kind !== 'socket' && kind !== 'switch' && kind !== 'tap') {
    const later = ['user', 'passt'].includes(kind);
    throw new TypervisorError(`--net ${text}: unknown network backend '${kind}'${later ? ' (not implemented yet)' : ''}`, { hint: `use ${SYNTAX}` });
  }
  let path = colon < 0 ? '' : head.slice(colon + 1);
  if (kind === 'tap') checkTapName(colon < 0 ? '' : head.slice(colon + 1), text);
  if (kind === 'switch') {
    try {
      checkSwitchName(path);
    } catch (e) {
      if (!(e instanceof TypervisorError)) throw e;
      throw new TypervisorError(`--net ${text}: ${e.message}`, { hint: e.hint, cause: e });
    }
  }
  const listen = kind === 'socket' && path.startsWith('listen:');
  if (listen) path = path.slice('listen:'.length);
  if (path === '') throw new TypervisorError(`--net ${text}: no socket path`, { hint: `use ${SYNTAX}` });
  let mac = defaultMac(index);
  const rateOptions = new Map<string, string>();
  for (const option of parts.slice(1)) {
    const eq = option.indexOf('=');
    const key = eq < 0 ? option : option.slice(0, eq);
    if (key === 'mac' && eq > 0) {
      try {
        mac = formatMac(parseMac(option.slice(eq + 1)));
      } catch (e) {
        if (!(e instanceof TypervisorError)) throw e;
        throw new TypervisorError(`--net ${text}: ${e.message}`, { hint: e.hint, cause: e });
      }
    } else if ((RATE_KEYS as readonly string[]).includes(key) && eq > 0) {
      rateOptions.set(key, option.slice(eq + 1));
    } else {
      throw new TypervisorError(`--net ${text}: unknown option '${option}'`, { hint: `use ${SYNTAX}` });
    }
  }
  let rate: RateLimit | undefined;
  try {
    rate = parseRateLimit(rateOptions);
  } catch (e) {
    if (!(e instanceof TypervisorError)) throw e;
    throw new TypervisorError(`--net ${text}: ${e.message}`, { hint: e.hint, cause: e });
  }
  return { kind, path, listen, mac, text, ...(rate ? { rate } : {}) };
}

/** Checks that no two NICs of one VM share a MAC. */
export function checkDistinctMacs(specs: readonly NetSpec[]): void {
  const seen = new Map<string, string>();
  for (const s of specs) {
    const other = seen.get(s.mac);
    if (other !== undefined) throw new TypervisorError(`--net ${s.text} and --net ${other} have the same MAC ${s.mac}`, { hint: 'give one of them another mac=' });
    seen.set(s.mac, s.text);
  }
}

/** Opens each spec's backend; if one fails, those already open are closed. */
export async function openNets(specs: readonly NetSpec[], options: NetSocketOptions = {}): Promise<NicConfig[]> {
  const nics: NicConfig[] = [];
  try {
    for (const spec of specs) {
      let backend: NicConfig['backend'] =
        spec.kind === 'switch' ? await connectSwitch(spec.path, options) : spec.kind === 'tap' ? await TapBackend.open(spec.path, options) : spec.listen ? await listenNetSocket(spec.path, options) : await connectNetSocket(spec.path, options);
      if (spec.rate) backend = new RateLimitedBackend(backend, spec.rate);
      nics.push({ type: 'virtio-net', backend, mac: spec.mac, name: `--net ${spec.text}` });
    }
    return nics;
  } catch (e) {
    closeNets(nics);
    throw e;
  }
}

export function closeNets(nics: readonly NicConfig[]): void {
  for (const n of nics) n.backend.close();
}
