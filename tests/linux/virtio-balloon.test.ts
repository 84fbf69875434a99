// virtio-balloon in the default Debian guest, through the library API: a 512 MiB guest with a
// balloon (device id 5; /init loads virtio_balloon), the host asks for 128 MiB back with
// Machine.balloon.setTarget, and the guest's own /proc/meminfo shows MemTotal shrinking by that
// much (Linux takes ballooned pages out of MemTotal when DEFLATE_ON_OOM is not negotiated);
// `actualBytes` follows what the driver writes to `actual`; the statistics the guest reports
// agree with its /proc/meminfo; setTarget(0) gives the memory back.
// Needs the build and the cached default guest (fetched on first use).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Machine } from '../../src/index.js';
import { defaultGuestConfig } from '../../src/host/index.js';
import { ensureDefaultGuest } from '../../src/host/guest-image/default-guest.js';
import { BOOT_TIMEOUT_MS, runTypervisor, stripTerminalQueries, type RunResult } from './guest-harness.js';

const MiB = 1 << 20;
const STEP_MS = 120_000;

beforeAll(async () => {
  await ensureDefaultGuest();
}, 600_000);

/** Resolves with the first value `poll` returns that is not undefined, or rejects with `what` after `ms`. */
function waitUntil<T>(what: string, poll: () => T | undefined, ms = STEP_MS, context: () => string = () => ''): Promise<T> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const timer = setInterval(() => {
      const v = poll();
      if (v !== undefined) {
        clearInterval(timer);
        resolve(v);
      } else if (Date.now() - started > ms) {
        clearInterval(timer);
        reject(new Error(`timed out waiting for ${what}\n${context().slice(-2000)}`));
      }
    }, 50);
  });
}

let machine: Machine | undefined;
afterAll(async () => {
  machine?.quit(0);
  await machine?.exited.catch(() => undefined);
});

describe('virtio-balloon in the default guest, through the library API', () => {
  it('gives 128 MiB back on request, reports statistics, and takes the memory back', async () => {
    const config = await defaultGuestConfig({ memBytes: 512 * MiB });
    let out = '';
    const decoder = new TextDecoder('latin1');
    const m = await Machine.create({ ...config, devices: [{ type: 'virtio-balloon' }] }, { console: (b) => (out += decoder.decode(b)) });
    machine = m;
    const balloon = m.balloon!;
    expect(balloon).toBeDefined();
    m.start();
    const shown = () => out;
    await waitUntil('the shell prompt', () => (out.includes('# ') ? true : undefined), BOOT_TIMEOUT_MS, shown);

    /** MemTotal in kB as the guest's /proc/meminfo says, tagged so the typed line does not match. */
    let step = 0;
    const memTotalKb = async (): Promise<number> => {
      const tag = `MT${++step}`;
      m.consoleInput(new TextEncoder().encode(`echo ${tag}=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)\n`));
      const text = await waitUntil(`${tag}=…`, () => new RegExp(`^${tag}=(\\d+)\\s*$`, 'm').exec(out)?.[1], STEP_MS, shown);
      return Number(text);
    };

    const before = await memTotalKb();
    expect(before * 1024).toBeGreaterThan(400 * MiB); // 512 MiB less the kernel's own
    expect(before * 1024).toBeLessThanOrEqual(512 * MiB);
    expect(balloon.actualBytes).toBe(0);

    // The driver posts its first statistics at probe time (§5.5.6.3); they match /proc/meminfo.
    const first = await waitUntil('the first statistics', () => balloon.stats(), STEP_MS, shown);
    expect(first.totalMemory).toBe(before * 1024);
    expect(first.freeMemory).toBeGreaterThan(0);
    expect(first.freeMemory!).toBeLessThan(first.totalMemory!);
    expect(first.availableMemory!).toBeLessThanOrEqual(first.totalMemory!);
    expect(first.minorFaults).toBeGreaterThan(0);
    expect(first.swapIn).toBe(0); // no swap in the default guest
    expect(first.swapOut).toBe(0);

    balloon.setTarget(128 * MiB);
    await waitUntil('actual = 128 MiB', () => (balloon.actualBytes === 128 * MiB ? true : undefined), STEP_MS, () => `actual ${balloon.actualBytes}\n${out}`);
    expect(balloon.releasedBytes).toBe(128 * MiB);
    const inflated = await memTotalKb();
    expect(before - inflated).toBe(128 * 1024);

    // Fresh statistics on request: the device returns the buffer, the driver refills it.
    const later = await balloon.refreshStats();
    expect(later.totalMemory).toBe(inflated * 1024);
    expect(later.minorFaults!).toBeGreaterThanOrEqual(first.minorFaults!);

    balloon.setTarget(0);
    await waitUntil('actual = 0', () => (balloon.actualBytes === 0 ? true : undefined), STEP_MS, () => `actual ${balloon.actualBytes}\n${out}`);
    expect(balloon.releasedBytes).toBe(0);
    expect(await memTotalKb()).toBe(before);

    m.consoleInput(new TextEncoder().encode('poweroff\n'));
    expect(await m.exited).toEqual({ reason: 'finisher', code: 0 });
    machine = undefined;
  }, BOOT_TIMEOUT_MS + 5 * STEP_MS);
});

describe('typervisor run --balloon', () => {
  const shown = (r: RunResult) => `status ${r.status}\n--- stdout ---\n${stripTerminalQueries(r.stdout).slice(-3000)}\n--- stderr ---\n${r.stderr.slice(-3000)}`;
  /** Waits (in the guest) until MemTotal has not changed for 3 s (the driver inflates from its probe on), then prints it. */
  const settledMemTotal = [
    'sh', '-c',
    'last=0; same=0; for i in $(seq 120); do t=$(awk "/^MemTotal:/ { print \\$2 }" /proc/meminfo); if [ "$t" = "$last" ]; then same=$((same + 1)); [ $same -ge 3 ] && break; else same=0; fi; last=$t; sleep 1; done; echo "memtotal=$t"',
  ];

  it('starts the guest with the balloon already holding SIZE: MemTotal is that much below a balloon of 0', async () => {
    const empty = await runTypervisor(['run', '--mem', '512M', '--device', 'virtio-balloon', '--', ...settledMemTotal]);
    const full = await runTypervisor(['run', '--mem', '512M', '--balloon', '128M', '--', ...settledMemTotal]);
    for (const r of [empty, full]) expect(r.status, shown(r)).toBe(0);
    const kb = (r: RunResult) => Number(/^memtotal=(\d+)$/m.exec(r.stdout)?.[1]);
    expect(kb(empty), shown(empty)).toBeGreaterThan(400 * 1024);
    expect(kb(empty) - kb(full), `${shown(empty)}\n${shown(full)}`).toBe(128 * 1024);
  }, 2 * BOOT_TIMEOUT_MS + 10_000);
});
