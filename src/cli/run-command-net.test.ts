import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FakeHart } from '../../tests/helpers/fake-hart.js';
import { makeElf } from '../../tests/helpers/elf-image.js';
import { RunExit } from '../cpu/hart-api.js';
import { main } from './main.js';
import { runCliWithFakeHart } from '../../tests/helpers/cli-with-fake-hart.js';
import { processAlive } from '../host/process-alive.js';

const dir = mkdtempSync(join(tmpdir(), 'typervisor-run-net-'));
const kernel = join(dir, 'prog.elf');
writeFileSync(kernel, makeElf({ entry: 0x8000_0000, segments: [{ paddr: 0x8000_0000, data: Uint8Array.of(0x13, 0, 0, 0) }] }));

/** Status and standard error of a run (these tests print nothing on standard output). */
const cli = (argv: string[], script?: Parameters<typeof runCliWithFakeHart>[1]) => runCliWithFakeHart(argv, script).then(({ status, stderr }) => ({ status, stderr }));

describe('typervisor run --net', () => {
  it('attaches NICs as virtio-net (device 1) in slots after the others, each with its MAC in the config space; removes a listening socket on exit', async () => {
    const a = join(dir, 'a.sock');
    const b = join(dir, 'b.sock');
    const seen: number[][] = [];
    const r = await cli(['run', '--bios', 'none', '--kernel', kernel, '--device', 'virtio-rng', '--net', `socket:listen:${a}`, '--net', `socket:listen:${b},mac=02:00:00:00:00:07`], (h) => {
      for (const slot of [0x1000_7000, 0x1000_6000]) seen.push([Number(h.load(slot + 8, 4)), ...Array.from({ length: 6 }, (_, i) => Number(h.load(slot + 0x100 + i, 1)))]);
      expect(existsSync(a)).toBe(true);
      h.store(0x10_0000, 4, 0x5555);
      return RunExit.Budget;
    });
    expect(r).toEqual({ status: 0, stderr: '' });
    expect(seen).toEqual([
      [1, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56],
      [1, 0x02, 0, 0, 0, 0, 0x07],
    ]);
    expect(existsSync(a) || existsSync(b)).toBe(false);
  });

  it('says when nothing listens, and refuses bad specs before opening anything', async () => {
    const none = join(dir, 'none.sock');
    const r = await cli(['run', '--bios', 'none', '--kernel', kernel, '--net', `socket:${none}`]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^typervisor: --net socket:${none}: nothing listens at ${none} \\(no such socket\\)\\nhint: start the peer first`));
    const dup = await cli(['run', '--bios', 'none', '--kernel', kernel, '--net', `socket:listen:${join(dir, 'x')}`, '--net', `socket:${none},mac=52:54:00:12:34:56`]);
    expect(dup.stderr).toMatch(/have the same MAC 52:54:00:12:34:56/);
    expect(existsSync(join(dir, 'x'))).toBe(false);
    const dns = await cli(['run', '--bios', 'none', '--kernel', kernel, '--net', 'user,dns=127.0.0.1']);
    expect(dns.status).toBe(1);
    expect(dns.stderr).toMatch(/^typervisor: --net user,dns=127\.0\.0\.1: dns=127\.0\.0\.1: 127\.0\.0\.1 is a loopback address, which in the guest is the guest itself\nhint: for a resolver on the host's 127\.0\.0\.1:53, give the gateway address/);
  });

  it('--net user starts passt (fake: TYPERVISOR_PASST) for the run and has stopped it when run returns', async () => {
    const log = join(dir, 'passt.log');
    const fake = join(dir, 'fake-passt.mjs');
    // Logs its pid and argv, echoes fd 3, exits when typervisor's end closes (as passt does).
    writeFileSync(fake, `#!${process.execPath}
import { appendFileSync } from 'node:fs';
import { Socket } from 'node:net';
appendFileSync(${JSON.stringify(log)}, JSON.stringify([process.pid, ...process.argv.slice(2)]) + '\\n');
const s = new Socket({ fd: 3 });
s.pipe(s);
s.on('close', () => process.exit(0));
setInterval(() => {}, 1000);
`);
    chmodSync(fake, 0o755);
    const old = process.env['TYPERVISOR_PASST'];
    process.env['TYPERVISOR_PASST'] = fake;
    let during: boolean | undefined;
    try {
      const r = await cli(['run', '--bios', 'none', '--kernel', kernel, '--net', 'user,hostfwd=udp::15353-:53,dns=192.0.2.1'], (h: FakeHart) => {
        // A loaded machine may start node (the fake) slowly: come back on the next slice.
        if (!existsSync(log) || !readFileSync(log, 'utf8').endsWith('\n')) return RunExit.Budget;
        const [pid] = JSON.parse(readFileSync(log, 'utf8')) as [number];
        during = processAlive(pid);
        h.store(0x10_0000, 4, 0x5555);
        return RunExit.Budget;
      });
      expect(r).toEqual({ status: 0, stderr: '' });
    } finally {
      if (old === undefined) delete process.env['TYPERVISOR_PASST'];
      else process.env['TYPERVISOR_PASST'] = old;
    }
    const [pid, ...args] = JSON.parse(readFileSync(log, 'utf8')) as [number, ...string[]];
    expect(args).toEqual(['-f', '-q', '-F', '3', '-u', '15353:53', '-D', '192.0.2.1']);
    expect(during).toBe(true);
    expect(processAlive(pid)).toBe(false);
  });
});
