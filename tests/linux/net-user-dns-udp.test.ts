// `--net user` (passt) beyond TCP, in one boot of the default guest: UDP both ways, and names.
// - hostfwd=udp: the host sends a datagram to 127.0.0.1:HOSTPORT, a UDP service in the guest
//   (tests/linux/programs/udp-probe.c; busybox's nc has no UDP) gets exactly those bytes, from the
//   gateway address and the host socket's port, and its answer reaches the host socket.
// - guest → host: the guest sends to the gateway address, which passt maps to the host's
//   loopback (passt(1), --no-map-gw); a node:dgram socket on 127.0.0.1 gets exactly the bytes,
//   from the guest's own source port (passt does no port translation), and its answer gets back.
// - names: dns=GATEWAY makes DHCP tell the guest the gateway as its resolver (passt's -D) instead
//   of the host's /etc/resolv.conf servers; the guest's queries to GATEWAY:53 reach a DNS server
//   of this test on the host's 127.0.0.1:53 (tests/linux/dns-test-server.ts). busybox nslookup
//   and wget by name (glibc's resolver) use it. Binding port 53 needs root (CI runs as root);
//   otherwise those checks are skipped, saying why, and the rest still runs.
// - and nowhere else: passt records the guest's frames (-p, through a TYPERVISOR_PASST wrapper);
//   every IPv4 packet the guest sent goes to the gateway or is its DHCP broadcast, so nothing
//   was sent towards the host's real resolvers (this machine is offline; tests stay on loopback).
//   Where strace is installed, passt runs under it too, and every address passt itself sent to
//   or connected to on the host is 127.0.0.1.
// Needs the build, the cached default guest, passt and gcc-riscv64-linux-gnu.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeCpioNewc } from '../../src/core/cpio-newc.js';
import { commandInitramfs } from '../../src/host/guest-image/command-initramfs.js';
import { ensureDefaultGuest } from '../../src/host/guest-image/default-guest.js';
import { findOnPath } from '../../src/host/passt.js';
import { DNS_TYPE_A, DnsTestServer } from './dns-test-server.js';
import { BOOT_TIMEOUT_MS, REPO_ROOT, runTool, runTypervisor, stripTerminalQueries, type RunResult } from './guest-harness.js';

const passt = findOnPath('passt', `${process.env['PATH']}:/usr/bin:/usr/sbin`);
const crossGcc = findOnPath('riscv64-linux-gnu-gcc');
const strace = findOnPath('strace', `${process.env['PATH']}:/usr/bin`);
const GUEST_MAC = '52:54:00:12:34:56'; // the first NIC's default

const MARKER_NAME = 'marker.typervisor-test.example';
const MARKER_ADDRESS = '198.51.100.42'; // TEST-NET-2 (RFC 5737): an answer nobody else gives
const WEB_NAME = 'web.typervisor-test.example'; // resolves to the gateway: the host's HTTP server
const MISSING_NAME = 'missing.typervisor-test.example';
const GUEST_UDP_PORT = 5555;
const HOST_TOKEN = `host-page-${process.pid}-${Date.now()}`;

// Exact bytes both ways, with 0x00 and 0xff in them.
const INBOUND = Buffer.concat([Buffer.from([0x00, 0xff, 0x0a]), randomBytes(45)]);
const OUTBOUND = Buffer.concat([Buffer.from([0xff, 0x00, 0x0d]), randomBytes(61)]);
const reversed = (b: Buffer) => Buffer.from(b).reverse();

const dir = mkdtempSync(path.join(tmpdir(), 'net-user-dns-udp-'));
const pcapPath = path.join(dir, 'guest.pcap');
const tracePath = path.join(dir, 'passt.strace');
let gateway = '';
let hostResolvers: string[] = [];
let dns: DnsTestServer | undefined;
let dnsSkip = '';
let http: Server | undefined;
let hostUdp: Socket | undefined; // 127.0.0.1:hostUdpPort, the guest sends here through the gateway
let prober: Socket | undefined; // sends to the udp hostfwd
let r: RunResult | undefined;
let out = '';
const hostUdpGot: { bytes: Buffer; from: RemoteInfo }[] = [];
const proberGot: { bytes: Buffer; from: RemoteInfo }[] = [];
let inboundSends = 0;

async function bindUdp(port = 0): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind({ address: '127.0.0.1', port, exclusive: true }, () => resolve());
  });
  return s;
}

/** A UDP port free on the host's loopback right now. */
async function freeUdpPort(): Promise<number> {
  const s = await bindUdp();
  const port = s.address().port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

interface Ipv4Packet {
  srcMac: string;
  src: string;
  dst: string;
  protocol: number;
  dstPort?: number;
}

/** The IPv4 packets of a pcap file of Ethernet frames (libpcap format, either byte order). */
function pcapIpv4(file: string): Ipv4Packet[] {
  const b = readFileSync(file);
  if (b.length < 24) throw new Error(`${file}: ${b.length} bytes, no pcap header`);
  const le = b.readUInt32LE(0) === 0xa1b2c3d4;
  if (!le && b.readUInt32BE(0) !== 0xa1b2c3d4) throw new Error(`${file}: not a pcap file`);
  const u32 = (at: number) => (le ? b.readUInt32LE(at) : b.readUInt32BE(at));
  if (u32(20) !== 1) throw new Error(`${file}: link type ${u32(20)}, not Ethernet`);
  const ip = (at: number) => [...b.subarray(at, at + 4)].join('.');
  const packets: Ipv4Packet[] = [];
  for (let at = 24; at + 16 <= b.length; ) {
    const len = u32(at + 8);
    const frame = at + 16;
    at = frame + len;
    if (at > b.length) break; // a record cut short by the kill
    if (len < 34 || b.readUInt16BE(frame + 12) !== 0x0800) continue;
    const ihl = (b[frame + 14]! & 0x0f) * 4;
    const protocol = b[frame + 14 + 9]!;
    const l4 = frame + 14 + ihl;
    packets.push({
      srcMac: [...b.subarray(frame + 6, frame + 12)].map((x) => x.toString(16).padStart(2, '0')).join(':'),
      src: ip(frame + 14 + 12),
      dst: ip(frame + 14 + 16),
      protocol,
      ...((protocol === 6 || protocol === 17) && l4 + 4 <= frame + len ? { dstPort: b.readUInt16BE(l4 + 2) } : {}),
    });
  }
  return packets;
}

const shown = () => (r ? `status ${r.status} after ${(r.ms / 1000).toFixed(1)} s\n--- stdout ---\n${out.slice(-4000)}\n--- stderr ---\n${r.stderr.slice(-3000)}` : 'no run');

describe.skipIf(!passt || !crossGcc)('--net user (passt): UDP both ways and names through a resolver on the host loopback, in one boot', () => {
  beforeAll(async () => {
    const route = runTool('ip', ['-4', 'route', 'show', 'default']).split('\n')[0]!.split(/\s+/);
    gateway = route[route.indexOf('via') + 1]!;
    hostResolvers = readFileSync('/etc/resolv.conf', 'utf8').split('\n').flatMap((l) => /^nameserver\s+(\d+\.\d+\.\d+\.\d+)/.exec(l)?.[1] ?? []);

    const names = new Map([[MARKER_NAME, MARKER_ADDRESS], [WEB_NAME, gateway]]);
    try {
      dns = await DnsTestServer.start(names, '127.0.0.1', 53);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      dnsSkip = code === 'EACCES' ? 'binding 127.0.0.1:53 needs root (CI runs as root)' : `cannot bind 127.0.0.1:53: ${(e as Error).message}`;
      console.warn(`net-user-dns-udp: the name checks are skipped: ${dnsSkip}`);
    }

    hostUdp = await bindUdp();
    hostUdp.on('message', (bytes, from) => {
      hostUdpGot.push({ bytes, from });
      hostUdp!.send(reversed(bytes), from.port, from.address);
    });
    prober = await bindUdp();
    prober.on('message', (bytes, from) => proberGot.push({ bytes, from }));
    const hostFwdPort = await freeUdpPort();
    // Once the guest says its service listens, send (again every 500 ms) until it answers.
    const sendInbound = () => {
      if (proberGot.length || inboundSends >= 120) return;
      inboundSends++;
      prober!.send(INBOUND, hostFwdPort, '127.0.0.1');
      setTimeout(sendInbound, 500).unref();
    };
    http = createHttpServer((req, res) => {
      if (req.url === '/udp-ready') sendInbound();
      res.end(req.url === '/udp-ready' ? 'ok\n' : `${HOST_TOKEN}\n`);
    });
    await new Promise<void>((resolve) => http!.listen({ port: 0, host: '127.0.0.1' }, resolve));
    const httpPort = (http.address() as { port: number }).port;

    const guest = await ensureDefaultGuest();
    const program = path.join(dir, 'udp-probe');
    runTool(crossGcc!, ['-static', '-O2', '-o', program, path.join(REPO_ROOT, 'tests/linux/programs/udp-probe.c')]);
    const script = [
      'gw=$(ip route | awk \'/^default/{print $3}\'); echo "gateway=$gw"',
      'echo "resolv=$(tr "\\n" ";" </etc/resolv.conf)"',
      // UDP into the guest: serve, tell the host, wait for the one datagram.
      `/udp-probe serve ${GUEST_UDP_PORT} >/tmp/serve.out 2>&1 & sp=$!`,
      `sleep 1; wget -q -O /dev/null http://$gw:${httpPort}/udp-ready; wait $sp; echo "serve-status=$?"; cat /tmp/serve.out`,
      // UDP out of the guest, to the host's loopback through the gateway address.
      `/udp-probe send $gw ${hostUdp.address().port} ${OUTBOUND.toString('hex')}; echo "send-status=$?"`,
      // Names.
      `nslookup ${MARKER_NAME} >/tmp/ns 2>&1; sed 's/^/ns-marker: /' /tmp/ns`,
      `nslookup ${MISSING_NAME} >/tmp/ns 2>&1; echo "ns-missing-status=$?"; sed 's/^/ns-missing: /' /tmp/ns`,
      `echo "page-by-name=$(wget -q -T 10 -O - http://${WEB_NAME}:${httpPort}/page 2>&1)"`,
    ].join('\n');
    const initrd = path.join(dir, 'initrd.cpio');
    const tool = writeCpioNewc([{ type: 'file', name: 'udp-probe', data: new Uint8Array(readFileSync(program)), mode: 0o755, mtime: 0 }]);
    writeFileSync(initrd, Buffer.concat([readFileSync(guest.initramfsPath), tool, commandInitramfs(['sh', '-c', script])]));

    // passt records the guest's frames. As root it drops to nobody before opening the file, hence
    // a folder anyone may write. strace (if there) logs where passt sends on the host.
    chmodSync(dir, 0o777);
    const wrapper = path.join(dir, 'passt-with-pcap');
    const traced = strace ? `${strace} -f -qq -o ${tracePath} -e trace=connect,sendto,sendmsg,sendmmsg ` : '';
    writeFileSync(wrapper, `#!/bin/sh\nexec ${traced}${passt} -p ${pcapPath} "$@"\n`, { mode: 0o755 });

    r = await runTypervisor(
      ['run', '--kernel', guest.kernelPath, '--initrd', initrd, '--append', 'console=ttyS0 quiet loglevel=0 typervisor.dhcp=eth0',
        '--net', `user,hostfwd=udp:127.0.0.1:${hostFwdPort}-:${GUEST_UDP_PORT},dns=${gateway}`],
      { env: { TYPERVISOR_PASST: wrapper } },
    );
    out = stripTerminalQueries(r.stdout).replace(/\r/g, '');
  }, BOOT_TIMEOUT_MS + 300_000);

  afterAll(async () => {
    http?.close();
    hostUdp?.close();
    prober?.close();
    await dns?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('boots, gets a lease whose resolver is only the dns= address', () => {
    expect(r?.status, shown()).toBe(0);
    expect(out, shown()).toContain(`gateway=${gateway}\n`);
    // The udhcpc script writes what DHCP said; passt read no nameserver of the host's.
    expect(/^resolv=(.*)$/m.exec(out)?.[1]?.split(';').filter((l) => l.startsWith('nameserver')), shown()).toEqual([`nameserver ${gateway}`]);
  });

  it('hostfwd=udp: a host datagram reaches the guest service byte for byte, and its answer the host', () => {
    expect(out, shown()).toContain('serve-status=0\n');
    // The guest sees the gateway address and the host socket's own port (no port translation).
    expect(out, shown()).toContain(`udp-served=${INBOUND.toString('hex')} from=${gateway}:${prober!.address().port}\n`);
    expect(inboundSends, 'datagrams the host sent before the answer').toBeGreaterThanOrEqual(1);
    expect(proberGot.length, shown()).toBe(1);
    expect(proberGot[0]!.bytes.toString('hex')).toBe(reversed(INBOUND).toString('hex'));
    expect(proberGot[0]!.from.address).toBe('127.0.0.1');
  });

  it('guest → host: a datagram to the gateway address reaches a socket on the host loopback byte for byte, and the answer gets back', () => {
    expect(out, shown()).toContain('send-status=0\n');
    const guestPort = Number(/^udp-sent-from=(\d+)$/m.exec(out)?.[1]);
    expect(hostUdpGot.length, shown()).toBeGreaterThanOrEqual(1);
    for (const got of hostUdpGot) {
      expect(got.bytes.toString('hex')).toBe(OUTBOUND.toString('hex'));
      expect(got.from.address).toBe('127.0.0.1');
      expect(got.from.port).toBe(guestPort);
    }
    expect(out, shown()).toContain(`udp-answer=${reversed(OUTBOUND).toString('hex')} from=${gateway}:${hostUdp!.address().port}\n`);
  });

  it('resolves names through the resolver on the host loopback (nslookup, and wget by name)', (ctx) => {
    if (!dns) {
      ctx.skip();
      return;
    }
    expect(out, shown()).toMatch(new RegExp(`^ns-marker: Name:\\s+${MARKER_NAME.replace(/\./g, '\\.')}\\nns-marker: Address:\\s+${MARKER_ADDRESS.replace(/\./g, '\\.')}$`, 'm'));
    expect(out, shown()).toMatch(/^ns-missing-status=1$/m);
    expect(out, shown()).toMatch(new RegExp(`^ns-missing: .*can't find ${MISSING_NAME.replace(/\./g, '\\.')}: NXDOMAIN$`, 'm'));
    expect(out, shown()).toContain(`page-by-name=${HOST_TOKEN}\n`);
    // The queries came through passt: to our server, from the host's loopback.
    const asked = (name: string) => dns!.queries.filter((q) => q.name === name && q.type === DNS_TYPE_A);
    for (const name of [MARKER_NAME, MISSING_NAME, WEB_NAME]) expect(asked(name).length, `A queries for ${name}: ${JSON.stringify(dns.queries)}`).toBeGreaterThanOrEqual(1);
    expect(new Set(dns.queries.map((q) => q.from))).toEqual(new Set(['127.0.0.1']));
  });

  it('the guest sent IPv4 only to the gateway (and its DHCP broadcast): nothing towards the host\'s resolvers', () => {
    expect(r?.status, shown()).toBe(0);
    const fromGuest = pcapIpv4(pcapPath).filter((p) => p.srcMac === GUEST_MAC);
    expect(fromGuest.length).toBeGreaterThan(0);
    const elsewhere = fromGuest.filter((p) => p.dst !== gateway && !(p.dst === '255.255.255.255' && p.protocol === 17 && p.dstPort === 67));
    expect(elsewhere).toEqual([]);
    for (const resolver of hostResolvers) expect(fromGuest.filter((p) => p.dst === resolver)).toEqual([]);
    // Its DNS queries went to the gateway, port 53 (when a server answered there, at least one per name).
    const queries = fromGuest.filter((p) => p.protocol === 17 && p.dstPort === 53);
    expect(queries.length).toBeGreaterThanOrEqual(dns ? 3 : 1);
    expect(new Set(queries.map((p) => p.dst))).toEqual(new Set([gateway]));
  });

  it.skipIf(!strace)('passt itself sent only to the host loopback (strace of its connect/send calls)', () => {
    expect(r?.status, shown()).toBe(0);
    const trace = readFileSync(tracePath, 'utf8');
    const v4 = [...trace.matchAll(/sin_port=htons\((\d+)\), sin_addr=inet_addr\("([\d.]+)"\)/g)].map((m) => `${m[2]}:${m[1]}`);
    expect(v4.length, trace.slice(-3000)).toBeGreaterThan(0);
    expect(v4.filter((a) => !a.startsWith('127.0.0.1:')), trace.slice(-3000)).toEqual([]);
    const v6 = [...trace.matchAll(/inet_pton\(AF_INET6, "([^"]+)", &sin6_addr\)/g)].map((m) => m[1]);
    expect(v6.filter((a) => a !== '::1'), trace.slice(-3000)).toEqual([]);
    expect(v4).toContain(`127.0.0.1:${hostUdp!.address().port}`);
    if (dns) expect(v4).toContain('127.0.0.1:53');
  });
});

// Without dns=, passt hands out the host's /etc/resolv.conf servers, and a loopback one (as
// systemd-resolved's 127.0.0.53) becomes the gateway address, whose queries passt sends to that
// loopback resolver and whose answers it maps back. The host's resolv.conf is replaced for
// typervisor and passt only, in a private mount namespace (unshare --mount; root, as is port 53).
const isRoot = process.getuid?.() === 0;
const unshare = findOnPath('unshare', `${process.env['PATH']}:/usr/bin`);
// A container without CAP_SYS_ADMIN cannot make a mount namespace even as root.
const canUnshareMount = isRoot && unshare !== undefined && spawnSync(unshare, ['--mount', 'true'], { stdio: 'ignore', timeout: 10_000 }).status === 0;
describe.skipIf(!passt || !canUnshareMount)('--net user (passt) without dns=: the host\'s loopback resolver', () => {
  it('is handed to the guest as the gateway address, and the guest\'s lookups reach it', async (ctx) => {
    const names = new Map([[MARKER_NAME, MARKER_ADDRESS]]);
    let server: DnsTestServer;
    try {
      server = await DnsTestServer.start(names, '127.0.0.53', 53);
    } catch (e) {
      console.warn(`net-user-dns-udp: skipped, cannot bind 127.0.0.53:53: ${(e as Error).message}`);
      ctx.skip();
      return;
    }
    const rcDir = mkdtempSync(path.join(tmpdir(), 'net-user-resolv-'));
    try {
      const resolvConf = path.join(rcDir, 'resolv.conf');
      writeFileSync(resolvConf, 'nameserver 127.0.0.53\n');
      const route = runTool('ip', ['-4', 'route', 'show', 'default']).split('\n')[0]!.split(/\s+/);
      const gw = route[route.indexOf('via') + 1]!;
      const run = await runTypervisor(
        ['run', '--net', 'user', '--', 'sh', '-c', `echo "resolv=$(tr "\\n" ";" </etc/resolv.conf)"; nslookup ${MARKER_NAME} >/tmp/ns 2>&1; sed 's/^/ns-marker: /' /tmp/ns`],
        { wrap: [unshare!, '--mount', 'sh', '-c', 'mount --bind "$0" /etc/resolv.conf && exec "$@"', resolvConf] },
      );
      const text = stripTerminalQueries(run.stdout).replace(/\r/g, '');
      const what = `status ${run.status}\n--- stdout ---\n${text.slice(-3000)}\n--- stderr ---\n${run.stderr.slice(-2000)}`;
      expect(run.status, what).toBe(0);
      expect(/^resolv=(.*)$/m.exec(text)?.[1]?.split(';').filter((l) => l.startsWith('nameserver')), what).toEqual([`nameserver ${gw}`]);
      expect(text, what).toMatch(new RegExp(`^ns-marker: Name:\\s+${MARKER_NAME.replace(/\./g, '\\.')}\\nns-marker: Address:\\s+${MARKER_ADDRESS.replace(/\./g, '\\.')}$`, 'm'));
      expect(server.queries.filter((q) => q.name === MARKER_NAME && q.type === DNS_TYPE_A).length, JSON.stringify(server.queries)).toBeGreaterThanOrEqual(1);
      // The host's own resolv.conf was never touched.
      expect(readFileSync('/etc/resolv.conf', 'utf8')).not.toContain('127.0.0.53');
    } finally {
      await server.close();
      rmSync(rcDir, { recursive: true, force: true });
    }
  }, BOOT_TIMEOUT_MS + 60_000);
});
