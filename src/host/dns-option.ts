// `dns=ADDR` of `--net user`: the resolver the guest is told by DHCP (option 6, RFC 2132 §3.8),
// instead of the host's /etc/resolv.conf servers that passt hands out by default. Translated into
// passt's `-D ADDR` (passt(1): "Use addr … for DHCP … instead of reading addresses from
// /etc/resolv.conf"). With it, passt (0.0~git20230309) reads no IPv4 nameserver from the host's
// resolv.conf at all, so the guest neither learns nor is steered to the host's servers.
//
// passt relays the guest's queries like any other UDP: to ADDR through the host's sockets, except
// that the gateway address stands for the host itself (passt(1), "--no-map-gw": traffic to the
// gateway is remapped to the host's loopback) — so `dns=GATEWAY` reaches a resolver listening on
// the host's 127.0.0.1:53. A loopback address itself would be the guest's own, and is refused.
import { isIPv4 } from 'node:net';
import { TypervisorError } from '../core/errors.js';

/**
 * passt keeps MAXNS + 1 IPv4 resolvers, zero-terminated, and lets -D fill all four slots, which
 * would leave its DHCP reply without the terminator; resolv(5) allows three (MAXNS) anyway.
 */
export const MAX_DNS_SERVERS = 3;

export const DNS_SYNTAX = 'dns=IPV4ADDRESS (up to 3), e.g. dns=192.0.2.1';

/** Parses the value of one `dns=` option (without the `dns=`): an IPv4 address the guest can use. */
export function parseDnsServer(value: string): string {
  const text = `dns=${value}`;
  const fail = (why: string, hint: string) => new TypervisorError(`${text}: ${why}`, { hint });
  if (value === '') throw fail('no address', `write ${DNS_SYNTAX}`);
  // Dotted quad in decimal, without leading zeros (Node's isIPv4, like inet_pton(3), refuses
  // them; some tools read them as octal).
  if (!isIPv4(value)) throw fail(`'${value}' is not an IPv4 address`, `write ${DNS_SYNTAX} (IPv6 resolvers are not supported)`);
  const [a, b, c, d] = value.split('.').map(Number) as [number, number, number, number];
  if (a === 127) {
    throw fail(`${value} is a loopback address, which in the guest is the guest itself`, 'for a resolver on the host\'s 127.0.0.1:53, give the gateway address (the guest\'s `ip route`; passt maps it to the host\'s loopback)');
  }
  if (a === 0 && b === 0 && c === 0 && d === 0) throw fail('0.0.0.0 is not a resolver address', `write ${DNS_SYNTAX}`);
  if (a === 0) throw fail(`${value} is in 0.0.0.0/8 ("this network", RFC 1122 §3.2.1.3), not a resolver address`, `write ${DNS_SYNTAX}`);
  if (a >= 224 && a <= 239) throw fail(`${value} is a multicast address`, 'give a unicast address');
  if (a >= 240) throw fail(`${value} is a reserved or broadcast address`, 'give a unicast address');
  return value;
}

/** Refuses more resolvers than passt and the guest's resolv.conf take, and the same one twice. */
export function checkDnsServers(servers: readonly string[]): void {
  if (servers.length > MAX_DNS_SERVERS) {
    throw new TypervisorError(`${servers.length} dns= options; at most ${MAX_DNS_SERVERS} are allowed`, { hint: 'a guest resolver uses only the first three nameservers (resolv.conf(5), MAXNS)' });
  }
  const seen = new Set<string>();
  for (const s of servers) {
    if (seen.has(s)) throw new TypervisorError(`dns=${s} is given twice`, { hint: 'give each resolver once' });
    seen.add(s);
  }
}

/** passt's options for the resolvers: `-D ADDR` each, in order. */
export function passtDnsArgs(servers: readonly string[]): string[] {
  return servers.flatMap((s) => ['-D', s]);
}
