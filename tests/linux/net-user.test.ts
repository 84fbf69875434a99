// `--net user` end to end: the default guest on Debian's passt. /init gets a DHCP lease
// (typervisor.dhcp=eth0); the guest fetches a page from an HTTP server on the host's loopback
// through the gateway address (passt maps it to the host) and serves a page that the host
// fetches through hostfwd=tcp::PORT-:80. passt's own rules are the reference: it hands the guest
// the host's address, gateway and DNS servers (passt(1): "default: use addresses from interface
// with default route", "default: use addresses from /etc/resolv.conf"), read here from the host.
// And no passt outlives typervisor: after a normal exit, a failing CLI, or a SIGKILL.
// Needs the build, the cached default guest, and passt.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, get, type Server } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findOnPath } from '../../src/host/passt.js';
import { BOOT_TIMEOUT_MS, CLI, REPO_ROOT, runTool, runTypervisor, stripTerminalQueries, type RunResult } from './guest-harness.js';

const havePasst = findOnPath('passt', `${process.env['PATH']}:/usr/bin`) !== undefined;

/** A TCP port free on the host right now. */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen({ port: 0, host: '127.0.0.1' }, r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** pids of running passt processes whose command line holds `needle` (a zombie does not run). */
function passtPids(needle: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      if (!/passt/.test(cmdline[0] ?? '') || !cmdline.join(' ').includes(needle)) continue;
      if (running(Number(name))) pids.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** Whether `pid` exists and is not a zombie (one whose parent died is reaped by init, or not). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

function fetchText(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get(url, { timeout: 3000 }, (res) => {
      let body = '';
      res.on('data', (b: Buffer) => (body += b.toString()));
      res.on('end', () => resolve(body));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

const HOST_TOKEN = `host-page-${process.pid}-${Date.now()}`;
const GUEST_TOKEN = `guest-page-${process.pid}`;
let http: Server;
let httpPort: number;
let guestServed = false;

beforeAll(async () => {
  http = createHttpServer((req, res) => {
    res.end(req.url === '/done' ? (guestServed ? 'yes' : 'no') : `${HOST_TOKEN}\n`);
  });
  await new Promise<void>((r) => http.listen({ port: 0, host: '127.0.0.1' }, r));
  httpPort = (http.address() as { port: number }).port;
});
afterAll(() => http?.close());

const shown = (r: RunResult) => `status ${r.status} after ${(r.ms / 1000).toFixed(1)} s\n--- stdout ---\n${stripTerminalQueries(r.stdout).slice(-3000)}\n--- stderr ---\n${r.stderr.slice(-3000)}`;

describe.skipIf(!havePasst)('--net user (passt) in the default guest', () => {
  it('gets a DHCP lease, fetches a page from the host, serves one through hostfwd; passt is gone after exit', async () => {
    const fwdPort = await freePort();
    const script = [
      'echo "lease=$(ip -4 -o addr show dev eth0 | awk \'{print $4}\')"',
      'gw=$(ip route | awk \'/^default/{print $3}\'); echo "gateway=$gw"',
      'echo "dns=$(awk \'/^nameserver/{print $2}\' /etc/resolv.conf | tr "\\n" " ")"',
      `echo "page=$(wget -q -O - http://$gw:${httpPort}/page)"`,
      `mkdir -p /www && echo ${GUEST_TOKEN} > /www/index.html && httpd -p 80 -h /www`,
      // Wait (up to ~2 minutes) until the host says it fetched our page.
      `i=0; until [ "$(wget -q -O - http://$gw:${httpPort}/done)" = yes ]; do i=$((i+1)); [ $i -ge 120 ] && break; sleep 1; done; echo "served=$i"`,
    ].join('; ');
    const run = runTypervisor(['run', '--net', `user,hostfwd=tcp::${fwdPort}-:80`, '--', 'sh', '-c', script]);
    // Meanwhile: note passt's pid, and fetch the guest's page through the forward.
    const seen = new Set<number>();
    let finished = false;
    void run.finally(() => (finished = true)).catch(() => undefined);
    let fetched = '';
    while (!finished && !guestServed) {
      for (const pid of passtPids(`${fwdPort}:80`)) seen.add(pid);
      fetched = await fetchText(`http://127.0.0.1:${fwdPort}/`).catch(() => '');
      if (fetched.trim() === GUEST_TOKEN) guestServed = true;
      else await new Promise((r) => setTimeout(r, 500));
    }
    const r = await run;
    const out = stripTerminalQueries(r.stdout);
    expect(r.status, shown(r)).toBe(0);
    expect(fetched.trim(), shown(r)).toBe(GUEST_TOKEN);
    expect(out, shown(r)).toContain(`page=${HOST_TOKEN}\n`);
    expect(out, shown(r)).toMatch(/served=\d+\n/);

    // The lease is passt's: the host's address and gateway on its default-route interface.
    const route = runTool('ip', ['-4', 'route', 'show', 'default']).split('\n')[0]!.split(/\s+/);
    const hostGateway = route[route.indexOf('via') + 1];
    const hostIf = route[route.indexOf('dev') + 1]!;
    const hostAddress = /inet (\S+)/.exec(runTool('ip', ['-4', '-o', 'addr', 'show', 'dev', hostIf]))?.[1];
    expect(out, shown(r)).toContain(`lease=${hostAddress}\n`);
    expect(out, shown(r)).toContain(`gateway=${hostGateway}\n`);
    // Names: the guest's resolv.conf lists the host's (non-loopback) nameservers, as passt
    // announces them by DHCP; the guest's queries go through passt to those servers. A lookup
    // is not tried: the tests stay on loopback, and the host's resolver is not there.
    const hostDns = readFileSync('/etc/resolv.conf', 'utf8').split('\n').flatMap((l) => /^nameserver\s+(\d+\.\d+\.\d+\.\d+)/.exec(l)?.[1] ?? []).filter((a) => !a.startsWith('127.'));
    if (hostDns.length) expect(out, shown(r)).toContain(`dns=${hostDns.join(' ')} \n`);

    expect(seen.size, 'passt was seen running during the VM').toBe(1);
    for (const pid of seen) expect(running(pid), `passt ${pid} after the VM exited`).toBe(false);
  }, BOOT_TIMEOUT_MS + 180_000);

  it('stops passt when the CLI fails after starting it (a second --net cannot connect)', async () => {
    const fwdPort = await freePort();
    const r = await runTypervisor(['run', '--net', `user,hostfwd=tcp::${fwdPort}-:80`, '--net', `socket:/nonexistent/typervisor-test.sock`, '--', 'true']);
    expect(r.status, shown(r)).not.toBe(0);
    expect(r.stderr).toMatch(/nothing listens at \/nonexistent\/typervisor-test\.sock/);
    expect(passtPids(`${fwdPort}:80`)).toEqual([]);
  }, 120_000);

  it('says which host port is taken', async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen({ port: 0, host: '127.0.0.1' }, r));
    const port = (taken.address() as { port: number }).port;
    try {
      const r = await runTypervisor(['run', '--net', `user,hostfwd=tcp::${port}-:22`, '--', 'true']);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toContain(`--net user,hostfwd=tcp::${port}-:22: hostfwd=tcp::${port}-:22: host tcp port ${port} is already in use`);
    } finally {
      taken.close();
    }
  }, 120_000);

  it('leaves no passt behind when typervisor is killed with SIGKILL (passt exits when its end of the socket pair closes)', async () => {
    const fwdPort = await freePort();
    const child = spawn(process.execPath, [CLI, 'run', '--net', `user,hostfwd=tcp::${fwdPort}-:80`, '--', 'sleep', '600'], { cwd: REPO_ROOT, stdio: 'ignore' });
    let pids: number[] = [];
    const deadline = Date.now() + 60_000;
    while (!pids.length && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      pids = passtPids(`${fwdPort}:80`);
    }
    child.kill('SIGKILL');
    expect(pids).toHaveLength(1);
    const gone = Date.now() + 10_000;
    while (running(pids[0]!) && Date.now() < gone) await new Promise((r) => setTimeout(r, 100));
    expect(running(pids[0]!), `passt ${pids[0]} after typervisor was killed`).toBe(false);
  }, 120_000);
});

describe('DHCP in the default guest without a server', () => {
  it('gives up after a few seconds and runs the command anyway (typervisor.dhcp on a NIC nobody answers)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'net-user-nodhcp-'));
    try {
      const r = await runTypervisor([
        'run', '--append', 'console=ttyS0 quiet loglevel=0 typervisor.dhcp=eth0', '--net', `socket:listen:${path.join(dir, 'nobody.sock')}`, '--', 'sh', '-c',
        'echo "command-ran addr=[$(ip -4 -o addr show dev eth0)] uptime=$(cut -d" " -f1 /proc/uptime)"',
      ]);
      const out = stripTerminalQueries(r.stdout);
      expect(r.status, shown(r)).toBe(0);
      expect(out, shown(r)).toContain('typervisor: no DHCP lease on eth0 (try: udhcpc -i eth0)');
      expect(out, shown(r)).toContain('command-ran addr=[]');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, BOOT_TIMEOUT_MS + 60_000);
});
