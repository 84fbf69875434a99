// The passt supervisor, against a fake passt (a node script that behaves as told by
// FAKE_PASST_MODE) for every way a child can behave, and against Debian's passt when installed.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseHostForward } from './host-forward.js';
import { findOnPath, startPasst } from './passt.js';
import { processAlive } from './process-alive.js';

const dir = mkdtempSync(path.join(tmpdir(), 'passt-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Modes: echo (echo the bytes of fd 3 back), ignore-term (echo, but survive SIGTERM and the socket's close), fail
// (print and exit 3), quit-later (echo, exit 4 after 300 ms). It logs argv and pid to FAKE_PASST_LOG.
const fake = path.join(dir, 'fake-passt.mjs');
writeFileSync(
  fake,
  `#!${process.execPath}
import { appendFileSync } from 'node:fs';
import { Socket } from 'node:net';
const args = process.argv.slice(2);
appendFileSync(process.env.FAKE_PASST_LOG, JSON.stringify({ pid: process.pid, args }) + '\\n');
const mode = process.env.FAKE_PASST_MODE;
if (mode === 'fail') { console.error('Failed to send 40 bytes to syslog'); console.error('Couldn\\'t set up network namespace'); process.exit(3); }
// A stuck passt: survives SIGTERM and our end closing.
if (mode === 'ignore-term') (process.on('SIGTERM', () => {}), setInterval(() => {}, 1000));
if (mode === 'quit-later') setTimeout(() => process.exit(4), 300);
const s = new Socket({ fd: Number(args[args.indexOf('-F') + 1]) });
s.pipe(s);
s.on('close', () => mode !== 'ignore-term' && process.exit(0));
`,
);
chmodSync(fake, 0o755);

let runs = 0;
function withFake(mode: string) {
  const log = path.join(dir, `log-${++runs}`);
  process.env['FAKE_PASST_MODE'] = mode;
  process.env['FAKE_PASST_LOG'] = log;
  const started = () => readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { pid: number; args: string[] });
  return { log, started };
}


describe('the passt supervisor (fake passt)', () => {
  it('starts passt in the foreground on a socket pair (fd 3), with the forwards; frames go through in QEMU framing', { timeout: 20_000 }, async () => {
    const { started } = withFake('echo');
    const backend = await startPasst({ command: fake, forwards: [parseHostForward('tcp::18431-:80'), parseHostForward('udp:127.0.0.1:18432-:53')] });
    const [{ pid, args }] = started() as [{ pid: number; args: string[] }];
    expect(backend.pid).toBe(pid);
    expect(args).toEqual(['-f', '-q', '-F', '3', '-t', '18431:80', '-u', '127.0.0.1/18432:53']);
    // The fake echoes the stream: a frame sent comes back whole only if the framing is right.
    const frame = Uint8Array.from({ length: 1514 }, (_, i) => i & 0xff);
    const back = new Promise<Uint8Array>((resolve) => backend.attach({ receive: resolve }));
    backend.send(frame);
    expect(Buffer.from(await back)).toEqual(Buffer.from(frame));
    backend.close();
    const exit = await backend.exited;
    // SIGTERM, or its own exit when it saw our end close first.
    expect(exit.signal === 'SIGTERM' || exit.code === 0, JSON.stringify(exit)).toBe(true);
    expect(processAlive(pid)).toBe(false);
  });

  it('passes dns= resolvers as -D, after the forwards', { timeout: 20_000 }, async () => {
    const { started } = withFake('echo');
    const backend = await startPasst({ command: fake, forwards: [parseHostForward('udp::18433-:53')], dns: ['192.0.2.1', '198.51.100.7'] });
    try {
      expect(started()[0]!.args).toEqual(['-f', '-q', '-F', '3', '-u', '18433:53', '-D', '192.0.2.1', '-D', '198.51.100.7']);
    } finally {
      backend.close();
      await backend.exited;
    }
  });
  it('kills a passt that ignores SIGTERM after the grace period', { timeout: 20_000 }, async () => {
    const { started } = withFake('ignore-term');
    const backend = await startPasst({ command: fake, graceMs: 300 });
    const t0 = Date.now();
    backend.close();
    expect(await backend.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(processAlive(started()[0]!.pid)).toBe(false);
  });

  it('reports what passt said when it exits at start (without the syslog noise)', { timeout: 20_000 }, async () => {
    withFake('fail');
    const e = await startPasst({ command: fake, startWindowMs: 5000 }).catch((x: Error) => x);
    expect(String(e)).toMatch(/--net user: passt exited with status 3 at start:\nCouldn't set up network namespace$/);
  });

  it('tells onError when passt exits during the run', { timeout: 20_000 }, async () => {
    withFake('quit-later');
    const errors: string[] = [];
    const backend = await startPasst({ command: fake, startWindowMs: 50, onError: (m) => errors.push(m) });
    expect(await backend.exited).toEqual({ code: 4, signal: null });
    expect(errors.join('\n')).toMatch(/--net user: passt exited with status 4; the NIC is cut off/);
    backend.close();
  });

  it('says how to install passt when it is not there', async () => {
    expect(findOnPath('passt', path.join(dir, 'nowhere'))).toBeUndefined();
    const old = process.env['TYPERVISOR_PASST'];
    delete process.env['TYPERVISOR_PASST'];
    try {
      await expect(startPasst({ searchPath: path.join(dir, 'nowhere') })).rejects.toMatchObject({ message: '--net user needs passt, which is not installed', hint: expect.stringMatching(/apt-get install passt/) });
      await expect(startPasst({ command: path.join(dir, 'no-such-passt') })).rejects.toMatchObject({ message: expect.stringMatching(/cannot start .*no-such-passt: not found/), hint: expect.stringMatching(/apt-get install passt/) });
    } finally {
      if (old !== undefined) process.env['TYPERVISOR_PASST'] = old;
    }
  });

  it('refuses a forward whose host port is taken, before starting anything', async () => {
    const { log } = withFake('echo');
    const server: Server = createServer();
    await new Promise<void>((r) => server.listen({ port: 0, host: '127.0.0.1' }, r));
    const port = (server.address() as { port: number }).port;
    try {
      await expect(startPasst({ command: fake, forwards: [parseHostForward(`tcp::${port}-:80`)] })).rejects.toThrow(new RegExp(`hostfwd=tcp::${port}-:80: host tcp port ${port} is already in use`));
      expect(existsSync(log)).toBe(false);
    } finally {
      server.close();
    }
  });
});

const passt = findOnPath('passt', `${process.env['PATH']}:/usr/bin`);
describe.skipIf(!passt)("Debian's passt", () => {
  it('starts, accepts our connection, binds the forwarded port, and is gone after close()', { timeout: 30_000 }, async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen({ port: 0, host: '127.0.0.1' }, r));
    const port = (probe.address() as { port: number }).port;
    await new Promise((r) => probe.close(r));
    const backend = await startPasst({ command: passt!, forwards: [parseHostForward(`tcp::${port}-:80`)] });
    const pid = backend.pid!;
    expect(processAlive(pid)).toBe(true);
    // passt owns the host port now: binding it again fails.
    const again = createServer();
    const err = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      again.once('error', resolve);
      again.listen({ port, host: '127.0.0.1' }, () => again.close(() => resolve(undefined)));
    });
    expect(err?.code).toBe('EADDRINUSE');
    backend.close();
    const exit = await backend.exited;
    expect(exit.code === 0 || exit.signal === 'SIGTERM').toBe(true);
    expect(processAlive(pid)).toBe(false);
  });
});
