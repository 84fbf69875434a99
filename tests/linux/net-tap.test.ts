// `--net tap:IFNAME` end to end, inside a network namespace this test creates (so nothing
// leaves it): a TAP device with the host side at 10.78.0.1, typervisor started in the namespace
// with the default guest on that device; the guest pings the host side and fetches a page
// from a server listening there. Needs root, /dev/net/tun, iproute2 and socat; skipped (with
// the reason) where the machine cannot create namespaces or TAP devices.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDefaultGuest } from '../../src/host/guest-image/default-guest.js';
import { runTypervisor, stripTerminalQueries, type RunResult } from './guest-harness.js';

const NS = `tvtap${process.pid}`;
const TAP = 'tvtap0';
const dir = mkdtempSync(path.join(tmpdir(), 'typervisor-tap-'));
const shown = (r: RunResult) => `status ${r.status}\n--- stdout ---\n${stripTerminalQueries(r.stdout).slice(-3000)}\n--- stderr ---\n${r.stderr.slice(-2000)}`;

function sh(cmd: string): { status: number | null; out: string } {
  const r = spawnSync('sh', ['-c', cmd], { encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** Why this machine cannot run the test, or undefined when it can. */
function unavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, TAP devices)';
  if (!existsSync('/dev/net/tun')) return 'no /dev/net/tun';
  if (sh('command -v socat && command -v ip').status !== 0) return 'needs socat and iproute2';
  const made = sh(`ip netns add ${NS} && ip netns exec ${NS} ip tuntap add dev ${TAP} mode tap`);
  if (made.status !== 0) return `cannot create a namespace with a TAP device here: ${made.out.trim()}`;
  return undefined;
}

const why = unavailable();

beforeAll(async () => {
  if (why) return;
  await ensureDefaultGuest();
  sh(`ip netns exec ${NS} ip link set lo up && ip netns exec ${NS} ip addr add 10.78.0.1/24 dev ${TAP} && ip netns exec ${NS} ip link set ${TAP} up`);
  writeFileSync(path.join(dir, 'index.html'), 'served on the tap\n');
}, 600_000);

afterAll(() => {
  sh(`ip netns del ${NS} 2>/dev/null`);
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(why !== undefined)(`--net tap:IFNAME${why ? ` (skipped: ${why})` : ''}`, () => {
  it('joins the guest to the TAP device: ping and a page from the host side', async () => {
    // A page server on the host side of the TAP device, in the namespace.
    const server = `ip netns exec ${NS} ${process.execPath} -e "require('http').createServer((q,s)=>s.end(require('fs').readFileSync('${path.join(dir, 'index.html')}'))).listen(8078,'10.78.0.1')"`;
    const r = await runTypervisor(['run', '--net', `tap:${TAP},mac=52:54:00:78:00:02`, '--', 'sh', '-c',
      'ip addr add 10.78.0.2/24 dev eth0; ip link set eth0 up; ping -c 3 -W 2 10.78.0.1 | tail -2; echo "page=$(wget -q -O - http://10.78.0.1:8078/)"'],
    { wrap: ['sh', '-c', `${server} & s=$!; sleep 0.5; ip netns exec ${NS} "$@"; rc=$?; kill $s; exit $rc`, 'sh'] });
    expect(r.status, shown(r)).toBe(0);
    const out = stripTerminalQueries(r.stdout);
    expect(out, shown(r)).toMatch(/3 packets transmitted, 3 packets received/);
    expect(out, shown(r)).toContain('page=served on the tap\n');
    // The relay went with the VM ([t]: pgrep must not find its own shell's command line).
    for (let i = 0; i < 20 && sh(`pgrep -f "[t]un-name=${TAP}"`).status === 0; i++) await new Promise((ok) => setTimeout(ok, 100));
    expect(sh(`pgrep -f "[t]un-name=${TAP}"`).status).not.toBe(0);
  });

  it('says why when the device cannot be attached', async () => {
    const r = await runTypervisor(['run', '--net', 'tap:bad/name', '--', 'true']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/'bad\/name' is not an interface name/);
  });
});
