// `hostfwd=` of `--net user`: QEMU's syntax for a host port that forwards to a guest port
// (QEMU's -netdev user: `hostfwd=[tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport`),
// translated into passt's -t/-u port specs (passt(1), "-t, --tcp-ports SPEC").
import { isIPv4 } from 'node:net';
import { TypervisorError } from '../core/errors.js';

/** One host → guest port forward. */
export interface HostForward {
  readonly protocol: 'tcp' | 'udp';
  /** The host address to bind (IPv4 dotted quad); undefined: every address, as QEMU and passt do. */
  readonly hostAddress?: string;
  readonly hostPort: number;
  readonly guestPort: number;
  /** As given (`hostfwd=…`), for messages. */
  readonly text: string;
}

export const HOSTFWD_SYNTAX = 'hostfwd=tcp::HOSTPORT-:GUESTPORT (or udp; optionally a host IPv4 address: hostfwd=tcp:127.0.0.1:8080-:80)';

/** Parses the value of one `hostfwd=` option (without the `hostfwd=`). */
export function parseHostForward(value: string): HostForward {
  const text = `hostfwd=${value}`;
  const fail = (why: string, hint = `write ${HOSTFWD_SYNTAX}`) => new TypervisorError(`${text}: ${why}`, { hint });
  // protocol : hostaddr : hostport - guestaddr : guestport. The host part has exactly one ':'
  // before the '-' (IPv4 only; no '-' can appear in it), the guest part one after.
  const dash = value.indexOf('-');
  if (dash < 0) throw fail("no '-' between the host and the guest side");
  const host = value.slice(0, dash).split(':');
  const guest = value.slice(dash + 1).split(':');
  if (host.length !== 3) throw fail(`the host side '${value.slice(0, dash)}' is not PROTOCOL:[ADDRESS]:PORT`);
  if (guest.length !== 2) throw fail(`the guest side '${value.slice(dash + 1)}' is not [ADDRESS]:PORT`);
  const [protocolText, hostAddress, hostPortText] = host as [string, string, string];
  const [guestAddress, guestPortText] = guest as [string, string];
  // QEMU takes an empty protocol as tcp (net/slirp.c, slirp_hostfwd).
  const protocol = protocolText === '' ? 'tcp' : protocolText.toLowerCase();
  if (protocol !== 'tcp' && protocol !== 'udp') throw fail(`unknown protocol '${protocolText}'`, 'use tcp or udp');
  if (hostAddress !== '' && !isIPv4(hostAddress)) throw fail(`'${hostAddress}' is not an IPv4 address`, 'leave it empty (every host address) or give one like 127.0.0.1');
  if (guestAddress !== '') {
    throw fail(`a guest address ('${guestAddress}') cannot be chosen`, 'passt forwards to the one address it gave the guest by DHCP: leave it empty, hostfwd=tcp::HOSTPORT-:GUESTPORT');
  }
  const hostPort = parsePort(hostPortText, 'host', fail);
  const guestPort = parsePort(guestPortText, 'guest', fail);
  return { protocol, ...(hostAddress !== '' ? { hostAddress } : {}), hostPort, guestPort, text };
}

function parsePort(text: string, side: 'host' | 'guest', fail: (why: string, hint?: string) => TypervisorError): number {
  if (text === '') throw fail(`no ${side} port`);
  if (!/^\d{1,5}$/.test(text)) throw fail(`${side} port '${text}' is not a number`, 'ports are decimal numbers from 1 to 65535');
  const port = Number(text);
  if (port < 1 || port > 65535) throw fail(`${side} port ${port} is out of range`, 'ports are decimal numbers from 1 to 65535');
  return port;
}

/** Refuses two forwards of one host port and protocol (the second bind would fail in passt, silently). */
export function checkDistinctForwards(forwards: readonly HostForward[]): void {
  const seen = new Map<string, HostForward>();
  for (const f of forwards) {
    const key = `${f.protocol}:${f.hostPort}`;
    const other = seen.get(key);
    if (other) throw new TypervisorError(`${f.text} and ${other.text} both forward ${f.protocol} host port ${f.hostPort}`, { hint: 'give each forward its own host port' });
    seen.set(key, f);
  }
}

/**
 * passt's options for the forwards: `-t [ADDR/]HOSTPORT:GUESTPORT` for TCP, `-u …` for UDP
 * (passt(1): the target port after ':', a bind address suffixed by '/').
 */
export function passtForwardArgs(forwards: readonly HostForward[]): string[] {
  return forwards.flatMap((f) => [f.protocol === 'tcp' ? '-t' : '-u', `${f.hostAddress !== undefined ? `${f.hostAddress}/` : ''}${f.hostPort}:${f.guestPort}`]);
}
