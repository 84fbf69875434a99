// NICs for `typervisor run --net`: the option's syntax, and opening the backends on the host
// (vmm opens no sockets and starts no processes; it gets the NetBackends from here).
import { TypervisorError } from '../core/errors.js';
import { defaultMac, formatMac, parseMac } from '../network/mac-address.js';
import { RateLimitedBackend, type RateLimit } from '../network/rate-limited-backend.js';
import type { NicConfig } from '../vmm/machine-config.js';
import { checkDnsServers, DNS_SYNTAX, parseDnsServer } from './dns-option.js';
import { checkDistinctForwards, HOSTFWD_SYNTAX, parseHostForward, type HostForward } from './host-forward.js';
import { parseRateLimit, RATE_KEYS } from './net-rate-option.js';
import { connectNetSocket, listenNetSocket, type NetSocketOptions } from './net-socket.js';
import { connectSwitch } from './net-switch-client.js';
import { checkSwitchName } from './net-switch-paths.js';
import { checkTapName, TapBackend } from './net-tap.js';
import { splitOptionList } from './option-list.js';
import { PasstBackend, startPasst } from './passt.js';

/** One `--net` value, parsed. */
export interface NetSpec {
  readonly kind: 'user' | 'socket' | 'switch' | 'tap';
  /** The UNIX socket's path (socket:), the switch's name (switch:), the interface (tap:); '' for user. */
  readonly path: string;
  /** `socket:listen:PATH`: typervisor is the server. */
  readonly listen: boolean;
  /** `user`'s hostfwd= options (empty for the others). */
  readonly forwards: readonly HostForward[];
  /** `user`'s dns= resolvers, in order (absent: passt hands out the host's). */
  readonly dns?: readonly string[];
  /** Normalized; the default (by NIC index) when not given. */
  readonly mac: string;
  /** As given, for messages. */
  readonly text: string;
  /** rate=, burst=, pps=: a token-bucket limit on both directions. */
  readonly rate?: RateLimit;
}

const SYNTAX =
  `--net user[,${HOSTFWD_SYNTAX}]…[,${DNS_SYNTAX}], socket:PATH, socket:listen:PATH, switch:NAME or tap:IFNAME, each ` +
  '[,mac=52:54:00:xx:xx:xx][,rate=BYTES_PER_S[,burst=BYTES]][,pps=N] (write ",," for a comma in PATH)';

/** Rethrows a TypervisorError from a part of the spec with the whole `--net` value in front. */
function within<T>(text: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (!(e instanceof TypervisorError)) throw e;
    throw new TypervisorError(`--net ${text}: ${e.message}`, { hint: e.hint, cause: e });
  }
}

/**
 * Parses one `--net` value for the `index`-th NIC (whose default MAC is
 * 52:54:00:12:34:(56 + index), as QEMU numbers its default NICs).
 */
export function parseNetSpec(text: string, index: number): NetSpec {
  const { head, options } = splitOptionList(text);
  const colon = head.indexOf(':');
  const kind = colon < 0 ? head : head.slice(0, colon);
  if (kind !== 'user' && kind !== 'socket' && kind !== 'switch' && kind !== 'tap') {
    throw new TypervisorError(`--net ${text}: unknown network backend '${kind}'`, { hint: `use ${SYNTAX}` });
  }
  if (kind === 'user' && colon >= 0) throw new TypervisorError(`--net ${text}: 'user' takes options after a comma, not a colon`, { hint: `use ${SYNTAX}` });
  let path = colon < 0 ? '' : head.slice(colon + 1);
  const listen = kind === 'socket' && path.startsWith('listen:');
  if (listen) path = path.slice('listen:'.length);
  if (kind === 'socket' && path === '') throw new TypervisorError(`--net ${text}: no socket path`, { hint: `use ${SYNTAX}` });
  if (kind === 'switch') within(text, () => checkSwitchName(path));
  if (kind === 'tap') checkTapName(path, text);
  let mac = defaultMac(index);
  const forwards: HostForward[] = [];
  const dns: string[] = [];
  const rateOptions = new Map<string, string>();
  for (const { key, value, text: option } of options) {
    if (key === 'mac' && value !== undefined) {
      mac = within(text, () => formatMac(parseMac(value)));
    } else if (kind === 'user' && key === 'hostfwd' && value !== undefined) {
      forwards.push(within(text, () => parseHostForward(value)));
    } else if (kind === 'user' && key === 'dns' && value !== undefined) {
      dns.push(within(text, () => parseDnsServer(value)));
    } else if ((RATE_KEYS as readonly string[]).includes(key) && value !== undefined) {
      rateOptions.set(key, value);
    } else {
      throw new TypervisorError(`--net ${text}: unknown option '${option}'`, { hint: `use ${SYNTAX}` });
    }
  }
  within(text, () => checkDnsServers(dns));
  const rate = within(text, () => parseRateLimit(rateOptions));
  return { kind, path, listen, forwards, ...(dns.length ? { dns } : {}), mac, text, ...(rate ? { rate } : {}) };
}

/** Checks that no two NICs of one VM share a MAC, and no two forwards a host port. */
export function checkDistinctMacs(specs: readonly NetSpec[]): void {
  checkDistinctForwards(specs.flatMap((s) => s.forwards));
  const seen = new Map<string, string>();
  for (const s of specs) {
    const other = seen.get(s.mac);
    if (other !== undefined) throw new TypervisorError(`--net ${s.text} and --net ${other} have the same MAC ${s.mac}`, { hint: 'give one of them another mac=' });
    seen.set(s.mac, s.text);
  }
}

function openBackend(spec: NetSpec, options: NetSocketOptions): Promise<NicConfig['backend']> {
  switch (spec.kind) {
    case 'user':
      return startPasst({ ...options, forwards: spec.forwards, ...(spec.dns ? { dns: spec.dns } : {}), name: `--net ${spec.text}` });
    case 'switch':
      return connectSwitch(spec.path, options);
    case 'tap':
      return TapBackend.open(spec.path, options);
    case 'socket':
      return spec.listen ? listenNetSocket(spec.path, options) : connectNetSocket(spec.path, options);
  }
}

/** The guest interfaces /init configures by DHCP: NIC i is eth<i> (probed in slot order), and passt's NICs get DHCP. */
export function dhcpInterfaces(specs: readonly NetSpec[]): string[] {
  return specs.flatMap((s, i) => (s.kind === 'user' ? [`eth${i}`] : []));
}

/** Opens each spec's backend (rate-limited where asked); if one fails, those already open are closed. */
export async function openNets(specs: readonly NetSpec[], options: NetSocketOptions = {}): Promise<NicConfig[]> {
  const nics: NicConfig[] = [];
  try {
    for (const spec of specs) {
      let backend = await openBackend(spec, options);
      if (spec.rate) backend = new RateLimitedBackend(backend, spec.rate);
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
  const unwrap = (b: NicConfig['backend']) => (b instanceof RateLimitedBackend ? b.inner : b);
  await Promise.all(nics.map((n) => unwrap(n.backend)).map((b) => (b instanceof PasstBackend ? b.exited : undefined)));
}
