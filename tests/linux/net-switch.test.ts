// --net switch:NAME end to end: three typervisor processes. A and B join switch testA (B with a
// second NIC on the same switch limited to rate=64k); C joins switch testB with an address in the
// same subnet. B pings A, pulls 8 MiB from A through its unlimited NIC and 640 KiB through the
// limited one (which must stay within 64 KiB/s while the other is much faster), then A pulls
// 640 KiB out of B's limited NIC (B's transmissions wait for tokens); C can reach neither, and A never
// heard of C (no neighbour entry: not one of C's ARP requests crossed). The daemons exit once
// their VMs left (socket and pid files gone, processes gone), and their logs' counters agree.
// Needs the build and the cached default guest.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureDefaultGuest } from '../../src/host/guest-image/index.js';
import { readPidFile } from '../../src/host/net-switch-daemon.js';
import { switchPaths } from '../../src/host/net-switch-paths.js';
import { processAlive } from '../../src/host/process-alive.js';
import { BOOT_TIMEOUT_MS, runTypervisor, stripTerminalQueries, type RunResult } from './guest-harness.js';

const BYTES = 8 << 20;
// The limit is small enough that the unlimited path beats it by far even on a loaded 2-core
// machine (three emulated VMs moved 0.3–0.7 MiB/s there), so "much faster" can be asserted:
// 640 KiB through rate=64k takes ≥ 9 s (the first 64 KiB pass at once: the burst).
const RATE = 64 << 10;
const SLOW_BYTES = 640 << 10;
const BURST = 65550; // the default burst: a tenth of a second, at least one maximal frame
const dir = mkdtempSync(path.join(tmpdir(), 'sw-'));
const env = { TYPERVISOR_RUNTIME_DIR: path.join(dir, 'run'), TYPERVISOR_SWITCH_GRACE_MS: '1000' };
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const shown = (name: string, r: RunResult) =>
  `${name}: status ${r.status} after ${(r.ms / 1000).toFixed(1)} s\n--- stdout ---\n${stripTerminalQueries(r.stdout).slice(-2500)}\n--- stderr ---\n${r.stderr.slice(-1500)}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** `pull HOST PORT LABEL BYTES`: reads BYTES from HOST:PORT (retrying until the server listens), prints LABEL=count t0 t1. */
const PULL = `pull() { n=0; j=0; while [ "$n" != $4 ] && [ $j -lt 30 ]; do t0=$(cut -d" " -f1 /proc/uptime); n=$(timeout 120 nc $1 $2 | head -c $4 | wc -c); t1=$(cut -d" " -f1 /proc/uptime); j=$((j+1)); [ "$n" = $4 ] || sleep 2; done; echo "$3=$n $t0 $t1"; }`;
const waitUp = 'i=0; until ping -c 1 -W 2 10.0.2.1 >/dev/null 2>&1; do i=$((i+1)); [ $i -ge 120 ] && break; done';

describe('--net switch:NAME between typervisor processes', () => {
  it('joins VMs on one switch, isolates another switch, limits a NIC to rate=64k, and the daemons exit after', async () => {
    await ensureDefaultGuest();
    const run = env.TYPERVISOR_RUNTIME_DIR;
    const a = runTypervisor([
      'run', '--net', 'switch:testA,mac=52:54:00:00:02:01', '--', 'sh', '-c',
      [
        'ip addr add 10.0.2.1/24 dev eth0 && ip addr add 10.0.4.1/24 dev eth0 && ip link set eth0 up',
        '(timeout 200 nc -l -p 7000 < /dev/zero; echo served-fast) &',
        '(timeout 200 nc -l -p 7001 < /dev/zero; echo served-slow) &',
        'wait',
        // Then the other way: A pulls from B's limited NIC, so B's transmissions wait for tokens.
        PULL,
        `pull 10.0.4.2 7003 up ${SLOW_BYTES}`,
        'echo "neighC=[$(ip neigh show 10.0.2.3)]"',
      ].join('\n'),
    ], { env });
    const b = runTypervisor([
      'run', '--net', 'switch:testA,mac=52:54:00:00:02:02', '--net', `switch:testA,mac=52:54:00:00:02:12,rate=64k`, '--', 'sh', '-c',
      [
        // Two NICs on one segment: each answers ARP only for its own addresses (else A could
        // send the limited NIC's traffic to the unlimited one).
        'echo 1 > /proc/sys/net/ipv4/conf/all/arp_ignore',
        'ip addr add 10.0.2.2/24 dev eth0 && ip link set eth0 up && ip addr add 10.0.4.2/24 dev eth1 && ip link set eth1 up',
        '(timeout 300 nc -l -p 7003 < /dev/zero; echo served-up) &',
        waitUp,
        'ping -c 3 10.0.2.1',
        PULL,
        `pull 10.0.2.1 7000 fast ${BYTES}`,
        `pull 10.0.4.1 7001 slow ${SLOW_BYTES}`,
        'wait',
        'echo "rx1=$(cat /sys/class/net/eth1/statistics/rx_bytes) tx1=$(cat /sys/class/net/eth1/statistics/tx_bytes) tx1dropped=$(cat /sys/class/net/eth1/statistics/tx_dropped)"',
      ].join('\n'),
    ], { env });
    const c = runTypervisor([
      'run', '--net', 'switch:testB,mac=52:54:00:00:02:03', '--', 'sh', '-c',
      [
        'ip addr add 10.0.2.3/24 dev eth0 && ip link set eth0 up',
        // About 40 s of ARP requests for A and B while they run.
        'ping -c 20 -W 1 10.0.2.1; echo "pingA=$?"',
        'ping -c 20 -W 1 10.0.2.2; echo "pingB=$?"',
      ].join('\n'),
    ], { env });
    // While they run: the two daemons' pids.
    const pids = new Map<string, number>();
    const deadline = Date.now() + BOOT_TIMEOUT_MS;
    while (pids.size < 2 && Date.now() < deadline) {
      for (const name of ['testA', 'testB']) {
        const pid = readPidFile(switchPaths(run, name).pid);
        if (pid !== undefined) pids.set(name, pid);
      }
      await sleep(200);
    }
    const [ra, rb, rc] = await Promise.all([a, b, c]);
    const outA = stripTerminalQueries(ra.stdout);
    const outB = stripTerminalQueries(rb.stdout);
    const outC = stripTerminalQueries(rc.stdout);
    const all = [shown('A', ra), shown('B', rb), shown('C', rc)].join('\n');
    expect([ra.status, rb.status, rc.status], all).toEqual([0, 0, 0]);
    expect(pids.size, all).toBe(2);

    // A and B on testA talk.
    expect(outB, all).toMatch(/3 packets transmitted, 3 packets received, 0% packet loss/);
    const fast = /fast=(\d+) ([\d.]+) ([\d.]+)/.exec(outB);
    const slow = /slow=(\d+) ([\d.]+) ([\d.]+)/.exec(outB);
    expect(fast && slow, all).toBeTruthy();
    expect(Number(fast![1]), all).toBe(BYTES);
    expect(Number(slow![1]), all).toBe(SLOW_BYTES);
    const fastS = Number(fast![3]) - Number(fast![2]);
    const slowS = Number(slow![3]) - Number(slow![2]);
    const fastRate = BYTES / fastS;
    const slowRate = SLOW_BYTES / slowS;
    console.log(`switch: ${BYTES >> 20} MiB A → B unlimited in ${fastS.toFixed(2)} s (${(fastRate / 1024).toFixed(0)} KiB/s); ${SLOW_BYTES >> 10} KiB through rate=64k in ${slowS.toFixed(2)} s (${(slowRate / 1024).toFixed(0)} KiB/s)`);
    // The limit holds: throughput ≤ rate × 1.1 + burst / time (guest clock; it is the host's).
    expect(slowRate, all).toBeLessThanOrEqual(RATE * 1.1 + BURST / slowS);
    expect(slowS, all).toBeGreaterThanOrEqual(8);
    // … and it is the limit that slowed it: without one the same path is much faster.
    expect(fastRate, all).toBeGreaterThan(2 * slowRate);
    // Guest → network through the limit: B's frames wait for tokens (none dropped), same bound.
    const up = /up=(\d+) ([\d.]+) ([\d.]+)/.exec(outA);
    expect(up, all).toBeTruthy();
    expect(Number(up![1]), all).toBe(SLOW_BYTES);
    const upS = Number(up![3]) - Number(up![2]);
    const upRate = SLOW_BYTES / upS;
    console.log(`switch: ${SLOW_BYTES >> 10} KiB B → A out of B's rate=64k NIC in ${upS.toFixed(2)} s (${(upRate / 1024).toFixed(0)} KiB/s)`);
    expect(upRate, all).toBeLessThanOrEqual(RATE * 1.1 + BURST / upS);
    expect(upS, all).toBeGreaterThanOrEqual(8);
    expect(outB, all).toContain('served-up');
    expect(outB, all).toContain('tx1dropped=0');
    expect(outA, all).toContain('served-fast');
    expect(outA, all).toContain('served-slow');

    // C on testB reaches neither, and A never saw one of C's ARP requests.
    expect(outC, all).toContain('pingA=1');
    expect(outC, all).toContain('pingB=1');
    expect(outC, all).toMatch(/20 packets transmitted, 0 packets received/);
    expect(outA, all).toContain('neighC=[]');

    // The daemons leave once their VMs did: files and processes gone.
    for (const [name, pid] of pids) {
      const p = switchPaths(run, name);
      const end = Date.now() + 15_000;
      while ((processAlive(pid) || existsSync(p.socket)) && Date.now() < end) await sleep(100);
      expect(processAlive(pid), `${name} daemon ${pid} still running`).toBe(false);
      expect(existsSync(p.socket)).toBe(false);
      expect(existsSync(p.pid)).toBe(false);
    }
    // Their counters: testB's only port never had anyone to send to; testA carried the pulls.
    const exitStats = (name: string) => {
      const lines = readFileSync(switchPaths(run, 'x').log.replace('switch-x', `switch-${name}`), 'utf8').trim().split('\n');
      return JSON.parse(lines.filter((l) => l.includes('"exit"')).at(-1)!) as { ports: number; framesIn: number; framesOut: number };
    };
    const sa = exitStats('testA');
    const sb = exitStats('testB');
    expect(sb, all).toMatchObject({ ports: 1, framesOut: 0 });
    expect(sb.framesIn, all).toBeGreaterThan(0);
    // A, B's two NICs, and maybe the probe of a second daemon that lost the start race.
    expect(sa.ports, all).toBeGreaterThanOrEqual(3);
    expect(sa.framesOut, all).toBeGreaterThan((BYTES + SLOW_BYTES) / 1514);
  }, 3 * BOOT_TIMEOUT_MS);
});
