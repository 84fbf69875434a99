import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FakeHart } from '../../tests/helpers/fake-hart.js';
import { makeElf } from '../../tests/helpers/elf-image.js';
import { RunExit } from '../cpu/hart-api.js';
import { DEVICE_TYPES } from '../vmm/machine-config.js';
import { main } from './main.js';
import { runCliWithFakeHart } from '../../tests/helpers/cli-with-fake-hart.js';

const dir = mkdtempSync(join(tmpdir(), 'typervisor-cli-'));
const kernel = join(dir, 'prog.elf');
writeFileSync(kernel, makeElf({ entry: 0x8000_0000, segments: [{ paddr: 0x8000_0000, data: Uint8Array.of(0x13, 0, 0, 0) }] }));

const cli = runCliWithFakeHart;

describe('typervisor CLI', () => {
  it('runs a kernel and exits with the finisher code', async () => {
    const r = await cli(['run', '--bios', 'none', '--kernel', kernel], (h) => {
      h.print('hello\n');
      h.store(0x10_0000, 4, (7 << 16) | 0x3333);
      return RunExit.Budget;
    });
    expect(r).toEqual({ status: 7, stdout: 'hello\n', stderr: '' });
  });

  it('exits 0 on pass and keeps the low 8 bits of a fail code, like QEMU', async () => {
    expect((await cli(['run', '--bios', 'none', '--kernel', kernel, '--mem', '64M'], (h) => (h.store(0x10_0000, 4, 0x5555), RunExit.Budget))).status).toBe(0);
    expect((await cli(['run', '--bios', 'none', '--kernel', kernel], (h) => (h.store(0x10_0000, 4, (0x1ff << 16) | 0x3333), RunExit.Budget))).status).toBe(0xff);
  });

  it('forwards piped stdin to the guest UART', async () => {
    let got = '';
    const r = await cli(
      ['run', '--bios', 'none', '--kernel', kernel],
      (h) => {
        while ((h.load(0x1000_0005, 1) as number) & 1) got += String.fromCharCode(h.load(0x1000_0000, 1) as number);
        if (got.endsWith('\n')) h.store(0x10_0000, 4, 0x5555);
        return RunExit.WaitForInterrupt;
      },
      'hi\x01x\n', // not a terminal: Ctrl-A is forwarded, not an escape
    );
    expect(r.status).toBe(0);
    expect(got).toBe('hi\x01x\n');
  });

  it.each([
    [['run', '--kernel', kernel, '--frobnicate'], /unknown option '--frobnicate'/],
    [['jump'], /unknown command 'jump'/],
  ])('reports usage errors with status 2: %j', async (argv, message) => {
    const r = await cli(argv);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/^typervisor: /);
    expect(r.stderr).toMatch(/hint: see 'typervisor/);
  });

  it.each([
    [['run', '--bios', 'none'], /--bios none needs a --kernel/],
    [['run', '--bios', 'opensbi', '--kernel', kernel], /cannot read firmware 'opensbi': no such file/],
    [['run', '--kernel', kernel, '--', 'ls'], /a command after -- runs only in the default guest/],
    [['run', '--bios', 'none', '--kernel', kernel, '--initrd', join(dir, 'missing.cpio')], /cannot read initrd '.*missing\.cpio': no such file/],
    [['run', '--bios', 'none', '--kernel', kernel, '--mem', '8M'], /below the minimum of 16 MiB/],
    [['run', '--bios', 'none', '--kernel', kernel, '--mem', '4G'], /above the maximum of 3\.5 GiB: .*wasm32/],
    [['run', '--bios', 'none', '--kernel', kernel, '--mem', 'big'], /cannot read memory size 'big'/],
    [['run', '--bios', 'none', '--kernel', join(dir, 'missing.elf')], /cannot read kernel '.*missing\.elf': no such file/],
    [['run', '--bios', 'none', '--kernel', dir], /is a directory/],
  ])('reports user errors with status 1 and a hint, no stack: %j', async (argv, message) => {
    const r = await cli(argv);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/\nhint: /);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('adds a virtio-console for --console hvc0, whose output reaches stdout like the UART\'s', async () => {
    const seen: number[] = [];
    const r = await cli(['run', '--bios', 'none', '--kernel', kernel, '--console', 'hvc0'], (h) => {
      seen.push(Number(h.load(0x1000_8008, 4))); // DeviceID of slot 7
      h.print('uart ');
      h.store(0x1000_8000 + 0x100 + 8, 4, 0x68); // emerg_wr (virtio 1.2 §5.3.4)
      h.store(0x1000_8000 + 0x100 + 8, 4, 0x69);
      h.store(0x10_0000, 4, 0x5555);
      return RunExit.Budget;
    });
    expect(r).toEqual({ status: 0, stdout: 'uart hi', stderr: '' });
    expect(seen).toEqual([3]);
    expect((await cli(['run', '--bios', 'none', '--kernel', kernel, '--console', 'ttyS1'])).stderr).toMatch(/argument 'ttyS1' is invalid.*ttyS0, hvc0/);
  });

  it('adds a virtio-balloon whose num_pages is the --balloon size, and refuses one as big as RAM', async () => {
    const seen: number[] = [];
    const r = await cli(['run', '--bios', 'none', '--kernel', kernel, '--balloon', '16M'], (h) => {
      seen.push(Number(h.load(0x1000_8008, 4)), Number(h.load(0x1000_8100, 4)));
      h.store(0x10_0000, 4, 0x5555);
      return RunExit.Budget;
    });
    expect(r).toEqual({ status: 0, stdout: '', stderr: '' });
    expect(seen).toEqual([5, 4096]);
    const big = await cli(['run', '--bios', 'none', '--kernel', kernel, '--mem', '64M', '--balloon', '64M']);
    expect(big.status).toBe(1);
    expect(big.stderr).toMatch(/--balloon 64M is not less than the guest's RAM \(64 MiB\)\nhint: give --balloon a size below --mem/);
  });

  it('attaches --device virtio-rng at virtio-mmio slot 7, as QEMU does', async () => {
    const seen: number[] = [];
    const r = await cli(['run', '--bios', 'none', '--kernel', kernel, '--device', 'virtio-rng'], (h) => {
      // slot 7: MagicValue, Version, DeviceID; slot 6 has no device behind it.
      for (const off of [0, 4, 8]) seen.push(Number(h.load(0x1000_8000 + off, 4)));
      seen.push(h.load(0x1000_7000, 4) === undefined ? -1 : 0);
      h.store(0x10_0000, 4, 0x5555);
      return RunExit.Budget;
    });
    expect(r).toEqual({ status: 0, stdout: '', stderr: '' });
    expect(seen).toEqual([0x74726976, 2, 4, -1]);
  });

  it('refuses an unknown --device, listing the known ones', async () => {
    const r = await cli(['run', '--bios', 'none', '--kernel', kernel, '--device', 'virtio-gpu']);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`typervisor: unknown device 'virtio-gpu'\nhint: known devices: ${DEVICE_TYPES.join(', ')}\n`);
  });

  it('lists the virtio devices in the device tree (dtb --device)', async () => {
    const r = await cli(['dtb', '--bios', 'none', '--kernel', kernel, '--device', 'virtio-rng', '--device', 'virtio-rng']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('virtio_mmio@10008000');
    expect(r.stdout).toContain('virtio_mmio@10007000');
    expect(r.stdout).not.toContain('virtio_mmio@10006000');
  });

  it('dtb takes --disk like run: the disk gets a slot, a missing image is an error', async () => {
    const disk = join(dir, 'dtb-disk.raw');
    writeFileSync(disk, new Uint8Array(1 << 20));
    const r = await cli(['dtb', '--bios', 'none', '--kernel', kernel, '--device', 'virtio-rng', '--disk', `${disk},format=raw`]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('virtio_mmio@10008000');
    expect(r.stdout).toContain('virtio_mmio@10007000');
    const missing = await cli(['dtb', '--bios', 'none', '--kernel', kernel, '--disk', join(dir, 'no-such.qcow2')]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('no-such.qcow2');
  });

  it('dtb takes --share and --net like run: each gets a slot, and the backend is closed again', async () => {
    const sock = join(dir, 'dtb-net.sock');
    const r = await cli(['dtb', '--bios', 'none', '--kernel', kernel, '--share', dir, '--net', `socket:listen:${sock}`]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('virtio_mmio@10008000');
    expect(r.stdout).toContain('virtio_mmio@10007000');
    expect(r.stdout).not.toContain('virtio_mmio@10006000');
    expect(existsSync(sock)).toBe(false); // the listener was closed and its socket removed
    const bad = await cli(['dtb', '--bios', 'none', '--kernel', kernel, '--net', 'socket']);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('--net socket');
  });

  it('reports a bad ELF precisely', async () => {
    const bad = join(dir, 'bad.elf');
    writeFileSync(bad, makeElf({ entry: 0x8000_0000, segments: [{ paddr: 0x9000_0000, data: Uint8Array.of(1) }] }));
    const r = await cli(['run', '--bios', 'none', '--kernel', bad]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(
      `typervisor: ${bad}: segment 0 (paddr 0x90000000, 0x1 bytes) lies outside RAM 0x80000000–0x87ffffff\n` +
        'hint: give the machine more RAM (--mem)\n',
    );
  });

  it('reports internal errors without a stack trace', async () => {
    const r = await cli(['run', '--bios', 'none', '--kernel', kernel], () => {
      throw new Error('boom');
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^typervisor: internal error: boom\nhint: this is a bug/);
  });

  it('shows help as a usage error when no command is given', async () => {
    const r = await cli([]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/Usage: typervisor/);
  });

  it('prints help to stdout with status 0', async () => {
    const r = await cli(['run', '--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/--kernel <path>/);
    expect(r.stdout).toMatch(/--mem <size>/);
  });
});
