import { spawnSync } from 'node:child_process';
import { createConnection } from 'node:net';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { netBackendConformance } from '../../tests/network/conformance.js';
import type { NetBackend } from '../network/net-backend.js';
import { encodeStreamFrame } from '../network/stream-framing.js';
import { connectSwitch } from './net-switch-client.js';
import { PORT_QUEUE_BYTES, startSwitchDaemon, type SwitchDaemon } from './net-switch-daemon.js';
import { checkSwitchName, ensureRuntimeDir, switchPaths } from './net-switch-paths.js';

const dirs: string[] = [];
const daemons: SwitchDaemon[] = [];
const newDir = () => {
  const d = mkdtempSync(path.join(tmpdir(), 'sw-'));
  dirs.push(d);
  return path.join(d, 'run');
};
afterEach(() => {
  for (const d of daemons.splice(0)) d.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Connects through connectSwitch, starting the daemon in this process when needed. */
function join(dir: string, name: string, graceMs = 200): Promise<NetBackend> {
  return connectSwitch(name, {
    dir,
    startDaemon: (d, n) => void startSwitchDaemon(d, n, { graceMs }).then((x) => x && daemons.push(x)),
  });
}

const frame = (dst: number, src: number, len = 60, fill = 0) => {
  const f = new Uint8Array(len).fill(fill);
  f.set([0x52, 0x54, 0, 0, 0, dst], 0);
  f.set([0x52, 0x54, 0, 0, 0, src], 6);
  return f;
};
const BCAST = (src: number) => {
  const f = frame(0, src);
  f.fill(0xff, 0, 6);
  return f;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const inbox = (b: NetBackend) => {
  const got: Uint8Array[] = [];
  b.attach({ receive: (f) => got.push(f) });
  return got;
};
async function until(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

netBackendConformance('two ports of a switch', async () => {
  const dir = newDir();
  const a = await join(dir, 'conf');
  const b = await join(dir, 'conf');
  return { a, b };
});

describe('--net switch:NAME', () => {
  it('validates names and keeps its runtime folder private', () => {
    expect(checkSwitchName('lab-1.a_B')).toBe('lab-1.a_B');
    for (const bad of ['', '..', 'a/b', 'x'.repeat(65), 'a b', 'é']) expect(() => checkSwitchName(bad)).toThrow(/not a switch name/);
    const dir = ensureRuntimeDir(newDir());
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });

  it('learns, floods broadcast to all others, sends unicast to one; switches do not mix', async () => {
    const dir = newDir();
    const [a, b, c] = [await join(dir, 'one'), await join(dir, 'one'), await join(dir, 'one')];
    const x = await join(dir, 'two');
    const [ia, ib, ic, ix] = [a, b, c, x].map(inbox);
    a.send(BCAST(1));
    x.send(BCAST(9));
    await until('the broadcast', () => ib.length === 1 && ic.length === 1);
    b.send(frame(1, 2));
    await until('the reply', () => ia.length === 1);
    a.send(frame(2, 1));
    await until('the unicast', () => ib.length === 2);
    await sleep(100);
    expect(ic.length).toBe(1); // c never saw the learned unicast
    expect(ia.length).toBe(1); // a never got its own broadcast back
    expect(ix.length).toBe(0); // nothing crossed from switch one to switch two
    for (const p of [a, b, c, x]) p.close();
  });

  it('two VMs starting at once get one daemon; it exits a grace period after the last port leaves', async () => {
    const dir = newDir();
    const ports = await Promise.all([join(dir, 'race'), join(dir, 'race'), join(dir, 'race')]);
    expect(daemons.length).toBe(1);
    const d = daemons[0]!;
    await until('three ports', () => d.portCount === 3);
    const paths = switchPaths(dir, 'race');
    expect(existsSync(paths.pid)).toBe(true);
    for (const p of ports) p.close();
    await sleep(50);
    expect(existsSync(paths.socket)).toBe(true); // still within the grace period
    await until('the daemon to exit', () => !existsSync(paths.socket) && !existsSync(paths.pid));
  });

  it('replaces a socket file left by a crashed daemon', async () => {
    const dir = ensureRuntimeDir(newDir());
    const paths = switchPaths(dir, 'stale');
    // A crashed daemon: the socket file stays, nothing listens (a process that bound and died).
    const r = spawnSync('python3', ['-c', 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', paths.socket]);
    expect(r.status).toBe(0);
    expect(existsSync(paths.socket)).toBe(true);
    const a = await join(dir, 'stale');
    const b = await join(dir, 'stale');
    const ib = inbox(b);
    a.send(BCAST(1));
    await until('a frame through the new daemon', () => ib.length === 1);
    a.close();
    b.close();
  });

  it('closes only the port whose framing is malformed', async () => {
    const dir = newDir();
    const a = await join(dir, 'mal');
    const b = await join(dir, 'mal');
    const d = daemons[0]!;
    const bad = createConnection({ path: switchPaths(dir, 'mal').socket });
    await new Promise((r) => bad.once('connect', r));
    await until('three ports', () => d.portCount === 3);
    const closed = new Promise((r) => bad.once('close', r));
    bad.write(Uint8Array.of(0x7f, 0xff, 0xff, 0xff, 1, 2, 3)); // a 2 GiB frame announced
    await closed;
    expect(d.stats.portsClosedMalformed).toBe(1);
    const ib = inbox(b);
    a.send(BCAST(1));
    await until('a frame between the survivors', () => ib.length === 1);
    a.close();
    b.close();
  });

  it('a port that does not read loses frames (counted); the others keep getting theirs', async () => {
    const dir = newDir();
    const a = await join(dir, 'slow');
    const b = await join(dir, 'slow');
    const d = daemons[0]!;
    const lazy = createConnection({ path: switchPaths(dir, 'slow').socket });
    await new Promise((r) => lazy.once('connect', r));
    lazy.pause(); // never reads: its kernel buffer fills, then the daemon's queue
    await until('three ports', () => d.portCount === 3);
    const ib = inbox(b);
    const big = BCAST(1);
    const f = new Uint8Array(9000);
    f.set(big.subarray(0, 12));
    const n = Math.ceil((PORT_QUEUE_BYTES * 3) / f.length);
    for (let i = 0; i < n; i++) {
      a.send(f.slice());
      if (i % 50 === 49) await until('b to keep up', () => ib.length >= i - 100, 10_000);
    }
    await until('every frame at b', () => ib.length === n, 20_000);
    expect(d.stats.dropped).toBeGreaterThan(0);
    lazy.destroy();
    a.close();
    b.close();
  });

  it('VMs whose daemon went away reconnect to a new one and talk again', async () => {
    const dir = newDir();
    const a = await join(dir, 'again');
    const b = await join(dir, 'again');
    const ib = inbox(b);
    a.send(BCAST(1));
    await until('a first frame', () => ib.length === 1);
    const first = daemons[0]!;
    first.close(); // as if it crashed: every port is cut
    await until('a new daemon with both ports', () => daemons.length === 2 && daemons[1]!.portCount === 2, 10_000);
    a.send(BCAST(1));
    await until('a frame through the new daemon', () => ib.length === 2);
    a.close();
    b.close();
  });

  it('survives a port flooding random source MACs: the table stays bounded, the others still talk', async () => {
    const dir = newDir();
    const a = await join(dir, 'flood');
    const b = await join(dir, 'flood');
    const d = daemons[0]!;
    const flood = createConnection({ path: switchPaths(dir, 'flood').socket });
    await new Promise((r) => flood.once('connect', r));
    flood.on('data', () => undefined);
    const chunk: Uint8Array[] = [];
    for (let i = 0; i < 20_000; i++) {
      const f = frame(0, 0);
      f.set([0x02, (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff, 0x5a, 0xa5], 6); // a new unicast source each time
      chunk.push(encodeStreamFrame(f));
    }
    flood.write(Buffer.concat(chunk));
    await until('the flood to pass', () => d.stats.framesIn >= 20_000, 20_000);
    expect(d.switch.tableSize).toBeLessThanOrEqual(4096);
    expect(d.switch.stats.evicted).toBeGreaterThan(10_000);
    const ib = inbox(b);
    a.send(BCAST(1));
    await until('a frame between the others', () => ib.some((f) => f[11] === 1));
    flood.destroy();
    a.close();
    b.close();
  });

  it('a raw client speaking the stream framing is a port like any other', async () => {
    const dir = newDir();
    const a = await join(dir, 'raw');
    const ia = inbox(a);
    const raw = createConnection({ path: switchPaths(dir, 'raw').socket });
    await new Promise((r) => raw.once('connect', r));
    raw.write(encodeStreamFrame(BCAST(7)));
    await until('the raw frame', () => ia.length === 1);
    raw.destroy();
    a.close();
  });
});
