// NICs for `typervisor run --net`: the option's syntax, and opening the backends on the host
// (vmm opens no sockets and starts no processes; it gets the NetBackends from here).
import { TypervisorError } from '../core/errors.js';
import { defaultMac, formatMac, parseMac } from '../network/mac-address.js';
import type { NicConfig } from '../vmm/machine-config.js';
import { checkDistinctForwards, HOSTFWD_SYNTAX, parseHostForward, type HostForward } from './host-forward.js';
import { connectNetSocket, listenNetSocket, type NetSocketOptions } from './net-socket.js';
import { PasstBackend, startPasst } from './passt.js';

/** One `--net` value, parsed. */
export type NetSpec = SocketNetSpec | UserNetSpec;

export interface SocketNetSpec {
  readonly kind: 'socket';
  /** The UNIX socket's path. */
  readonly path: string;
  /** `socket:listen:PATH`: typervisor is the server. */
  readonly listen: boolean;
  /** Normalized; the default (by NIC index) when not given. */
  readonly mac: string;
  /** As given, for messages. */
  readonly text: string;
}

/** `user[,hostfwd=…]…`: passt, started and stopped by typervisor (src/host/passt.ts). */
export interface UserNetSpec {
  readonly kind: 'user';
  readonly forwards: readonly HostForward[];
  readonly mac: string;
  readonly text: string;
}

const SYNTAX = `--net user[,${HOSTFWD_SYNTAX}]…[,mac=…], --net socket:PATH[,mac=52:54:00:xx:xx:xx] or --net socket:listen:PATH[,…] (write ",," for a comma in PATH)`;

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
  if (kind !== 'socket' && kind !== 'user') {
    const later = ['passt', 'switch', 'tap'].includes(kind);
    throw new TypervisorError(`--net ${text}: unknown network backend '${kind}'${later ? ' (not implemented yet)' : ''}`, { hint: `use ${SYNTAX}` });
  }
  if (kind === 'user' && colon >= 0) throw new TypervisorError(`--net ${text}: 'user' takes options after a comma, not a colon`, { hint: `use ${SYNTAX}` });
  let path = head.slice(colon + 1);
  const listen = path.startsWith('listen:');
  if (listen) path = path.slice('listen:'.length);
  if (kind === 'socket' && path === '') throw new TypervisorError(`--net ${text}: no socket path`, { hint: `use ${SYNTAX}` });
  let mac = defaultMac(index);
  const forwards: HostForward[] = [];
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
    } else if (kind === 'user' && key === 'hostfwd' && eq > 0) {
      try {
        forwards.push(parseHostForward(option.slice(eq + 1)));
      } catch (e) {
        if (!(e instanceof TypervisorError)) throw e;
        throw new TypervisorError(`--net ${text}: ${e.message}`, { hint: e.hint, cause: e });
      }
    } else {
      throw new TypervisorError(`--net ${text}: unknown option '${option}'`, { hint: `use ${SYNTAX}` });
    }
  }
  if (kind === 'user') return { kind, forwards, mac, text };
  return { kind, path, listen, mac, text };
}

/** Checks that no two NICs of one VM share a MAC, and no two forwards a host port. */
export function checkDistinctMacs(specs: readonly NetSpec[]): void {
  checkDistinctForwards(specs.flatMap((s) => (s.kind === 'user' ? s.forwards : [])));
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
      const backend =
        spec.kind === 'user'
          ? await startPasst({ ...options, forwards: spec.forwards, name: `--net ${spec.text}` })
          : spec.listen
            ? await listenNetSocket(spec.path, options)
            : await connectNetSocket(spec.path, options);
      nics.push({ type: 'virtio-net', backend, mac: spec.mac, name: `--net ${spec.text}` });
    }
    return nics;
  } catch (e) {
    await closeNets(nics);
    throw e;
  }
}

/**
 * Closes every NIC's backend; resolves once the processes behind them (passt) have exited, so
 * typervisor reaps them before it exits itself (close() stops them: SIGTERM, then SIGKILL).
 */
export async function closeNets(nics: readonly NicConfig[]): Promise<void> {
  for (const n of nics) n.backend.close();
  await Promise.all(nics.map((n) => (n.backend instanceof PasstBackend ? n.backend.exited : undefined)));
}
